package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/streamlearn/streamlearn/internal/telemetry"
	learnredis "github.com/streamlearn/streamlearn/learner/redis"
	sinkkafka "github.com/streamlearn/streamlearn/sinks/kafka"
)

// sweepImplicit turns predictions whose outcome did not come within the horizon into examples with
// the implicit label, every interval, until ctx ends. Examples are produced before the claim is
// acked, so a crash repeats a sweep rather than losing it.
func sweepImplicit(ctx context.Context, joins *learnredis.JoinStore, out *sinkkafka.Output, every time.Duration, mt *telemetry.Metrics, log *slog.Logger) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		for {
			exs, ack, err := joins.SweepExpired(ctx, time.Now(), 1000)
			if err == nil && len(exs) > 0 {
				if err = out.Examples(ctx, exs); err == nil {
					err = ack(ctx)
					mt.Examples.Add(float64(len(exs)))
				}
			}
			if err != nil {
				if ctx.Err() == nil {
					log.Warn("implicit labels", "err", err)
				}
				break
			}
			if len(exs) < 1000 {
				break
			}
		}
	}
}
