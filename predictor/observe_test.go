package predictor_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/streamlearn/streamlearn/join/joinstore"
	"github.com/streamlearn/streamlearn/learner"
	"github.com/streamlearn/streamlearn/predictor"
	"github.com/streamlearn/streamlearn/wire"
)

// slowOutput takes at least d to make predictions durable.
type slowOutput struct {
	captureOutput
	d time.Duration
}

func (o *slowOutput) Predictions(ctx context.Context, ps []wire.Prediction) error {
	time.Sleep(o.d) // the work being timed, not synchronization
	return o.captureOutput.Predictions(ctx, ps)
}

// TestStreamObservesEachStageOncePerBatch checks the Observe hook: one call per stage per batch,
// and the time spent producing lands on the produce stage.
func TestStreamObservesEachStageOncePerBatch(t *testing.T) {
	e := newEnv(t)
	out := &slowOutput{d: 20 * time.Millisecond}
	calls := map[string][]time.Duration{}
	s := &predictor.Stream{Features: e.store, Models: e.models, Router: router(t, predictor.Config{}),
		Join: joinstore.NewStore(e.rdb, e.prefix, time.Hour), Out: out,
		Observe: func(stage string, d time.Duration) { calls[stage] = append(calls[stage], d) }}
	if err := e.loader.Sync(context.Background(), "default"); err != nil {
		t.Fatal(err)
	}
	for b := range 3 {
		evs := make([]wire.Event, 50)
		for i := range evs {
			evs[i] = wire.Event{ID: fmt.Sprintf("b%d-%d", b, i), Entity: fmt.Sprintf("u%d", i), Time: time.Now(), Fields: map[string]any{"amount": float64(i)}}
		}
		if err := s.Handle(context.Background(), evs); err != nil {
			t.Fatal(err)
		}
	}
	if len(calls) != 4 {
		t.Errorf("stages observed: %v, want features, score, produce and join", calls)
	}
	for _, stage := range []string{predictor.StageFeatures, predictor.StageScore, predictor.StageProduce, predictor.StageJoin} {
		if got := len(calls[stage]); got != 3 {
			t.Errorf("stage %s observed %d times over 3 batches, want 3", stage, got)
		}
		for _, d := range calls[stage] {
			if d < 0 {
				t.Errorf("stage %s: negative duration %s", stage, d)
			}
		}
	}
	for _, d := range calls[predictor.StageProduce] {
		if d < out.d {
			t.Errorf("produce observed %s; the output took at least %s", d, out.d)
		}
	}
}

// TestLoaderRecordsVersionTimes checks that a loaded version carries its publication time and
// the event time of its newest example, for the freshness metrics.
func TestLoaderRecordsVersionTimes(t *testing.T) {
	e := newEnv(t)
	tr, err := learner.NewTrainer(spec("default"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := tr.Snapshot().MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	to := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	before := time.Now().Add(-time.Second)
	v, err := e.reg.Publish(context.Background(), learner.Version{Model: "default", Spec: tr.Spec(), From: to.Add(-time.Hour), To: to}, b, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.reg.Promote(context.Background(), "default", v.Version, "test", false, false); err != nil {
		t.Fatal(err)
	}
	if err := e.loader.Sync(context.Background(), "default"); err != nil {
		t.Fatal(err)
	}
	s := e.models.Get("default")
	if s == nil || s.Version != v.Version {
		t.Fatalf("serving %+v, want version %d", s, v.Version)
	}
	if !s.DataTo.Equal(to) || s.CreatedAt.Before(before) || s.CreatedAt.After(time.Now()) || !s.CreatedAt.Equal(v.CreatedAt) {
		t.Errorf("served CreatedAt %v DataTo %v; want the version's %v and %v", s.CreatedAt, s.DataTo, v.CreatedAt, to)
	}
}
