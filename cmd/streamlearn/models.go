package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamlearn/streamlearn/internal/app"
	"github.com/streamlearn/streamlearn/internal/config"
	"github.com/streamlearn/streamlearn/learner"
	"github.com/streamlearn/streamlearn/learner/registry"
	"github.com/streamlearn/streamlearn/sinks/kafkasink"
	"github.com/streamlearn/streamlearn/wire"
)

// modelsCommand is the registry's command line: list, show, versions, snapshot, promote, rollback, unpin.
func modelsCommand() *cobra.Command {
	var f connFlags
	cmd := &cobra.Command{Use: "models", Short: "List, show, snapshot, promote, roll back and unpin model versions in the registry"}
	f.register(cmd.PersistentFlags())
	withRegistry := func(run registryRun) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, args []string) error {
			cfg, err := f.load()
			if err != nil {
				return err
			}
			rdb, err := app.RedisClient(cfg.Redis)
			if err != nil {
				return err
			}
			defer rdb.Close()
			return run(cmd.Context(), cfg, registry.NewRegistry(rdb, cfg.Redis.KeyPrefix), cmd.OutOrStdout(), args)
		}
	}
	var (
		reason string
		pin    bool
	)
	list := &cobra.Command{Use: "list", Short: "Models with their champion and live (latest) version", Args: cobra.NoArgs,
		RunE: withRegistry(func(ctx context.Context, _ config.Config, reg learner.Registry, w io.Writer, _ []string) error {
			names, err := reg.Models(ctx)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "MODEL\tCHAMPION\tPINNED\tLATEST\tEXAMPLES\tAUC\tLOGLOSS\tCREATED")
			for _, n := range names {
				champ, err := reg.Champion(ctx, n)
				if err != nil {
					return err
				}
				pinned, _ := reg.Pinned(ctx, n)
				l, err := reg.Live(ctx, n) // the newest version, else the newest snapshot
				if err != nil {
					vs, lerr := reg.List(ctx, n)
					if lerr != nil || len(vs) == 0 {
						continue
					}
					l = vs[0]
				}
				fmt.Fprintf(tw, "%s\t%d\t%v\t%d\t%d\t%.4f\t%.4f\t%s\n", n, champ, pinned, l.Version, l.Examples, l.Metrics.AUC, l.Metrics.LogLoss, l.CreatedAt.Format(time.RFC3339))
			}
			return tw.Flush()
		})}
	show := &cobra.Command{Use: "show MODEL [VERSION|TAG|TIME]", Short: "A version's lineage, spec, metrics and report (default: the champion) and the champion history", Args: cobra.RangeArgs(1, 2),
		RunE: withRegistry(func(ctx context.Context, _ config.Config, reg learner.Registry, w io.Writer, args []string) error {
			model := args[0]
			version, err := reg.Champion(ctx, model)
			if err != nil {
				return err
			}
			if len(args) == 2 {
				if version, err = reg.Resolve(ctx, model, args[1]); err != nil {
					return err
				}
			}
			v, err := reg.Get(ctx, model, version)
			if err != nil {
				return err
			}
			hist, err := reg.History(ctx, model)
			if err != nil {
				return err
			}
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			return enc.Encode(map[string]any{"version": v, "champion_history": hist})
		})}
	promote := &cobra.Command{Use: "promote MODEL VERSION", Short: "Make VERSION the champion (--pin keeps it until the next manual promotion)", Args: cobra.ExactArgs(2),
		RunE: withRegistry(func(ctx context.Context, cfg config.Config, reg learner.Registry, w io.Writer, args []string) error {
			version, err := strconv.ParseInt(args[1], 10, 64)
			if err != nil {
				return fmt.Errorf("version %q: %w", args[1], err)
			}
			prev, err := reg.Promote(ctx, args[0], version, reason, true, pin)
			if err != nil {
				return err
			}
			announce(ctx, cfg, w, args[0], version, wire.EventPromoted)
			fmt.Fprintf(w, "%s: champion %d -> %d (pinned: %v)\n", args[0], prev, version, pin)
			return nil
		})}
	promote.Flags().StringVar(&reason, "reason", "manual promotion", "why, recorded in the champion history")
	promote.Flags().BoolVar(&pin, "pin", true, "pause automatic promotion of newer versions")
	cmd.AddCommand(list, show, promote)
	cmd.AddCommand(snapshotCommands(withRegistry)...)
	cmd.AddCommand(exportCommands(withRegistry)...)
	return cmd
}

