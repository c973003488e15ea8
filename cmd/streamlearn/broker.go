package main

import (
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/streamlearn/streamlearn/internal/config"
	"github.com/streamlearn/streamlearn/internal/kafkaclient"
)

// brokerCommand runs the embedded Kafka-protocol broker alone, for development, the demo and small
// deployments (compose): one node, no replication; production uses Kafka or Redpanda.
func brokerCommand() *cobra.Command {
	var (
		cfgFile string
		o       kafkaclient.BrokerOptions
	)
	cmd := &cobra.Command{
		Use:   "broker",
		Short: "Run the embedded Kafka-protocol broker alone (one node; development, demo, compose)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg := config.DefaultConfig()
			if cfgFile != "" {
				var err error
				if cfg, err = config.Load(cfgFile); err != nil {
					return err
				}
			}
			if !cmd.Flags().Changed("partitions") {
				o.Partitions = cfg.Kafka.Partitions
			}
			if o.Partitions < 1 || o.Partitions > 1024 {
				return fmt.Errorf("--partitions: %d must be in 1..1024", o.Partitions)
			}
			o.Topics = cfg.Kafka.Topics.All()
			return runBroker(cmd, o)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&o.Listen, "listen", "127.0.0.1:9092", "HOST:PORT to listen on (0.0.0.0:9092 for every interface)")
	fs.StringVar(&o.Advertise, "advertise", "", "HOST:PORT clients are told to dial (default: the listen address; 127.0.0.1 for 0.0.0.0)")
	fs.StringVar(&o.DataDir, "data-dir", "", "keep the log and consumer-group state in this directory across restarts (default: in memory)")
	fs.Int32Var(&o.Partitions, "partitions", 4, "partitions of the topics it creates (default: kafka.partitions of --config, else 4)")
	fs.StringVar(&cfgFile, "config", "", "streamlearn config file whose kafka.topics and kafka.partitions to create")
	return cmd
}

// runBroker serves until the command's context ends (SIGTERM, Ctrl-C), then closes the broker,
// which writes its state to the data dir, and returns nil.
func runBroker(cmd *cobra.Command, o kafkaclient.BrokerOptions) error {
	log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
	b, err := kafkaclient.StartBroker(o)
	if err != nil {
		return err
	}
	log.Info("broker listening", "listen", o.Listen, "advertised", b.Addr(), "data_dir", o.DataDir,
		"partitions", o.Partitions, "topics", o.Topics)
	<-cmd.Context().Done()
	log.Info("broker stopping")
	b.Close()
	log.Info("broker stopped")
	return nil
}
