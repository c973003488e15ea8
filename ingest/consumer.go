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
// both are done. That gives at-least-once effects; handlers make them idempotent.
//
// A failing handler is retried. Transient errors (IsTransient: a dependency down) are retried with
// backoff for as long as they last, and nothing is committed past them. Any other error is retried
// MaxAttempts times, then the batch is split until the records that fail on their own are found;
// those go to the dead-letter topic with reason handler_failed, the stage and the error, and the
// stream moves on. A record is only blamed when the failure is its own: the error is Permanent or
// a panic, another part of the batch succeeded meanwhile, or Healthy says the dependencies answer.
type Consumer[T any] struct {
	// Client is a group consumer created with kgo.DisableAutoCommit and kgo.BlockRebalanceOnPoll.
	Client   *kgo.Client
	DLQ      Producer
	DLQTopic string
	// Stage names the consumer's stage in dead letters ("score", "join").
	Stage  string
	Decode Decoder[T]
	Handle Handler[T]
	// Healthy, when set, checks the handler's dependencies: a record that fails alone while they
	// answer is dead-lettered even when nothing else in its batch succeeded.
	Healthy func(ctx context.Context) error
	// MaxBatch bounds the records polled at once (default 5000).
	MaxBatch int
	// MaxAttempts bounds the attempts of a batch, and of a single record, that fails with an error
	// that is not transient (default 3).
	MaxAttempts int
	// ShutdownTimeout bounds how long the batch in flight may take to finish after ctx ends (default 30s).
	ShutdownTimeout time.Duration
	Logger          *slog.Logger
	// OnInvalid, when set, is called for every rejected record (metrics).
	OnInvalid func(reason Reason)
	// OnBatch, when set, is called after every committed batch with its valid and invalid counts.
	OnBatch func(valid, invalid int)
	// Observe, when set, is told how long each batch took to decode (stage StageDecode): once per
	// batch, for metrics.
	Observe func(stage string, d time.Duration)
}

// StageDecode is the stage Consumer.Observe times: decoding and validating a polled batch.
const StageDecode = "decode"

// Run consumes until ctx ends, then finishes the batch in flight, commits and returns nil.
func (c *Consumer[T]) Run(ctx context.Context) error {
	if c.MaxBatch <= 0 {
		c.MaxBatch = 5000
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 3
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = 30 * time.Second
	}
	log := c.Logger
	if log == nil {
		log = slog.Default()
	}
	loop := PollLoop{Client: c.Client, MaxRecords: c.MaxBatch, Logger: log}
	return loop.Run(ctx, func(ctx context.Context, fetches kgo.Fetches) error {
		recs := fetches.Records()
		if len(recs) == 0 {
			return nil
		}
		// The batch in flight finishes even when ctx ends meanwhile: stop intake, not work.
		work, cancel := context.WithCancel(context.WithoutCancel(ctx))
		defer cancel()
		stop := context.AfterFunc(ctx, func() {
			time.AfterFunc(c.ShutdownTimeout, cancel)
		})
		defer stop()
		return c.process(work, recs, log)
	})
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
	if c.Observe != nil {
		c.Observe(StageDecode, time.Since(wall))
	}
	valid := len(values)
	if len(values) > 0 {
		failed, err := c.apply(ctx, values, srcs, log)
		if err != nil {
			return err
		}
		for _, f := range failed {
			dead = append(dead, c.handlerDeadLetter(f.src, f.err))
			if c.OnInvalid != nil {
				c.OnInvalid(ReasonHandlerFailed)
			}
		}
		valid -= len(failed)
	}
	if len(dead) > 0 {
		if err := retry(ctx, log, "produce dead letters", func() error {
			return c.DLQ.ProduceSync(ctx, dead...).FirstErr()
		}); err != nil {
			return err
		}
	}
	if err := c.Client.CommitRecords(ctx, recs...); err != nil {
		// Uncommitted offsets mean redelivery, which the handlers absorb; log and go on.
		log.Warn("commit offsets", "err", err)
	}
	if c.OnBatch != nil {
		c.OnBatch(valid, len(dead))
	}
	return nil
}

// failedRecord is a record the handler fails on by itself.
type failedRecord struct {
	src *kgo.Record
	err error
}

