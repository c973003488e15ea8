// Package join is the label join: it pairs each scored event (a wire.Pending, recorded by the
// predictor) with its outcome (a wire.Outcome from the outcomes topic) into a wire.Example for the
// examples topic, and, where the config names an implicit label, turns predictions whose outcome
// never came within the horizon into examples with that label.
//
// Both sides wait in a Store (join/joinstore). An example is produced first and acked after: a crash
// between the two repeats the example rather than losing it.
package join

import (
	"context"
	"time"

	"github.com/streamlearn/streamlearn/wire"
)

// Pair pairs an outcome with its pending prediction.
func Pair(p wire.Pending, o wire.Outcome) wire.Example {
	return wire.Example{Pending: p, Label: o.Value, Class: o.Class, OutcomeTime: o.Time}
}

// Store keeps whichever side of a prediction/outcome pair arrives first until the other comes,
// for at most the join horizon. Its methods are idempotent per id and safe to call concurrently.
//
// A joined pair stays open until Ack: a redelivery of either side returns its example again, so a
// caller that failed to make the example durable retries without losing it. After Ack the pair is
// closed for the horizon; a redelivered side neither joins again nor waits.
type Store interface {
	// AddPending stores predictions; it returns the examples of those whose outcome was already waiting.
	AddPending(ctx context.Context, ps []wire.Pending) ([]wire.Example, error)
	// AddOutcomes stores outcomes; it returns the examples of those whose prediction was waiting.
	AddOutcomes(ctx context.Context, os []wire.Outcome) ([]wire.Example, error)
	// Ack closes the pairs of examples that are durable (produced to the examples topic).
	Ack(ctx context.Context, exs []wire.Example) error
}

// Output makes examples durable: the examples topic (sinks/kafkasink.Output).
type Output interface {
	Examples(ctx context.Context, exs []wire.Example) error
}

// Outcomes is the join stage's core for the outcomes topic: it joins a batch of outcomes, produces
// the examples and then acks them. Its Kafka loop is an ingest.Consumer[wire.Outcome] that calls
// Handle.
type Outcomes struct {
	Store Store
	Out   Output
	// Joined, when set, is told how many examples each batch made durable.
	Joined func(n int)
	// Observe, when set, is told how long each batch spent joining (StageJoin: AddOutcomes and
	// Ack) and producing (StageProduce), once per batch, for metrics.
	Observe func(stage string, d time.Duration)
}

// The stages Outcomes.Observe times.
const (
	StageJoin    = "join"
	StageProduce = "produce"
)

// Handle joins os, produces their examples and acks them, in that order.
func (j *Outcomes) Handle(ctx context.Context, os []wire.Outcome) error {
	start := time.Now()
	exs, err := j.Store.AddOutcomes(ctx, os)
	if err != nil {
		return err
	}
	added := time.Now()
	if err := j.Out.Examples(ctx, exs); err != nil {
		return err
	}
	produced := time.Now()
	if err := AckDurable(ctx, j.Store.Ack, exs); err != nil {
		return err
	}
	if j.Observe != nil {
		j.Observe(StageJoin, added.Sub(start)+time.Since(produced))
		j.Observe(StageProduce, produced.Sub(added))
	}
	if j.Joined != nil {
		j.Joined(len(exs))
	}
	return nil
}

// AckDurable acks examples that are already durable, retrying a failed ack in place (backoff from
// 50 ms to 2 s) until it succeeds or ctx ends. A failed ack must not fail the batch: the stage's
// retry would find the pairs still open and produce their examples a second time, which the
// learner would learn twice. (On a Redis Cluster the ack of a batch spans nodes; one node going
// down between the produce and the ack did exactly that.) Only a stop or crash in that window
// leaves pairs open, as before.
func AckDurable(ctx context.Context, ack func(context.Context, []wire.Example) error, exs []wire.Example) error {
	wait := 50 * time.Millisecond
	for {
		err := ack(ctx, exs)
		if err == nil {
			return nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		wait = min(2*wait, 2*time.Second)
	}
}
