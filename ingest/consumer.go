package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Decoder turns a record's value into T or says why it cannot (an *InvalidError). now is the
// record's timestamp (the wall clock when it has none): the time of an event that carries none.
type Decoder[T any] func(value []byte, now time.Time) (T, error)

// Handler applies the effects of a batch of decoded records. It returns only when they are durable
// (or with an error, and then the batch is retried). srcs[i] is the record values[i] came from.
type Handler[T any] func(ctx context.Context, values []T, srcs []*kgo.Record) error

// Producer writes records and returns once the broker has them.
type Producer interface {
	ProduceSync(ctx context.Context, rs ...*kgo.Record) kgo.ProduceResults
}

// Consumer runs the consume loop of one role: poll a batch, decode it, send what does not decode to
// the dead-letter topic, hand the rest to the handler, and commit the batch's offsets only after
// both are done. A failing handler is retried with backoff; nothing is committed past it. That gives
// at-least-once effects; handlers make them idempotent.
type Consumer[T any] struct {
	// Client is a group consumer created with kgo.DisableAutoCommit and kgo.BlockRebalanceOnPoll.
	Client   *kgo.Client
	DLQ      Producer
	DLQTopic string
	Decode   Decoder[T]
	Handle   Handler[T]
	// MaxBatch bounds the records polled at once (default 5000).
	MaxBatch int
	// ShutdownTimeout bounds how long the batch in flight may take to finish after ctx ends (default 30s).
	ShutdownTimeout time.Duration
	Logger          *slog.Logger
	// OnInvalid, when set, is called for every rejected record (metrics).
	OnInvalid func(reason Reason)
	// OnBatch, when set, is called after every committed batch with its valid and invalid counts.
	OnBatch func(valid, invalid int)
}

// Run consumes until ctx ends, then finishes the batch in flight, commits and returns nil.
func (c *Consumer[T]) Run(ctx context.Context) error {
	if c.MaxBatch <= 0 {
		c.MaxBatch = 5000
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = 30 * time.Second
	}
	log := c.Logger
	if log == nil {
		log = slog.Default()
	}
	for {
		fetches := c.Client.PollRecords(ctx, c.MaxBatch)
		if fetches.IsClientClosed() {
			return nil
		}
		fetches.EachError(func(topic string, p int32, err error) {
			if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
				log.Warn("fetch error", "topic", topic, "partition", p, "err", err)
			}
		})
		recs := fetches.Records()
		if len(recs) > 0 {
			// The batch in flight finishes even when ctx ends meanwhile: stop intake, not work.
			work, cancel := context.WithCancel(context.WithoutCancel(ctx))
			stop := context.AfterFunc(ctx, func() {
				time.AfterFunc(c.ShutdownTimeout, cancel)
			})
			err := c.process(work, recs, log)
			stop()
			cancel()
			if err != nil {
				c.Client.AllowRebalance()
				return err
			}
		}
		c.Client.AllowRebalance()
		if ctx.Err() != nil {
			return nil
		}
	}
}

func (c *Consumer[T]) process(ctx context.Context, recs []*kgo.Record, log *slog.Logger) error {
	wall := time.Now()
	values := make([]T, 0, len(recs))
	srcs := make([]*kgo.Record, 0, len(recs))
	var dead []*kgo.Record
	for _, r := range recs {
		// The record's own timestamp stands in for a missing event time, so a redelivery or a replay
		// decodes to the same event; the wall clock only when the record has none.
		now := r.Timestamp
		if now.IsZero() || now.Before(minTime) {
			now = wall
		}
		v, err := c.Decode(r.Value, now)
		if err != nil {
			dead = append(dead, DeadLetter(c.DLQTopic, r, err))
			if c.OnInvalid != nil {
				c.OnInvalid(ReasonOf(err))
			}
			continue
		}
		values = append(values, v)
		srcs = append(srcs, r)
	}
	if len(dead) > 0 {
		if err := retry(ctx, log, "produce dead letters", func() error {
			return c.DLQ.ProduceSync(ctx, dead...).FirstErr()
		}); err != nil {
			return err
		}
	}
	if len(values) > 0 {
		if err := retry(ctx, log, "apply batch", func() error { return c.Handle(ctx, values, srcs) }); err != nil {
			return err
		}
	}
	if err := c.Client.CommitRecords(ctx, recs...); err != nil {
		// Uncommitted offsets mean redelivery, which the handlers absorb; log and go on.
		log.Warn("commit offsets", "err", err)
	}
	if c.OnBatch != nil {
		c.OnBatch(len(values), len(dead))
	}
	return nil
}

// retry runs fn until it succeeds or ctx ends, backing off between attempts.
func retry(ctx context.Context, log *slog.Logger, what string, fn func() error) error {
	backoff := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%s: not done before shutdown, offsets stay uncommitted: %w", what, err)
		}
		log.Error(what+" failed, retrying", "attempt", attempt, "err", err)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}
