package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/streamlearn/streamlearn/internal/replay"
)

func replayCommand() *cobra.Command {
	var (
		f    connFlags
		opts replay.Options
	)
	cmd := &cobra.Command{
		Use:   "replay --csv FILE --label COL",
		Short: "Publish a CSV file as events and outcomes to a running streamlearn and report the live AUC and logloss",
		Long: `replay publishes every row of a CSV file as an event (every column but the label, time, entity and
id columns becomes a field: numbers as numbers, the rest as strings) and, OUTCOME-LAG rows later, its
outcome. When all events are scored it reads their predictions and prints the AUC and logloss of
those live scores: every event was scored before its label was published (progressive validation).
A streamlearn serving the same Kafka topics must be running.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.load()
			if err != nil {
				return err
			}
			if cfg.Kafka.Embedded != "" {
				return fmt.Errorf("replay publishes to a running streamlearn: use --kafka with its broker address, not --embedded-kafka")
			}
			opts.Progress = os.Stderr
			res, err := replay.Run(cmd.Context(), cfg.Kafka, opts)
			if res.Events > 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "\nevents %d, predictions %d, in %s\nprogressive AUC %.4f, logloss %.4f\n",
					res.Events, res.Predictions, res.Elapsed.Truncate(time.Millisecond), res.AUC, res.LogLoss)
			}
			return err
		},
	}
	f.register(cmd.Flags())
	fl := cmd.Flags()
	fl.StringVar(&opts.CSV, "csv", "", "the CSV file (with a header row)")
	fl.StringVar(&opts.Label, "label", "", "the label column")
	fl.StringVar(&opts.Positive, "positive", "", "the label value that means 1 (others mean 0); default: the label is a number")
	fl.StringVar(&opts.Time, "time", "", "the event-time column (RFC 3339 or unix ms); default: now")
	fl.StringVar(&opts.Entity, "entity", "", "the entity column")
	fl.StringVar(&opts.ID, "id", "", "the event-id column; default: FILE-ROW")
	fl.IntVar(&opts.Rate, "rate", 0, "events per second (0: as fast as possible)")
	fl.IntVar(&opts.OutcomeLag, "outcome-lag", 1, "publish each outcome this many events after its event")
	fl.DurationVar(&opts.Wait, "wait", 2*time.Minute, "how long to wait for the predictions at the end")
	_ = cmd.MarkFlagRequired("csv")
	_ = cmd.MarkFlagRequired("label")
	return cmd
}