// snapshotCommands are `models rollback`, `unpin`, `snapshot` and `versions`.
func snapshotCommands(withRegistry func(registryRun) func(*cobra.Command, []string) error) []*cobra.Command {
	var to, by, tag, reason string
	rollback := &cobra.Command{Use: "rollback MODEL", Short: "Serve a retained snapshot again, pinned (--to VERSION|TAG|TIME; default the one before the champion)", Args: cobra.ExactArgs(1),
		RunE: withRegistry(func(ctx context.Context, cfg config.Config, reg learner.Registry, w io.Writer, args []string) error {
			var target int64
			if to != "" {
				var err error
				if target, err = reg.Resolve(ctx, args[0], to); err != nil {
					return err
				}
			}
			ch, err := reg.Rollback(ctx, args[0], target, reason, by)
			if err != nil {
				return err
			}
			announce(ctx, cfg, w, args[0], ch.Version, wire.EventRollback)
			fmt.Fprintf(w, "%s: champion %d -> %d (pinned until a promote or unpin)\n", args[0], ch.Previous, ch.Version)
			return nil
		})}
	rollback.Flags().StringVar(&reason, "reason", "", "why, recorded in the champion history")
	rollback.Flags().StringVar(&to, "to", "", "a version number, a tag or an RFC 3339 time (the newest snapshot at or before it)")
	unpin := &cobra.Command{Use: "unpin MODEL", Short: "End a pin: the model follows its live (freshly learned) version again", Args: cobra.ExactArgs(1),
		RunE: withRegistry(func(ctx context.Context, cfg config.Config, reg learner.Registry, w io.Writer, args []string) error {
			ch, err := reg.Unpin(ctx, args[0], reason, by)
			if err != nil {
				return err
			}
			announce(ctx, cfg, w, args[0], ch.Version, wire.EventPromoted)
			fmt.Fprintf(w, "%s: champion %d -> %d (following the live version)\n", args[0], ch.Previous, ch.Version)
			return nil
		})}
	unpin.Flags().StringVar(&reason, "reason", "", "why, recorded in the champion history")
	snapshot := &cobra.Command{Use: "snapshot MODEL", Short: "Retain the model's live version as a snapshot (--tag keeps it for ever)", Args: cobra.ExactArgs(1),
		RunE: withRegistry(func(ctx context.Context, _ config.Config, reg learner.Registry, w io.Writer, args []string) error {
			v, err := reg.TakeSnapshot(ctx, args[0], learner.SnapshotRequest{Tag: tag, Reason: reason, By: by})
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "%s: snapshot of version %d (%d examples) tags %v\n", args[0], v.Version, v.Examples, v.Tags)
			return nil
		})}
	snapshot.Flags().StringVar(&tag, "tag", "", "a name for the snapshot (letters, digits, . _ -); tagged snapshots are never pruned")
	snapshot.Flags().StringVar(&reason, "reason", "", "why, recorded as the snapshot's note")
	versions := &cobra.Command{Use: "versions MODEL", Short: "The retained snapshots, newest first, and the live version", Args: cobra.ExactArgs(1),
		RunE: withRegistry(func(ctx context.Context, _ config.Config, reg learner.Registry, w io.Writer, args []string) error {
			return printVersions(ctx, reg, w, args[0])
		})}
	for _, c := range []*cobra.Command{rollback, unpin, snapshot} {
		c.Flags().StringVar(&by, "by", defaultBy(), "who, recorded in the history")
	}
	return []*cobra.Command{rollback, unpin, snapshot, versions}
}

// defaultBy is the user and host running the command.
func defaultBy() string {
	u := os.Getenv("USER")
	if h, err := os.Hostname(); err == nil {
		return u + "@" + h
	}
	return u
}

// printVersions prints the live version and the retained snapshots as a table.
func printVersions(ctx context.Context, reg learner.Registry, w io.Writer, model string) error {
	vs, err := reg.List(ctx, model)
	if err != nil {
		return err
	}
	champ, err := reg.Champion(ctx, model)
	if err != nil {
		return err
	}
	if live, err := reg.Live(ctx, model); err == nil && (len(vs) == 0 || vs[0].Version != live.Version) {
		vs = append([]learner.Version{live}, vs...)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tKIND\tTAGS\tCHAMPION\tEXAMPLES\tAUC\tHELD-OUT AUC\tCREATED\tNOTE")
	for _, v := range vs {
		kind, held := v.Kind, "-"
		if kind == "" {
			kind = "live"
		}
		if v.Report != nil && v.Report.HeldOut != nil {
			held = fmt.Sprintf("%.4f", v.Report.HeldOut.AUC)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%v\t%d\t%.4f\t%s\t%s\t%s\n", v.Version, kind, strings.Join(v.Tags, ","), v.Version == champ,
			v.Examples, v.Metrics.AUC, held, v.CreatedAt.Format(time.RFC3339), v.Note)
	}
	return tw.Flush()
}

// announce tells predictors on the models topic; they also poll the registry, so a broker that
// cannot be reached only delays the swap.
func announce(ctx context.Context, cfg config.Config, w io.Writer, model string, version int64, event string) {
	opts, err := cfg.Kafka.ClientOpts()
	if err == nil && cfg.Kafka.Embedded == "" {
		var cl *kgo.Client
		if cl, err = kgo.NewClient(opts...); err == nil {
			defer cl.Close()
			actx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			a := wire.Announcement{Model: model, Version: version, Event: event, Time: time.Now().UTC()}
			err = kafkasink.Announce(actx, cl, cfg.Kafka.Topics.Models, a)
		}
	}
	if err != nil || cfg.Kafka.Embedded != "" {
		fmt.Fprintf(w, "(not announced on Kafka; predictors pick the change up from the registry within seconds)\n")
	}
}
