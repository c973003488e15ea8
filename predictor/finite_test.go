package predictor_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/streamlearn/streamlearn/ingest"
	"github.com/streamlearn/streamlearn/join/joinstore"
	"github.com/streamlearn/streamlearn/learner"
	"github.com/streamlearn/streamlearn/predictor"
	"github.com/streamlearn/streamlearn/wire"
)

// brokenSnapshot is a model whose weights for a and b are ±1e308: finite, but a score of a = b = 10
// sums +Inf and -Inf, which is NaN (a model from outside the learner, say an imported one).
func brokenSnapshot(t *testing.T) *learner.Snapshot {
	t.Helper()
	s := spec("default")
	s.Standardize = false
	tr, err := learner.NewTrainer(s)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		tr.Learn(wire.Vector{{Name: "a", Value: 1}, {Name: "b", Value: 1}}, learner.Label{Value: 1})
	}
	b, err := tr.Snapshot().MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	// The snapshot ends in the rows of a and b: slot (4 bytes), mean, scale and weight (8 each).
	binary.LittleEndian.PutUint64(b[len(b)-8:], math.Float64bits(1e308))
	binary.LittleEndian.PutUint64(b[len(b)-36:], math.Float64bits(-1e308))
	snap, err := learner.UnmarshalSnapshot(b)
	if err != nil {
		t.Fatal(err)
	}
	if p := snap.Predict(wire.Vector{{Name: "a", Value: 10}, {Name: "b", Value: 10}}); !math.IsNaN(p.Score) {
		t.Fatalf("broken snapshot scores %v, want NaN", p.Score)
	}
	return snap
}

// TestScoreNotFiniteIsAnError checks that a score that is not a number is answered with a 500 and a
// JSON error, not a 200 without a score.
func TestScoreNotFiniteIsAnError(t *testing.T) {
	e := newEnv(t)
	api := e.api(t, router(t, predictor.Config{}))
	e.models.Swap(&predictor.Served{Model: "default", Version: 1, Snapshot: brokenSnapshot(t)})
	srv := serve(t, api)
	body := `{"id": "x", "fields": {"a": 10, "b": 10}}`
	var got predictor.Error
	if code := post(t, nil, srv.URL+"/v1/score?explain=1", body, &got); code != 500 || got.Reason != predictor.ReasonInternal || got.Error == "" {
		t.Errorf("POST %s = %d %+v, want 500 reason internal", body, code, got)
	}
	// In a batch the event that cannot be scored gets its own 500 error; the other is scored.
	body = `{"events": [{"id": "y", "fields": {"a": 1}}, {"id": "x", "fields": {"a": 10, "b": 10}}]}`
	var batch struct {
		Results []map[string]any `json:"results"`
		Errors  int              `json:"errors"`
	}
	if code := post(t, nil, srv.URL+"/v1/score?explain=1", body, &batch); code != 200 || batch.Errors != 1 || len(batch.Results) != 2 {
		t.Fatalf("POST %s = %d %+v, want 200 with 1 error in 2 results", body, code, batch)
	}
	if r := batch.Results[0]; r["id"] != "y" || r["error"] != nil {
		t.Errorf("results[0] = %v, want the score of y", r)
	}
	if r := batch.Results[1]; r["code"] != 500.0 || r["reason"] != predictor.ReasonInternal || r["index"] != 1.0 || r["field"] != "events[1]" || r["score"] != nil {
		t.Errorf("results[1] = %v, want a 500 internal error at index 1", r)
	}
	var ok predictor.Score
	if code := post(t, nil, srv.URL+"/v1/score", `{"id": "z", "fields": {"a": 1}}`, &ok); code != 200 || ok.ID != "z" {
		t.Errorf("POST of a scorable event = %d %+v, want 200", code, ok)
	}
}

// TestStreamScoreNotFiniteIsPermanent checks that stream scoring fails an event whose score is not
// a number as a permanent error (the consumer dead-letters it) instead of producing it.
func TestStreamScoreNotFiniteIsPermanent(t *testing.T) {
	e := newEnv(t)
	r := router(t, predictor.Config{})
	e.models.Swap(&predictor.Served{Model: "default", Version: 1, Snapshot: brokenSnapshot(t)})
	out := &captureOutput{}
	s := &predictor.Stream{Features: e.store, Models: e.models, Router: r, Join: joinstore.NewStore(e.rdb, e.prefix, time.Hour), Out: out}
	err := s.Handle(context.Background(), []wire.Event{{ID: "x", Time: time.Now(), Fields: map[string]any{"a": 10.0, "b": 10.0}}})
	if err == nil || ingest.IsTransient(err) {
		t.Fatalf("Handle = %v, want a permanent error", err)
	}
	if len(out.preds) != 0 {
		t.Errorf("produced %v", out.preds)
	}
}

// TestScoreAfterHugeLabel checks, through /v1/score, that a regression model that learned one label
// of 1e300 still gives finite scores that tell amounts apart.
func TestScoreAfterHugeLabel(t *testing.T) {
	e := newEnv(t)
	s := spec("default")
	s.Task = learner.Regression
	tr, err := learner.NewTrainer(s)
	if err != nil {
		t.Fatal(err)
	}
	learn := func(n int) {
		for i := range n {
			a := float64(1 + i%100)
			tr.Learn(wire.Vector{{Name: "amount", Value: a}}, learner.Label{Value: 3 * a})
		}
	}
	learn(500)
	tr.Learn(wire.Vector{{Name: "amount", Value: 50}}, learner.Label{Value: 1e300})
	learn(100)
	e.models.Swap(&predictor.Served{Model: "default", Version: 1, Snapshot: tr.Snapshot()})
	api := &predictor.API{Features: e.store, Models: e.models, Registry: e.reg, Router: router(t, predictor.Config{}),
		Limits: ingest.DefaultLimits()}
	srv := serve(t, api)
	score := func(amount float64) float64 {
		var got predictor.Score
		body := fmt.Sprintf(`{"id": "x-%v", "fields": {"amount": %v}}`, amount, amount)
		if code := post(t, nil, srv.URL+"/v1/score?explain=1", body, &got); code != 200 {
			t.Fatalf("POST %s = %d", body, code)
		}
		return got.Score
	}
	lo, hi := score(1), score(90)
	if !(hi-lo > 50) {
		t.Errorf("score of amount 1 = %v, of 90 = %v; want them more than 50 apart", lo, hi)
	}
}
