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
// call and one join-store round trip per batch. Every event gets one prediction for the route it
// takes, plus one per shadow model (route "shadow"); only the routed one waits for its outcome.
type Stream struct {
	Features features.OnlineStore
	Models   *Models
	Router   *Router
	Join     learner.JoinStore
	Out      Output
	Now      func() time.Time
}

// Handle scores events and records them for the label join. It is idempotent per event id: a
// redelivered event gets the features it had the first time and overwrites its pending entry.
func (s *Stream) Handle(ctx context.Context, events []ingest.Event) error {
	lu, err := s.Router.lineup(s.Models)
	if err != nil {
		return fmt.Errorf("score: %w", err)
	}
	vs, err := streamVectors(ctx, s.Features, events)
	if err != nil {
		return err
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	scoredAt := now().UTC()
	preds := make([]Prediction, 0, len(events)*(1+len(lu.shadow)))
	pending := make([]learner.Pending, len(events))
	for i := range events {
		ev := &events[i]
		route := s.Router.RouteOf(ev)
		served := lu.routes[route]
		p := served.Snapshot.Predict(vs[i])
		preds = append(preds, newPrediction(ev, served, p, routeName(route), scoredAt))
		pending[i] = learner.Pending{
			ID: ev.ID, Entity: ev.Entity, Time: ev.Time, Features: vs[i],
			Model: served.Model, Version: served.Version, Score: p.Score, ScoredAt: scoredAt,
		}
		for _, sh := range lu.shadow {
			preds = append(preds, newPrediction(ev, sh, sh.Snapshot.Predict(vs[i]), RouteShadow, scoredAt))
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
