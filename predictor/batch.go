package predictor

import (
	"context"
	"fmt"
	"time"

	"github.com/streamlearn/streamlearn/features"
	"github.com/streamlearn/streamlearn/wire"
)

// RouteBatch is the route of predictions made by batch scoring (streamlearn score).
const RouteBatch = "batch"

// ScoreEvents scores events with one served version, each with its features as of its event time
// where the store holds them (read, never changed: nothing is learned or recorded). It is the
// core of batch scoring and backfills.
func ScoreEvents(ctx context.Context, store features.OnlineStore, s *Served, events []wire.Event, now time.Time) ([]wire.Prediction, error) {
	vs, err := store.Lookup(ctx, events)
	if err != nil {
		return nil, fmt.Errorf("feature store: %w", err)
	}
	out := make([]wire.Prediction, len(events))
	for i, ev := range events {
		p, err := predict(s, vs[i])
		if err != nil {
			return nil, fmt.Errorf("score event %q: %w", ev.ID, err)
		}
		out[i] = wire.Prediction{ID: ev.ID, Entity: ev.Entity, Model: s.Model, Version: s.Version, Score: p.Score, Class: p.Class,
			Route: RouteBatch, Time: ev.Time, ScoredAt: now}
	}
	return out, nil
}
