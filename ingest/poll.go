package ingest

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// ErrStop, returned by a PollLoop's handler, ends the loop without an error: the handler has
// decided to read no more (its lease was lost, say).
var ErrStop = errors.New("stop polling")

// PollLoop is the poll loop every topic reader runs: poll at most MaxRecords, log fetch errors,
// hand the poll to the handler, allow rebalances, and stop when ctx ends or the client is closed.
// What a reader does with its records and when it commits is the handler's business (Consumer
// commits each batch after its effects, the learner keeps offsets in its checkpoint, the
// correlator commits after a ClickHouse flush, control one command at a time).
//
// The client may be a group consumer with kgo.BlockRebalanceOnPoll: every poll holds off
// rebalances until AllowRebalance, which the loop calls after each handler and on return, so the
// client's Close (which leaves the group) never waits on a poll that was not followed up.
type PollLoop struct {
	Client *kgo.Client
	// MaxRecords bounds the records of one poll (default 5000).
	MaxRecords int
	// Interval, when positive, bounds how long a poll waits for records: the handler is then
	// called with an empty poll, so it can flush or publish on time. Zero waits for records.
	Interval time.Duration
	Logger   *slog.Logger
}

// Run polls until ctx ends, the client is closed or handle returns ErrStop (nil for all three), or
// until handle returns another error, which Run returns. handle runs under ctx: after ctx ends it
// sees the last poll, with ctx.Err() set, so it can finish that work before the loop returns.
func (p PollLoop) Run(ctx context.Context, handle func(ctx context.Context, fetches kgo.Fetches) error) error {
	defer p.Client.AllowRebalance()
	max := p.MaxRecords
	if max <= 0 {
		max = 5000
	}
	log := p.Logger
	if log == nil {
		log = slog.Default()
	}
	for {
		pollCtx, cancel := ctx, context.CancelFunc(func() {})
		if p.Interval > 0 {
			pollCtx, cancel = context.WithTimeout(ctx, p.Interval)
		}
		fetches := p.Client.PollRecords(pollCtx, max)
		cancel()
		if fetches.IsClientClosed() {
			return nil
		}
		fetches.EachError(func(topic string, partition int32, err error) {
			if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
				log.Warn("fetch error", "topic", topic, "partition", partition, "err", err)
			}
		})
		err := handle(ctx, fetches)
		p.Client.AllowRebalance()
		if errors.Is(err, ErrStop) {
			return nil
		}
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return nil
		}
	}
}
