package predictor

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/streamlearn/streamlearn/features"
	"github.com/streamlearn/streamlearn/ingest"
	"github.com/streamlearn/streamlearn/join"
	"github.com/streamlearn/streamlearn/learner"
	"github.com/streamlearn/streamlearn/wire"
)

// Output receives what stream scoring produces. Each method returns once its records are durable.
type Output interface {
	Predictions(ctx context.Context, ps []wire.Prediction) error
	Examples(ctx context.Context, exs []wire.Example) error
}

// Joins records scored events for the label join: the join stage's Store (join/joinstore) fits it.
type Joins interface {
	// AddPending stores predictions; it returns the examples of those whose outcome was already waiting.
	AddPending(ctx context.Context, ps []wire.Pending) ([]wire.Example, error)
	// Ack closes the pairs of examples that are durable.
	Ack(ctx context.Context, exs []wire.Example) error
}

// Stream scores batches of events from the events topic: one feature-store round trip, one produce
// call and one join-store round trip per batch. Every event gets one prediction for the route it
// takes, plus one per shadow model (route "shadow"); only the routed one waits for its outcome.
type Stream struct {
	Features features.OnlineStore
	Models   *Models
	Router   *Router
	Join     Joins
	Out      Output
	Now      func() time.Time
}

// Handle scores events and records them for the label join. It is idempotent per event id: a
// redelivered event gets the features it had the first time and overwrites its pending entry.
func (s *Stream) Handle(ctx context.Context, events []wire.Event) error {
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
	preds := make([]wire.Prediction, 0, len(events)*(1+len(lu.shadow)))
	pending := make([]wire.Pending, len(events))
	for i := range events {
		ev := &events[i]
		route := s.Router.RouteOf(ev)
		served := lu.routes[route]
		p, err := predict(served, vs[i])
		if err != nil {
			return ingest.Permanent(fmt.Errorf("score event %q: %w", ev.ID, err))
		}
		preds = append(preds, newPrediction(ev, served, p, routeName(route), scoredAt))
		pending[i] = wire.Pending{
			ID: ev.ID, Entity: ev.Entity, Time: ev.Time, Features: vs[i],
			Model: served.Model, Version: served.Version, Score: p.Score, ScoredAt: scoredAt,
		}
		for _, sh := range lu.shadow {
			if p, err := predict(sh, vs[i]); err == nil { // a shadow's failure must not fail the event
				preds = append(preds, newPrediction(ev, sh, p, wire.RouteShadow, scoredAt))
			}
		}
	}
	if err := s.Out.Predictions(ctx, preds); err != nil {
		return err
	}
	examples, err := s.Join.AddPending(ctx, pending)
	if err != nil {
		return err
	}
	if len(examples) == 0 {
		return nil
	}
	if err := s.Out.Examples(ctx, examples); err != nil {
		return err
	}
	return join.AckDurable(ctx, s.Join.Ack, examples)
}

// predict scores v with s, and fails where the model's output is not a finite number: it could not
// be encoded, and serving it would hide a broken model.
func predict(s *Served, v wire.Vector) (learner.Prediction, error) {
	p := s.Snapshot.Predict(v)
	if !finite(p.Score) {
		return p, fmt.Errorf("model %s version %d: score %v is not a finite number", s.Model, s.Version, p.Score)
	}
	for _, q := range p.Probs {
		if !finite(q) {
			return p, fmt.Errorf("model %s version %d: probability %v is not a finite number", s.Model, s.Version, q)
		}
	}
	return p, nil
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
