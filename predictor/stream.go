package predictor

import (
	"context"
	"fmt"
	"time"

	"github.com/streamlearn/streamlearn/features"
	"github.com/streamlearn/streamlearn/ingest"
	"github.com/streamlearn/streamlearn/learner"
)

// Output receives what stream scoring produces. Each method returns once its records are durable.
type Output interface {
	Predictions(ctx context.Context, ps []Prediction) error
	Examples(ctx context.Context, exs []learner.Example) error
}

// Stream scores batches of events from the events topic: one feature-store round trip, one produce
// call and one join-store round trip per batch.
type Stream struct {
	Features features.Store
	Models   *Models
	Join     learner.JoinStore
	Out      Output
	// Model is the name of the model that scores the stream.
	Model string
	Now   func() time.Time
}

// Handle scores events and records them for the label join. It is idempotent per event id: a
// redelivered event gets the features it had the first time and overwrites its pending entry.
func (s *Stream) Handle(ctx context.Context, events []ingest.Event) error {
	served := s.Models.Get(s.Model)
	if served == nil {
		return fmt.Errorf("score: model %q is not loaded", s.Model)
	}
	states, err := s.Features.Apply(ctx, events)
	if err != nil {
		return err
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	scoredAt := now().UTC()
	preds := make([]Prediction, len(events))
	pending := make([]learner.Pending, len(events))
	for i, ev := range events {
		v := features.Vectorize(ev, &states[i])
		p := served.Snapshot.Predict(v)
		preds[i] = Prediction{
			ID: ev.ID, Entity: ev.Entity, Model: served.Model, Version: served.Version,
			Score: p.Score, Class: p.Class, Route: RouteChampion, Time: ev.Time, ScoredAt: scoredAt,
		}
		pending[i] = learner.Pending{
			ID: ev.ID, Entity: ev.Entity, Time: ev.Time, Features: v,
			Model: served.Model, Version: served.Version, Score: p.Score, ScoredAt: scoredAt,
		}
	}
	if err := s.Out.Predictions(ctx, preds); err != nil {
		return err
	}
	examples, err := s.Join.AddPending(ctx, pending)
	if err != nil {
		return err
	}
	if len(examples) > 0 {
		return s.Out.Examples(ctx, examples)
	}
	return nil
}