// apply hands values to the handler and returns the records it fails on by themselves (see
// Consumer). It returns an error only when ctx ends first.
func (c *Consumer[T]) apply(ctx context.Context, values []T, srcs []*kgo.Record, log *slog.Logger) ([]failedRecord, error) {
	type part struct{ lo, hi int }
	parts := []part{{0, len(values)}}
	var failed []failedRecord
	succeeded, whole := false, true
	for len(parts) > 0 {
		p := parts[0]
		attempts := c.MaxAttempts
		if !whole && p.hi-p.lo > 1 {
			attempts = 1 // halves are only probed: splitting again is cheaper than retrying
		}
		err := c.attempt(ctx, values[p.lo:p.hi], srcs[p.lo:p.hi], attempts, log)
		switch {
		case err == nil:
			succeeded = true
			parts = parts[1:]
		case ctx.Err() != nil:
			return nil, fmt.Errorf("apply batch: not done before shutdown, offsets stay uncommitted: %w", err)
		case p.hi-p.lo > 1:
			mid := (p.lo + p.hi) / 2
			parts = append([]part{{p.lo, mid}, {mid, p.hi}}, parts[1:]...)
			if whole {
				log.Warn("batch keeps failing; looking for the records that fail", "stage", c.Stage, "records", len(values), "err", err)
			}
		case c.blame(ctx, err, succeeded):
			log.Error("record fails on its own: dead-lettered", "stage", c.Stage,
				"topic", srcs[p.lo].Topic, "partition", srcs[p.lo].Partition, "offset", srcs[p.lo].Offset, "err", err)
			failed = append(failed, failedRecord{srcs[p.lo], err})
			parts = parts[1:]
		default:
			// Nothing shows the record is at fault: treat the failure as the dependencies' and
			// start over, holding the offsets.
			log.Warn("handler fails and its dependencies do not answer; retrying", "stage", c.Stage, "err", err)
			if err := sleep(ctx, 5*time.Second); err != nil {
				return nil, fmt.Errorf("apply batch: not done before shutdown, offsets stay uncommitted: %w", err)
			}
			parts = []part{{p.lo, len(values)}} // the parts left are contiguous from p
			whole = true
			continue
		}
		whole = false
	}
	return failed, nil
}

// blame reports whether a record whose handler failed with err is at fault itself.
func (c *Consumer[T]) blame(ctx context.Context, err error, othersSucceeded bool) bool {
	if _, ok := errors.AsType[permanentError](err); ok {
		return true
	}
	if _, ok := errors.AsType[*PanicError](err); ok {
		return true
	}
	if othersSucceeded {
		return true
	}
	return c.Healthy != nil && c.Healthy(ctx) == nil
}

// attempt runs the handler on values until it succeeds: transient errors are retried until ctx
// ends, others at most attempts times.
func (c *Consumer[T]) attempt(ctx context.Context, values []T, srcs []*kgo.Record, attempts int, log *slog.Logger) error {
	backoff := 100 * time.Millisecond
	for n := 1; ; n++ {
		err := callRecovering(func() error { return c.Handle(ctx, values, srcs) })
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return err
		}
		transient := IsTransient(err)
		if !transient && n >= attempts {
			return err
		}
		if transient {
			log.Warn("apply batch: dependency failed, retrying", "stage", c.Stage, "attempt", n, "records", len(values), "err", err)
		}
		if serr := sleep(ctx, backoff); serr != nil {
			return err
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

func (c *Consumer[T]) handlerDeadLetter(src *kgo.Record, err error) *kgo.Record {
	r := DeadLetter(c.DLQTopic, src, &InvalidError{Reason: ReasonHandlerFailed, Detail: truncate(err.Error(), maxDetail)})
	r.Headers = append(r.Headers, kgo.RecordHeader{Key: HeaderStage, Value: []byte(c.Stage)})
	return r
}

// HeaderStage names the stage whose handler failed on a dead letter with reason handler_failed.
const HeaderStage = "dlq.stage"

// ReasonHandlerFailed is the reason of a record that decoded but that its stage fails on by itself.
const ReasonHandlerFailed Reason = "handler_failed"

// maxDetail bounds the error text carried in a dead letter's header.
const maxDetail = 1024

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
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
