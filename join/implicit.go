package join

import (
	"context"
	"log/slog"
	"time"

	"github.com/streamlearn/streamlearn/wire"
)

// Expirer finds the predictions whose outcome did not come within the horizon (join/joinstore.Store
// with an implicit label): it returns their examples and an ack to call once they are durable.
type Expirer interface {
	SweepExpired(ctx context.Context, now time.Time, limit int) ([]wire.Example, func(context.Context) error, error)
}

// DefaultSweepBatch is how many expired predictions one sweep step claims.
const DefaultSweepBatch = 1000

// Implicit turns predictions whose outcome did not come within the horizon into examples with the
// implicit label, every Interval, until its context ends.
type Implicit struct {
	Store    Expirer
	Out      Output
	Interval time.Duration
	// Joined, when set, is told how many examples each sweep step made durable.
	Joined func(n int)
	Logger *slog.Logger
}

// Run sweeps every Interval until ctx ends. Examples are produced before the claim is acked, so a
// crash repeats a sweep rather than losing it. It returns nil when ctx ends.
func (s *Implicit) Run(ctx context.Context) error {
	t := time.NewTicker(s.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		s.sweep(ctx)
	}
}

// sweep claims expired predictions until fewer than a batch are left or a step fails.
func (s *Implicit) sweep(ctx context.Context) {
	for {
		exs, ack, err := s.Store.SweepExpired(ctx, time.Now(), DefaultSweepBatch)
		if err == nil && len(exs) > 0 {
			if err = s.Out.Examples(ctx, exs); err == nil {
				err = ack(ctx)
				if s.Joined != nil {
					s.Joined(len(exs))
				}
			}
		}
		if err != nil {
			if ctx.Err() == nil && s.Logger != nil {
				s.Logger.Warn("implicit labels", "err", err)
			}
			return
		}
		if len(exs) < DefaultSweepBatch {
			return
		}
	}
}
