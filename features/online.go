package features

import (
	"context"
	"time"

	"github.com/streamlearn/streamlearn/ingest"
)

// OnlineStore is the feature store the predictor scores with: per-entity window aggregates kept in
// an online store (features/redis), event-time correct and idempotent per event id.
type OnlineStore interface {
	// Apply scores and records a batch of stream events in order: it returns each event's full
	// vector (raw fields, aggregates, crosses; sorted by name) as of just before the event, and applies
	// the event to its entity's aggregates once. A redelivered event gets the vector it got the first
	// time. Events without an entity get their raw-field features only.
	Apply(ctx context.Context, events []ingest.Event) ([]Vector, error)
	// Lookup returns the vectors of events at their times without changing anything (live scoring).
	Lookup(ctx context.Context, events []ingest.Event) ([]Vector, error)
	// Aggregates returns an entity's aggregate values as of at (zero: its latest event time);
	// false when the entity has no state.
	Aggregates(ctx context.Context, entity string, at time.Time) (Snapshot, bool, error)
	// Ping checks that the store is reachable.
	Ping(ctx context.Context) error
	// Stats returns the store's counters.
	Stats() Stats
}
