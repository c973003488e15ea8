package features

import (
	"context"

	"github.com/streamlearn/streamlearn/ingest"
)

// Store keeps per-entity state. Apply must be idempotent per event id: an event delivered twice is
// applied once, and both deliveries see the same prior state.
type Store interface {
	// Apply records events into their entities' state and returns, for each event, the state as of
	// just before it (the state it is scored with). Events without an entity get a zero state.
	Apply(ctx context.Context, events []ingest.Event) ([]EntityState, error)
	// Get returns an entity's current state without changing it.
	Get(ctx context.Context, entity string) (EntityState, error)
	// Ping checks that the store is reachable.
	Ping(ctx context.Context) error
}
