package runner_test

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamlearn/streamlearn/learner"
	"github.com/streamlearn/streamlearn/learner/runner"
	"github.com/streamlearn/streamlearn/wire"
)

// learnedOnce runs a learner over the first n examples until its version covers them, and stops it.
func (f *fixture) learnedOnce(t *testing.T, n int) learner.Version {
	t.Helper()
	f.produce(t, 0, n)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.runner(0, nil).Run(ctx) }()
	f.waitLearned(t, int64(n))
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	live, err := f.reg.Live(context.Background(), "m")
	if err != nil {
		t.Fatal(err)
	}
	return live
}

// deltaRunner is a learner that publishes versions only when told to stop (or a delta is
// oversize), and deltas every 20ms.
func (f *fixture) deltaRunner() *runner.Runner {
	r := f.runner(0, nil)
	r.PublishInterval, r.Deltas, r.DeltaInterval = time.Hour, f.reg, 20*time.Millisecond
	r.Producer, r.ModelsTopic = f.producer, "models"
	return r
}

func (f *fixture) waitDelta(t *testing.T, examples int64) *learner.Delta {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		d, err := f.reg.Delta(context.Background(), "m")
		if err != nil {
			t.Fatal(err)
		}
		if d != nil && d.Examples >= examples {
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("no delta of %d examples; the newest: %+v", examples, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRunnerSendsDeltasBetweenPublishes: between two versions the learner broadcasts what it
// learned as a delta of the live version (announced on the models topic), which turns that
// version's weights into exactly the trainer's; no version is published for it, and the next
// publish ends the deltas of the old version.
func TestRunnerSendsDeltasBetweenPublishes(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 2000, 0)
	live := f.learnedOnce(t, 1000)

	var sent atomic.Int64
	r := f.deltaRunner()
	r.OnDelta = func(d *learner.Delta, oversize bool) {
		if !oversize {
			sent.Add(1)
		}
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(rctx) }()
	f.produce(t, 1000, 2000)
	d := f.waitDelta(t, 2000)
	if now, _ := f.reg.Live(ctx, "m"); now.Version != live.Version || d.Base != live.Version || d.Seq < 1 {
		t.Fatalf("live version %d and delta %d.%d, want deltas of version %d and no new version", now.Version, d.Base, d.Seq, live.Version)
	}

	// What the learner knows after 2000 examples: a trainer that learned them in order.
	tr, err := learner.NewTrainer(r.Spec)
	if err != nil {
		t.Fatal(err)
	}
	for _, ex := range f.examples {
		tr.Learn(ex.Features, learner.Label{Value: ex.Label})
	}
	want := tr.Snapshot()
	b, err := f.reg.Snapshot(ctx, "m", live.Version)
	if err != nil {
		t.Fatal(err)
	}
	base, err := learner.UnmarshalSnapshot(b)
	if err != nil {
		t.Fatal(err)
	}
	got, err := base.Apply(d)
	if err != nil {
		t.Fatal(err)
	}
	differs := false
	for i, ex := range f.examples {
		if g, w := got.Predict(ex.Features).Score, want.Predict(ex.Features).Score; g != w {
			t.Fatalf("example %d: version %d with delta %d scores %v, the trainer %v", i, d.Base, d.Seq, g, w)
		}
		differs = differs || base.Predict(ex.Features).Score != want.Predict(ex.Features).Score
	}
	if !differs {
		t.Fatal("the base version scores as the trainer: the delta shows nothing")
	}
	if !announced(t, f.brokers, live.Version) {
		t.Fatal("no delta announced on the models topic")
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	next, _ := f.reg.Live(ctx, "m")
	if left, err := f.reg.Delta(ctx, "m"); err != nil || left != nil || next.Version == live.Version || sent.Load() < 1 {
		t.Fatalf("after the final publish (version %d): delta %+v, %v; %d sent", next.Version, left, err, sent.Load())
	}
}

// announced reports whether the models topic holds a delta announcement of base.
func announced(t *testing.T, brokers string, base int64) bool {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.ConsumeTopics("models"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		found := false
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			var a wire.Announcement
			if json.Unmarshal(r.Value, &a) == nil && a.Event == wire.EventDelta && a.Version == base {
				found = true
			}
		})
		if found {
			return true
		}
	}
	return false
}

// TestOversizeDeltaPublishesAVersion: a delta over the bound is never sent; versions go on.
func TestOversizeDeltaPublishesAVersion(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 2000, 0)
	live := f.learnedOnce(t, 1000)
	var oversize, sent atomic.Int64
	r := f.deltaRunner()
	r.PublishInterval, r.DeltaMaxRows = 400*time.Millisecond, 1
	r.OnDelta = func(d *learner.Delta, over bool) {
		if over {
			oversize.Add(1)
		} else {
			sent.Add(1)
		}
	}
	run(t, r)
	f.produce(t, 1000, 2000)
	f.waitLearned(t, 2000)
	d, err := f.reg.Delta(ctx, "m")
	if oversize.Load() < 1 || sent.Load() != 0 || err != nil || d != nil {
		t.Fatalf("%d oversize, %d sent; stored delta %+v, %v (version %d before)", oversize.Load(), sent.Load(), d, err, live.Version)
	}
}
