package predictor_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamlearn/streamlearn/ingest"
	"github.com/streamlearn/streamlearn/internal/testenv"
	"github.com/streamlearn/streamlearn/learner"
	"github.com/streamlearn/streamlearn/predictor"
	"github.com/streamlearn/streamlearn/wire"
)

// deltaEnv is a predictor env whose loader applies deltas, counting them by result, with a
// learner's trainer whose versions it publishes and promotes automatically (as the runner does).
type deltaEnv struct {
	*env
	tr      learner.Trainer
	base    *learner.Snapshot // the weights of the last version published
	mu      sync.Mutex
	results map[string]int
}

func newDeltaEnv(t *testing.T) *deltaEnv {
	t.Helper()
	e := &deltaEnv{env: newEnv(t), tr: trained(t, "default", 0), results: map[string]int{}}
	e.loader.Deltas = e.reg
	e.loader.OnDelta = func(_, result string) { e.mu.Lock(); e.results[result]++; e.mu.Unlock() }
	return e
}

func (e *deltaEnv) count(result string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.results[result]
}

// publishLive publishes the trainer's weights as the live version and promotes it automatically.
func (e *deltaEnv) publishLive(t *testing.T) int64 {
	t.Helper()
	b, err := e.tr.Snapshot().MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	v, err := e.reg.Publish(context.Background(), learner.Version{Model: "default", Spec: e.tr.Spec(), Examples: e.tr.Seen()}, b, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.reg.Promote(context.Background(), "default", v.Version, "auto", false, false); err != nil {
		t.Fatal(err)
	}
	e.base = e.tr.Snapshot()
	return v.Version
}

// learnMore teaches the trainer a pattern the first examples did not have.
func (e *deltaEnv) learnMore(seed int) {
	for i := range 300 {
		e.tr.Learn(wire.Vector{{Name: "amount", Value: float64((i+seed)%10) / 10}, {Name: "country=JP", Value: 1}}, learner.Label{Value: 1})
	}
}

// sendDelta stores the trainer's change since the last version published as delta seq of base.
func (e *deltaEnv) sendDelta(t *testing.T, base, seq int64) {
	t.Helper()
	d, err := learner.NewDelta(e.base, e.tr.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	d.Model, d.Base, d.Seq, d.CreatedAt, d.ArrivedTo = "default", base, seq, time.Now(), time.Now()
	if err := e.reg.PublishDelta(context.Background(), d, ""); err != nil {
		t.Fatal(err)
	}
}

// probe is an event the extra learning changes the score of.
var probe = wire.Vector{{Name: "amount", Value: 0.3}, {Name: "country=JP", Value: 1}}

// wantServing fails unless model default serves version with delta seq, scoring the probe as want.
func (e *deltaEnv) wantServing(t *testing.T, models *predictor.Models, version, seq int64, want *learner.Snapshot) {
	t.Helper()
	s := models.Get("default")
	if s == nil || s.Version != version || s.DeltaSeq != seq {
		t.Fatalf("serving %+v, want version %d with delta %d", s, version, seq)
	}
	if got, w := s.Snapshot.Predict(probe).Score, want.Predict(probe).Score; got != w {
		t.Fatalf("version %d delta %d scores the probe %v, want %v", version, seq, got, w)
	}
}

// TestDeltaChangesScoresWithoutAVersion: a delta of the version serving moves its scores to the
// learner's without a publish; an older or repeated delta changes nothing; a predictor that
// starts later serves the version with its delta at once.
func TestDeltaChangesScoresWithoutAVersion(t *testing.T) {
	ctx := context.Background()
	e := newDeltaEnv(t)
	v1 := e.publishLive(t)
	if err := e.loader.Serve(ctx, "default", nil); err != nil {
		t.Fatal(err)
	}
	before := e.models.Get("default").Snapshot.Predict(probe).Score
	e.learnMore(0)
	e.sendDelta(t, v1, 1)
	if err := e.loader.Delta(ctx, "default"); err != nil {
		t.Fatal(err)
	}
	e.wantServing(t, e.models, v1, 1, e.tr.Snapshot())
	if after := e.models.Get("default").Snapshot.Predict(probe).Score; after == before {
		t.Fatalf("the probe scores %v before and after the delta", after)
	}
	if live, _ := e.reg.Live(ctx, "default"); live.Version != v1 {
		t.Fatalf("live version %d, want %d: a delta is no version", live.Version, v1)
	}

	// Cumulative: delta 2 holds the changes of delta 1 too, and applies to the version as loaded.
	e.learnMore(5)
	e.sendDelta(t, v1, 2)
	if err := e.loader.Delta(ctx, "default"); err != nil {
		t.Fatal(err)
	}
	e.wantServing(t, e.models, v1, 2, e.tr.Snapshot())
	// Its scores say so: the base version and the delta.
	api := &predictor.API{Features: e.store, Models: e.models, Registry: e.reg, Router: router(t, predictor.Config{}), Loader: e.loader,
		Limits: ingest.DefaultLimits(), MaxBodyBytes: 64 << 10, MaxEvents: 50}
	var sc predictor.Score
	if code := post(t, nil, serve(t, api).URL+"/v1/score", `{"id": "d", "fields": {"amount": 3}}`, &sc); code != 200 || sc.Version != v1 || sc.Delta != 2 {
		t.Fatalf("score with delta 2 of version %d: %d %+v", v1, code, sc)
	}
	served := e.models.Get("default")
	if err := e.loader.Delta(ctx, "default"); err != nil || e.models.Get("default") != served {
		t.Fatalf("delta 2 again: %v, swapped %v", err, e.models.Get("default") != served)
	}
	if e.count(predictor.DeltaApplied) != 2 || e.count(predictor.DeltaSkipped) != 0 {
		t.Fatalf("results %v, want 2 applied", e.results)
	}

	// A predictor that starts now (or restarts) loads the version and catches up.
	restarted := predictor.NewModels()
	l := &predictor.Loader{Registry: e.reg, Models: restarted, Bootstrap: spec("default"), Deltas: e.reg}
	if err := l.Serve(ctx, "default", nil); err != nil {
		t.Fatal(err)
	}
	e.wantServing(t, restarted, v1, 2, e.tr.Snapshot())
}

// TestDeltaOfAnotherVersionLoadsFully: a delta whose base is not the version serving is never
// applied to it: the predictor loads the champion (and applies the delta when that is its base);
// a delta of an older version is skipped.
func TestDeltaOfAnotherVersionLoadsFully(t *testing.T) {
	ctx := context.Background()
	e := newDeltaEnv(t)
	v1 := e.publishLive(t)
	v1Weights := e.base
	if err := e.loader.Serve(ctx, "default", nil); err != nil {
		t.Fatal(err)
	}
	e.learnMore(0)
	v2 := e.publishLive(t) // not announced: this predictor still serves v1
	e.learnMore(5)
	e.sendDelta(t, v2, 1)
	if err := e.loader.Delta(ctx, "default"); err != nil {
		t.Fatal(err)
	}
	e.wantServing(t, e.models, v2, 1, e.tr.Snapshot())
	if e.count(predictor.DeltaSkipped) != 1 || e.count(predictor.DeltaApplied) != 1 {
		t.Fatalf("results %v, want 1 skipped, 1 applied (after the full load)", e.results)
	}

	// A delta of the older version (a learner that lost its lease, say) is not applied to v2.
	e.learnMore(9)
	e.base = v1Weights
	e.sendDelta(t, v1, 7)
	if err := e.loader.Delta(ctx, "default"); err != nil {
		t.Fatal(err)
	}
	if s := e.models.Get("default"); s.Version != v2 || s.DeltaSeq != 1 || e.count(predictor.DeltaSkipped) != 2 {
		t.Fatalf("after a delta of version %d: serving %d.%d, results %v", v1, s.Version, s.DeltaSeq, e.results)
	}
}

// TestPinnedVersionServesWithoutDeltas: a version pinned by hand serves as published, without the
// deltas it had as the live version, and later deltas of it are skipped.
func TestPinnedVersionServesWithoutDeltas(t *testing.T) {
	ctx := context.Background()
	e := newDeltaEnv(t)
	v1 := e.publishLive(t)
	published := e.tr.Snapshot()
	if err := e.loader.Serve(ctx, "default", nil); err != nil {
		t.Fatal(err)
	}
	e.learnMore(0)
	e.sendDelta(t, v1, 1)
	if err := e.loader.Delta(ctx, "default"); err != nil {
		t.Fatal(err)
	}
	e.wantServing(t, e.models, v1, 1, e.tr.Snapshot())
	if err := e.loader.Change(ctx, "default", func(ctx context.Context) error {
		_, err := e.reg.Promote(ctx, "default", v1, "pin it", true, true)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	e.wantServing(t, e.models, v1, 0, published)
	e.learnMore(5)
	e.sendDelta(t, v1, 2)
	if err := e.loader.Delta(ctx, "default"); err != nil {
		t.Fatal(err)
	}
	e.wantServing(t, e.models, v1, 0, published)
}

// TestLoaderAppliesAnnouncedDeltas: a delta announced on the models topic serves at once.
func TestLoaderAppliesAnnouncedDeltas(t *testing.T) {
	ctx := context.Background()
	e := newDeltaEnv(t)
	broker := testenv.Kafka(t, 1, "models")
	v1 := e.publishLive(t)
	if err := e.loader.Serve(ctx, "default", nil); err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(broker), kgo.ConsumeTopics("models"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- e.loader.Run(rctx, cl, nil, time.Hour) }()
	defer func() { cancel(); <-done }()
	producer, err := kgo.NewClient(kgo.SeedBrokers(broker))
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	e.learnMore(0)
	e.sendDelta(t, v1, 1)
	b, _ := json.Marshal(wire.Announcement{Model: "default", Version: v1, Event: wire.EventDelta, Time: time.Now()})
	if err := producer.ProduceSync(ctx, &kgo.Record{Topic: "models", Value: b}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for e.models.Get("default").DeltaSeq != 1 {
		if time.Now().After(deadline) {
			t.Fatal("delta announced, not applied")
		}
		time.Sleep(10 * time.Millisecond)
	}
	e.wantServing(t, e.models, v1, 1, e.tr.Snapshot())
}

// TestChampionGoneServesLive: a learner killed between publishing a new live head and promoting it
// leaves a champion that is neither retained nor live; a process that starts then serves the live
// head, as the promotion would have made it, instead of failing to start.
func TestChampionGoneServesLive(t *testing.T) {
	ctx := context.Background()
	e := newDeltaEnv(t)
	v1 := e.publishLive(t) // live and champion, not retained
	e.learnMore(0)
	b, err := e.tr.Snapshot().MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	v2, err := e.reg.Publish(ctx, learner.Version{Model: "default", Spec: e.tr.Spec(), Examples: e.tr.Seen()}, b, nil)
	if err != nil {
		t.Fatal(err)
	}
	// ... and no promotion: the learner was killed here.
	if champ, _ := e.reg.Champion(ctx, "default"); champ != v1 {
		t.Fatalf("champion %d, want %d", champ, v1)
	}
	if err := e.loader.Sync(ctx, "default"); err != nil {
		t.Fatalf("a process starting after the kill: %v", err)
	}
	if s := e.models.Get("default"); s == nil || s.Version != v2.Version {
		t.Fatalf("serving %+v, want the live version %d", s, v2.Version)
	}
}
