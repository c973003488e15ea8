package predictor

import (
	"context"

	"golang.org/x/sync/errgroup"

	"github.com/streamlearn/streamlearn/features"
	"github.com/streamlearn/streamlearn/ingest"
)

// The predictor's only contact with the feature store: the two functions below turn events into
// the vectors they are scored with.

// streamVectors records events into the store (once per event id) and returns, for each, the vector
// of the event with its entity's state as of just before it: one store round trip per batch.
func streamVectors(ctx context.Context, store features.Store, events []ingest.Event) ([]features.Vector, error) {
	states, err := store.Apply(ctx, events)
	if err != nil {
		return nil, err
	}
	vs := make([]features.Vector, len(events))
	for i := range events {
		vs[i] = features.Vectorize(events[i], &states[i])
	}
	return vs, nil
}

// liveLookups bounds the concurrent entity reads of one HTTP batch.
const liveLookups = 8

// liveVectors returns the vectors of events with their entities' current state, changing nothing.
func liveVectors(ctx context.Context, store features.Store, events []ingest.Event) ([]features.Vector, error) {
	if len(events) == 1 {
		var st features.EntityState
		if ent := events[0].Entity; ent != "" {
			var err error
			if st, err = store.Get(ctx, ent); err != nil {
				return nil, err
			}
		}
		return []features.Vector{features.Vectorize(events[0], &st)}, nil
	}
	states := make([]features.EntityState, len(events))
	first := map[string]int{} // entity -> index of its first event, so each entity is read once
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(liveLookups)
	for i := range events {
		ent := events[i].Entity
		if ent == "" {
			continue
		}
		if _, dup := first[ent]; dup {
			continue
		}
		first[ent] = i
		g.Go(func() error {
			st, err := store.Get(gctx, ent)
			states[i] = st
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	vs := make([]features.Vector, len(events))
	for i := range events {
		st := &states[i]
		if j, ok := first[events[i].Entity]; ok {
			st = &states[j]
		}
		vs[i] = features.Vectorize(events[i], st)
	}
	return vs, nil
}
