package app

import (
	"context"
	"encoding/json"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamlearn/streamlearn/learner/runner"
	"github.com/streamlearn/streamlearn/wire"
)

// runControl hands the retrain commands of the control topic for model to its runner, one at a
// time, and commits a command only once the runner has carried it out (promoted or rejected the
// challenger): a restart in the middle starts that retrain again. Commands for other models are
// theirs to read, in their own groups.
func runControl(ctx context.Context, cl *kgo.Client, model string, commands chan<- runner.Command, log *slog.Logger) error {
	// Under BlockRebalanceOnPoll every poll, even one that returned at once, holds off rebalances
	// until AllowRebalance; without it Close would wait forever to leave the group.
	defer cl.AllowRebalance()
	for {
		fetches := cl.PollRecords(ctx, 1)
		if fetches.IsClientClosed() || ctx.Err() != nil {
			return nil
		}
		for _, rec := range fetches.Records() {
			var cmd wire.RetrainCommand
			if err := json.Unmarshal(rec.Value, &cmd); err != nil || cmd.Command != wire.CommandRetrain {
				log.Warn("skip control record", "offset", rec.Offset, "err", err, "command", cmd.Command)
			} else if cmd.Model == model {
				done := make(chan struct{})
				select {
				case commands <- runner.Command{RetrainCommand: cmd, Done: func() { close(done) }}:
				case <-ctx.Done():
					return nil
				}
				select {
				case <-done:
				case <-ctx.Done():
					return nil
				}
			}
			if err := cl.CommitRecords(ctx, rec); err != nil && ctx.Err() == nil {
				log.Warn("commit control offset", "err", err)
			}
		}
		cl.AllowRebalance()
	}
}
