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
	// Observe, when set, is told how long each batch spent in each stage (StageFeatures,
	// StageScore, StageProduce, StageJoin): a few calls per batch, for metrics.
	Observe func(stage string, d time.Duration)
}

// The stages Stream.Observe times. Produce and join add up the batch's calls to Output and Joins.
const (
	StageFeatures = "features" // the feature store's round trip and the vectors
	StageScore    = "score"    // the models' scoring loop
	StageProduce  = "produce"  // predictions and examples made durable on their topics
	StageJoin     = "join"     // pending predictions recorded, joined examples acked
)

// Handle scores events and records them for the label join. It is idempotent per event id: a
// redelivered event gets the features it had the first time and overwrites its pending entry.
func (s *Stream) Handle(ctx context.Context, events []wire.Event) error {
	lu, err := s.Router.lineup(s.Models)
	if err != nil {
		return fmt.Errorf("score: %w", err)
	}
	t := stageClock{observe: s.Observe, last: time.Now()}
	vs, err := streamVectors(ctx, s.Features, events)
	if err != nil {
		return err
	}
	t.lap(StageFeatures)
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
	t.lap(StageScore)
	if err := s.Out.Predictions(ctx, preds); err != nil {
		return err
	}
	produce := t.split()
	examples, err := s.Join.AddPending(ctx, pending)
	if err != nil {
		return err
	}
	joining := t.split()
	if len(examples) > 0 {
		if err := s.Out.Examples(ctx, examples); err != nil {
			return err
		}
		produce += t.split()
		if err := join.AckDurable(ctx, s.Join.Ack, examples); err != nil {
			return err
		}
		joining += t.split()
	}
	t.report(StageProduce, produce)
	t.report(StageJoin, joining)
	return nil
}

// stageClock times the consecutive stages of one batch for an Observe hook; with no hook it
// does nothing but read the clock.
type stageClock struct {
	observe func(stage string, d time.Duration)
	last    time.Time
}

// split returns the time since the last split or lap.
func (c *stageClock) split() time.Duration {
	now := time.Now()
	d := now.Sub(c.last)
	c.last = now
	return d
}

// lap reports the time since the last split or lap as stage's.
func (c *stageClock) lap(stage string) { c.report(stage, c.split()) }

func (c *stageClock) report(stage string, d time.Duration) {
	if c.observe != nil {
		c.observe(stage, d)
	}
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
