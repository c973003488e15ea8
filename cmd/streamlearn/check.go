package main

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/streamlearn/streamlearn/internal/config"
)

// checkRoles are the commands whose config and flags `check` validates.
var checkRoles = []string{"serve", "ingest", "predictor", "learner", "drift"}

// checkCommand validates a config file and the serve flags without connecting to anything: the
// same reading and validation a role does at start, so that a deploy can be checked before it runs.
func checkCommand() *cobra.Command {
	var f connFlags
	cmd := &cobra.Command{
		Use:   "check [ROLE] [--config FILE] [flags]",
		Short: "Validate a config file and flags without connecting (exit 0 when valid; errors name the field)",
		Long: "Validate a config file and the flags of serve (or of ROLE: " + strings.Join(checkRoles, ", ") +
			") without connecting to Kafka, Redis or ClickHouse. A deployed command line is checked by\n" +
			"putting `check` in front of it: `streamlearn check ingest --config /etc/streamlearn.yaml --kafka k:9092`.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			role := "serve"
			if len(args) == 1 {
				role = args[0]
			}
			if !slices.Contains(checkRoles, role) {
				return fmt.Errorf("check: role %q is not one of %s", role, strings.Join(checkRoles, ", "))
			}
			cfg, err := f.load()
			if err != nil {
				return fmt.Errorf("check %s: config is invalid:\n%w", role, err)
			}
			printCheck(cmd.OutOrStdout(), role, cfg)
			return nil
		},
	}
	f.register(cmd.Flags())
	return cmd
}

// printCheck says what a valid config resolves to, so that an operator sees the addresses in use.
func printCheck(w io.Writer, role string, cfg config.Config) {
	kafka := strings.Join(cfg.Kafka.Brokers, ",")
	if cfg.Kafka.Embedded != "" {
		kafka = "embedded " + cfg.Kafka.Embedded
	}
	redis := cfg.Redis.Addr
	if len(cfg.Redis.Addrs) > 0 {
		redis = "cluster " + strings.Join(cfg.Redis.Addrs, ",")
	}
	ch := strings.Join(cfg.ClickHouse.Addr, ",")
	if cfg.ClickHouse.Cluster != "" {
		ch = fmt.Sprintf("cluster %s via %s", cfg.ClickHouse.Cluster, ch)
		if cfg.ClickHouse.Replicated {
			ch = "replicated " + ch
		}
	}
	models := make([]string, 0, 1+len(cfg.Challengers))
	for _, m := range cfg.Models() {
		models = append(models, m.Name)
	}
	fmt.Fprintf(w, "ok: %s config is valid\n  kafka: %s (group %s)\n  redis: %s\n  clickhouse: %s (database %s)\n  http: %s\n  models: %s\n",
		role, kafka, cfg.Kafka.Group, redis, ch, cfg.ClickHouse.Database, cfg.HTTP.Addr, strings.Join(models, ", "))
}
