package learner

import (
	"context"
	"time"

	"github.com/streamlearn/streamlearn/features"
	"github.com/streamlearn/streamlearn/ingest"
)

// Pending is a scored event waiting for its outcome: everything needed to learn from it later,
// including the exact features it was scored with (so learning never sees later state).
type Pending struct {
	ID       string          `json:"id"`
	Entity   string          `json:"entity,omitempty"`
	Time     time.Time       `json:"time"`
	Features features.Vector `json:"features"`
	Model    string          `json:"model"`
	Version  int64           `json:"version"`
	Score    float64         `json:"score"`
	ScoredAt time.Time       `json:"scored_at"`
}

// Example is a scored event joined with its outcome: one record of the examples topic, the
// replayable training log.
type Example struct {
	Pending
	Label       float64   `json:"label"`
	Class       string    `json:"class,omitempty"`
	OutcomeTime time.Time `json:"outcome_time"`
	// Implicit is true when the label was not observed but assumed after the join horizon.
	Implicit bool `json:"implicit,omitempty"`
}

// Join pairs an outcome with its pending prediction.
func Join(p Pending, o ingest.Outcome) Example {
	return Example{Pending: p, Label: o.Value, Class: o.Class, OutcomeTime: o.Time}
}

// JoinStore keeps whichever side of a prediction/outcome pair arrives first until the other comes,
// for at most the join horizon. Its methods are idempotent per id and safe to call concurrently.
//
// A joined pair stays open until Ack: a redelivery of either side returns its example again, so a
// caller that failed to make the example durable retries without losing it. After Ack the pair is
// closed for the horizon; a redelivered side neither joins again nor waits.
type JoinStore interface {
	// AddPending stores predictions; it returns the examples of those whose outcome was already waiting.
	AddPending(ctx context.Context, ps []Pending) ([]Example, error)
	// AddOutcomes stores outcomes; it returns the examples of those whose prediction was waiting.
	AddOutcomes(ctx context.Context, os []ingest.Outcome) ([]Example, error)
	// Ack closes the pairs of examples that are durable (produced to the examples topic).
	Ack(ctx context.Context, exs []Example) error
}
