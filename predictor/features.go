package predictor

import (
	"context"

	"github.com/streamlearn/streamlearn/features"
	"github.com/streamlearn/streamlearn/wire"
)

// The predictor's only contact with the feature store: the two functions below turn events into
// the vectors they are scored with.

// streamVectors records events into the store (once per event id) and returns, for each, its
// vector as of just before it: one store round trip per batch and Redis node.
func streamVectors(ctx context.Context, store features.OnlineStore, events []wire.Event) ([]wire.Vector, error) {
	return store.Apply(ctx, events)
}

// liveVectors returns the vectors of events at their times, changing nothing.
func liveVectors(ctx context.Context, store features.OnlineStore, events []wire.Event) ([]wire.Vector, error) {
	return store.Lookup(ctx, events)
}
