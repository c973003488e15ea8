package main

import (
	"fmt"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/streamlearn/streamlearn/internal/app"
	"github.com/streamlearn/streamlearn/internal/config"
	"github.com/streamlearn/streamlearn/internal/demo"
	"github.com/streamlearn/streamlearn/internal/synth"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// connFlags are the black-box contract's flags; each overrides the config file.
type connFlags struct {
	config, embeddedKafka, kafka, redis, clickhouse, http, logLevel, device string
}

func (f *connFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.config, "config", "", "YAML config file (${ENV} is expanded); defaults apply to everything not set")
	fs.StringVar(&f.embeddedKafka, "embedded-kafka", "", "start an embedded Kafka-protocol broker on HOST:PORT and use it")
	fs.StringVar(&f.kafka, "kafka", "", "Kafka seed brokers, comma-separated (default 127.0.0.1:9092)")
	fs.StringVar(&f.redis, "redis", "", "Redis HOST:PORT (default 127.0.0.1:6379)")
	fs.StringVar(&f.clickhouse, "clickhouse", "", "ClickHouse native-protocol HOST:PORT (default 127.0.0.1:9000)")
	fs.StringVar(&f.http, "http", "", "HTTP listen address (default 127.0.0.1:8080)")
	fs.StringVar(&f.logLevel, "log-level", "", "debug, info, warn or error")
	fs.StringVar(&f.device, "device", "", "where the learner trains: auto, cpu or cuda (default auto; see `streamlearn doctor`)")
}

// load reads the config and applies the flags over it.
func (f *connFlags) load() (config.Config, error) {
	cfg := config.DefaultConfig()
	if f.config != "" {
		var err error
		if cfg, err = config.Load(f.config); err != nil {
			return cfg, err
		}
	}
	if f.embeddedKafka != "" {
		cfg.Kafka.Embedded = f.embeddedKafka
	}
	if f.kafka != "" {
		cfg.Kafka.Brokers = strings.Split(f.kafka, ",")
		cfg.Kafka.Embedded = ""
	}
	if f.redis != "" {
		cfg.Redis.Addr, cfg.Redis.Addrs = f.redis, nil
	}
	if f.clickhouse != "" {
		cfg.ClickHouse.Addr = strings.Split(f.clickhouse, ",")
	}
	if f.http != "" {
		cfg.HTTP.Addr = f.http
	}
	if f.logLevel != "" {
		cfg.Log.Level = f.logLevel
	}
	if f.device != "" {
		cfg.Learner.Device = f.device
	}
	return cfg, cfg.Validate()
}

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "streamlearn",
		Short:         "Streaming online learning and monitoring: Kafka in, features in Redis, live scores out, drift in ClickHouse",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		roleCommand("serve", "Run the whole loop in one process: ingest, score, join, learn, correlate, HTTP", app.AllRoles...),
		roleCommand("ingest", "Run stream scoring and the label join only (events and outcomes in, predictions and examples out)", app.RoleScore, app.RoleJoin),
		roleCommand("predictor", "Run the HTTP scoring API only (stateless; scale it out behind a load balancer)", app.RoleHTTP),
		roleCommand("learner", "Run the online learner only (examples in, model versions out)", app.RoleLearn),
		roleCommand("drift", "Run the drift and outcome correlator only (topics in, ClickHouse tables out)", app.RoleCorrelate),
		brokerCommand(),
		checkCommand(),
		modelsCommand(),
		replayCommand(),
		scoreCommand(),
		backfillCommand(),
		demoCommand(),
		doctorCommand(),
		versionCommand(),
	)
	return root
}

func roleCommand(name, short string, roles ...app.Role) *cobra.Command {
	var f connFlags
	cmd := &cobra.Command{
		Use:   name,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.load()
			if err != nil {
				return err
			}
			return app.New(cfg, roles...).Run(cmd.Context())
		},
	}
	f.register(cmd.Flags())
	return cmd
}

func demoCommand() *cobra.Command {
	var (
		f    connFlags
		opts demo.Options
		sc   = synth.DefaultConfig()
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the full loop with a built-in synthetic producer whose data drifts at a known time, with progress on screen",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.embeddedKafka == "" && f.kafka == "" {
				f.embeddedKafka = "127.0.0.1:0"
			}
			cfg, err := f.load()
			if err != nil {
				return err
			}
			if f.http == "" && f.config == "" {
				cfg.HTTP.Addr = "127.0.0.1:0"
			}
			if cfg.Kafka.Embedded != "" && cfg.Kafka.EmbeddedDataDir == "" {
				// A fresh in-memory broker: state in Redis from an earlier demo (offsets, checkpoints)
				// would point into a log that is gone, so each run keeps its own keys.
				cfg.Redis.KeyPrefix = fmt.Sprintf("%sdemo-%d:", cfg.Redis.KeyPrefix, time.Now().Unix())
			}
			if f.logLevel == "" && f.config == "" {
				cfg.Log.Level = "warn" // the progress lines are the demo's output
			}
			// An hour of event time per window: the drift shows up within minutes.
			opts.Synth = sc
			return demo.Run(cmd.Context(), app.New(cfg), opts, cmd.OutOrStdout())
		},
	}
	f.register(cmd.Flags())
	cmd.Flags().IntVar(&opts.Rate, "rate", 2000, "events per second")
	cmd.Flags().DurationVar(&opts.Duration, "duration", 0, "stop after this long (default: until Ctrl-C)")
	cmd.Flags().IntVar(&opts.BadEvery, "bad-every", 1000, "send a malformed record every N events (0: never)")
	cmd.Flags().IntVar(&sc.DriftAt, "drift-at", sc.DriftAt, "index of the first event after the change point")
	cmd.Flags().Uint64Var(&sc.Seed, "seed", sc.Seed, "random seed of the synthetic stream")
	cmd.Flags().DurationVar(&sc.Step, "step", sc.Step, "event time between consecutive events")
	return cmd
}

func versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			v := version
			if bi, ok := debug.ReadBuildInfo(); ok && v == "dev" {
				for _, s := range bi.Settings {
					if s.Key == "vcs.revision" {
						v += "+" + s.Value[:min(12, len(s.Value))]
					}
				}
				fmt.Fprintf(cmd.OutOrStdout(), "streamlearn %s (%s)\n", v, bi.GoVersion)
				return
			}
			fmt.Fprintf(cmd.OutOrStdout(), "streamlearn %s\n", v)
		},
	}
}
