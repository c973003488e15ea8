package features

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/streamlearn/streamlearn/wire"
)

// OnlineStore is the feature store the predictor scores with: per-entity window aggregates kept in
// an online store (features/featurestore), event-time correct and idempotent per event id.
type OnlineStore interface {
	// Apply scores and records a batch of stream events in order: it returns each event's full
	// vector (raw fields, aggregates, crosses; sorted by name) as of just before the event, and applies
	// the event to its entity's aggregates once. A redelivered event gets the vector it got the first
	// time. Events without an entity get their raw-field features only.
	Apply(ctx context.Context, events []wire.Event) ([]wire.Vector, error)
	// Lookup returns the vectors of events at their times without changing anything (live scoring).
	Lookup(ctx context.Context, events []wire.Event) ([]wire.Vector, error)
	// Aggregates returns an entity's aggregate values as of at (zero: its latest event time);
	// false when the entity has no state.
	Aggregates(ctx context.Context, entity string, at time.Time) (Snapshot, bool, error)
	// Ping checks that the store is reachable.
	Ping(ctx context.Context) error
	// Stats returns the store's counters.
	Stats() Stats
}

// CachedLookup is implemented by an OnlineStore that keeps the state it reads in process memory:
// LookupCached answers as Lookup would from that memory alone, or returns false (then call Lookup)
// when it does not hold everything events need. It never blocks on I/O, so a caller can skip the
// batching it does for Lookup's round trips.
type CachedLookup interface {
	LookupCached(events []wire.Event) ([]wire.Vector, bool)
}

// ParseAt reads the time of GET /v1/features/{entity}?at=TIME: RFC 3339 or unix milliseconds. The
// empty string is the zero time (as of the entity's latest event).
func ParseAt(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.UnixMilli(ms).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("at %q: want RFC 3339 (2006-01-02T15:04:05Z) or unix milliseconds", s)
	}
	return t.UTC(), nil
}
