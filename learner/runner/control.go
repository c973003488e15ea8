package runner

import (
	"context"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamlearn/streamlearn/ingest"
	"github.com/streamlearn/streamlearn/wire"
)

// RunControl hands the retrain commands of the control topic for model to its runner, one at a
// time, and commits a command only once the runner has carried it out (promoted or rejected the
// challenger): a restart in the middle starts that retrain again. Commands for other models are
// theirs to read, in their own groups.
func RunControl(ctx context.Context, cl *kgo.Client, model string, commands chan<- Command, log *slog.Logger) error {
	loop := ingest.PollLoop{Client: cl, MaxRecords: 1, Logger: log}
	return loop.Run(ctx, func(ctx context.Context, fetches kgo.Fetches) error {
		for _, rec := range fetches.Records() {
			var cmd wire.RetrainCommand
			if err := wire.Unmarshal(rec.Value, &cmd); err != nil || cmd.Command != wire.CommandRetrain {
				log.Warn("skip control record", "offset", rec.Offset, "err", err, "command", cmd.Command)
			} else if cmd.Model == model && !handOver(ctx, commands, cmd) {
				return ingest.ErrStop
			}
			if err := cl.CommitRecords(ctx, rec); err != nil && ctx.Err() == nil {
				log.Warn("commit control offset", "err", err)
			}
		}
		return nil
	})
}

// handOver gives cmd to the runner and waits until it has been carried out; false when ctx ended
// first (the command stays uncommitted, so a restart carries it out).
func handOver(ctx context.Context, commands chan<- Command, cmd wire.RetrainCommand) bool {
	done := make(chan struct{})
	select {
	case commands <- Command{RetrainCommand: cmd, Done: func() { close(done) }}:
	case <-ctx.Done():
		return false
	}
	select {
	case <-done:
		return true
	case <-ctx.Done():
		return false
	}
}
