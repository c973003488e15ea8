package learner

import (
	"context"

	"github.com/streamlearn/streamlearn/wire"
)

// Join pairs an outcome with its pending prediction.
func Join(p wire.Pending, o wire.Outcome) wire.Example {
	return wire.Example{Pending: p, Label: o.Value, Class: o.Class, OutcomeTime: o.Time}
}

// JoinStore keeps whichever side of a prediction/outcome pair arrives first until the other comes,
// for at most the join horizon. Its methods are idempotent per id and safe to call concurrently.
//
// A joined pair stays open until Ack: a redelivery of either side returns its example again, so a
// caller that failed to make the example durable retries without losing it. After Ack the pair is
// closed for the horizon; a redelivered side neither joins again nor waits.
type JoinStore interface {
	// AddPending stores predictions; it returns the examples of those whose outcome was already waiting.
	AddPending(ctx context.Context, ps []wire.Pending) ([]wire.Example, error)
	// AddOutcomes stores outcomes; it returns the examples of those whose prediction was waiting.
	AddOutcomes(ctx context.Context, os []wire.Outcome) ([]wire.Example, error)
	// Ack closes the pairs of examples that are durable (produced to the examples topic).
	Ack(ctx context.Context, exs []wire.Example) error
}
