package runner_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamlearn/streamlearn/features"
	"github.com/streamlearn/streamlearn/internal/synth"
	"github.com/streamlearn/streamlearn/internal/testenv"
	"github.com/streamlearn/streamlearn/learner"
	"github.com/streamlearn/streamlearn/learner/registry"
	"github.com/streamlearn/streamlearn/learner/runner"
	"github.com/streamlearn/streamlearn/wire"
)

func TestMain(m *testing.M) { testenv.Main(m) }

type fixture struct {
	brokers  string
	reg      *registry.Registry
	producer *kgo.Client
	examples []wire.Example
	mu       sync.Mutex
	events   []runner.RetrainEvent
}

// newFixture: a stream whose concept flips at event drift (the synthetic country effects invert).
func newFixture(t *testing.T, n, drift int) *fixture {
	t.Helper()
	f := &fixture{brokers: testenv.Kafka(t, 1, "examples", "models")}
	rdb := goredis.NewClient(&goredis.Options{Addr: testenv.Redis(t)})
	t.Cleanup(func() { rdb.Close() })
	f.reg = registry.NewRegistry(rdb, fmt.Sprintf("rt:%s:%d:", t.Name(), time.Now().UnixNano()))
	var err error
	if f.producer, err = kgo.NewClient(kgo.SeedBrokers(f.brokers)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.producer.Close)
	g := synth.New(synth.Config{Seed: 9, Entities: 1000, Start: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), Step: time.Second, DriftAt: drift})
	for range n {
		ev := g.Next()
		v := features.RawVector(wire.Event{ID: ev.ID, Time: ev.Time, Fields: ev.Fields})
		f.examples = append(f.examples, wire.Example{Pending: wire.Pending{ID: ev.ID, Time: ev.Time, Features: v, Model: "m"}, Label: float64(ev.Label)})
	}
	return f
}

func (f *fixture) produce(t *testing.T, from, to int) {
	t.Helper()
	recs := make([]*kgo.Record, 0, to-from)
	for _, ex := range f.examples[from:to] {
		b, _ := json.Marshal(ex)
		recs = append(recs, &kgo.Record{Topic: "examples", Value: b})
	}
	if err := f.producer.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) runner(margin float64, cmds chan runner.Command) *runner.Runner {
	spec := learner.DefaultSpec()
	spec.Name = "m"
	return &runner.Runner{
		Spec: spec, Registry: f.reg, ClientOpts: []kgo.Opt{kgo.SeedBrokers(f.brokers)}, ExamplesTopic: "examples",
		PublishInterval: 50 * time.Millisecond, AutoPromote: true, MetricsWindow: 1000, Commands: cmds,
		Retrain:   learner.RetrainPolicy{MinOutcomes: 1500, Margin: margin, MaxShadow: time.Minute},
		OnRetrain: func(ev runner.RetrainEvent) { f.mu.Lock(); f.events = append(f.events, ev); f.mu.Unlock() },
	}
}

func (f *fixture) waitLearned(t *testing.T, n int64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if live, err := f.reg.Live(context.Background(), "m"); err == nil && live.Examples >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the learner did not reach %d examples", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (f *fixture) steps() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var s []string
	for _, ev := range f.events {
		s = append(s, ev.Step)
	}
	return strings.Join(s, ",")
}

func run(t *testing.T, r *runner.Runner) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("runner: %v", err)
		}
	})
}

// TestRetrainAfterConceptDriftPromotes: after the concept flips, a challenger trained only on the
// examples since the change beats the champion (which learned the old concept for longer) on the
// next outcomes, and takes over.
func TestRetrainAfterConceptDriftPromotes(t *testing.T) {
	const n, change = 12000, 6000
	f := newFixture(t, n, change)
	cmds := make(chan runner.Command, 1)
	run(t, f.runner(0, cmds))
	f.produce(t, 0, 8000)
	f.waitLearned(t, 8000)

	done := make(chan struct{})
	cmds <- runner.Command{RetrainCommand: wire.RetrainCommand{Command: wire.CommandRetrain, Model: "m", AlertID: "m:concept_drift:x",
		From: f.examples[change].Time, To: f.examples[8000].Time}, Done: func() { close(done) }}
	time.Sleep(300 * time.Millisecond) // the runner picks the command up between polls
	f.produce(t, 8000, n)
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatalf("retrain not finished; steps so far: %s", f.steps())
	}
	if got := f.steps(); got != "training,shadow,promoted" {
		t.Fatalf("steps = %s; events %+v", got, f.events)
	}
	last := f.events[2]
	if !(last.ChallengerMetric > last.ChampionMetric) {
		t.Errorf("promoted a challenger with AUC %.4f vs champion %.4f", last.ChallengerMetric, last.ChampionMetric)
	}
	champ, _ := f.reg.Champion(context.Background(), "m")
	v, err := f.reg.Get(context.Background(), "m", champ)
	if err != nil || !strings.Contains(v.Note, "retrained for m:concept_drift:x") {
		t.Fatalf("champion %d = %+v, %v; want the retrained version", champ, v, err)
	}
	hist, _ := f.reg.History(context.Background(), "m")
	if len(hist) == 0 || hist[0].Version != champ {
		t.Errorf("champion history = %+v, want the retrain promotion on top", hist)
	}
	retrained := f.wantRetained(t, learner.SnapshotRetrain, "retrained for m:concept_drift:x")
	if retrained.Report == nil {
		t.Fatalf("the retrained snapshot %+v has no report", retrained)
	}
	if g := retrained.Report.Gate; g == nil || !g.Promoted || g.N != 1500 || g.ChallengerMetric != last.ChallengerMetric || g.ChampionMetric != last.ChampionMetric {
		t.Errorf("gate of the retrained version = %+v, want the decision %+v", retrained.Report.Gate, last)
	}
	t.Logf("challenger AUC %.4f vs champion %.4f", last.ChallengerMetric, last.ChampionMetric)
}

// TestRetrainOnStableStreamIsRejected: with nothing to gain, the challenger does not take over.
func TestRetrainOnStableStreamIsRejected(t *testing.T) {
	f := newFixture(t, 7000, 0)
	cmds := make(chan runner.Command, 1)
	run(t, f.runner(0.05, cmds))
	f.produce(t, 0, 4000)
	f.waitLearned(t, 4000)
	before, _ := f.reg.Champion(context.Background(), "m")
	done := make(chan struct{})
	cmds <- runner.Command{RetrainCommand: wire.RetrainCommand{Command: wire.CommandRetrain, Model: "m", AlertID: "m:feature_drift:y",
		From: f.examples[3000].Time, To: f.examples[4000].Time}, Done: func() { close(done) }}
	time.Sleep(300 * time.Millisecond)
	f.produce(t, 4000, 7000)
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatalf("retrain not finished; steps so far: %s", f.steps())
	}
	if got := f.steps(); got != "training,shadow,rejected" {
		t.Fatalf("steps = %s", got)
	}
	champ, _ := f.reg.Champion(context.Background(), "m")
	v, _ := f.reg.Get(context.Background(), "m", champ)
	if strings.Contains(v.Note, "retrained") || champ < before {
		t.Errorf("champion %d note %q after a rejected retrain", champ, v.Note)
	}
	kept := f.wantRetained(t, learner.SnapshotRetrain, "champion kept after retrain for m:feature_drift:y")
	if kept.Report == nil {
		t.Fatalf("the kept champion's snapshot %+v has no report", kept)
	}
	if g := kept.Report.Gate; g == nil || g.Promoted || g.N != 1500 || g.Margin != 0.05 || g.ChallengerMetric >= g.ChampionMetric+g.Margin {
		t.Errorf("gate of the kept champion = %+v", kept.Report.Gate)
	}
}

// wantRetained checks that a snapshot of kind with note is retained and returns it.
func (f *fixture) wantRetained(t *testing.T, kind, note string) learner.Version {
	t.Helper()
	vs, err := f.reg.List(context.Background(), "m")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		if v.Kind == kind && v.Note == note {
			return v
		}
	}
	t.Fatalf("no %s snapshot %q among %+v", kind, note, vs)
	return learner.Version{}
}

// countingBackend is the CPU backend recording the largest batch its models learned.
type countingBackend struct {
	learner.CPUBackend
	mu      sync.Mutex
	maxRows int
}

func (b *countingBackend) NewModels(s learner.Shape, h []learner.Hyper) (learner.Models, error) {
	m, err := b.CPUBackend.NewModels(s, h)
	return &countingModels{StatefulModels: m.(learner.StatefulModels), b: b}, err
}

type countingModels struct {
	learner.StatefulModels
	b *countingBackend
}

func (m *countingModels) Gradient(batch *learner.Batch, out []float64) error {
	m.b.mu.Lock()
	m.b.maxRows = max(m.b.maxRows, batch.Rows)
	m.b.mu.Unlock()
	return m.StatefulModels.Gradient(batch, out)
}

// TestRunnerLearnsMinibatchesOnABackend: with a Backend the runner learns in minibatches of at most
// Batch, publishes, and its checkpoint resumes on the CPU trainer (one example at a time), which goes
// on from exactly where the minibatch trainer stopped.
func TestRunnerLearnsMinibatchesOnABackend(t *testing.T) {
	f := newFixture(t, 4000, 0)
	backend := &countingBackend{}
	r := f.runner(0, nil)
	r.Backend, r.Batch = backend, 128
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	f.produce(t, 0, 3000)
	f.waitLearned(t, 3000)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if backend.maxRows < 2 || backend.maxRows > 128 {
		t.Fatalf("largest batch learned: %d rows, want 2..128", backend.maxRows)
	}
	live, err := f.reg.Live(context.Background(), "m")
	if err != nil || live.Examples != 3000 || !(live.Metrics.AUC > 0.6) {
		t.Fatalf("last version %+v, %v", live, err)
	}
	cpu := f.runner(0, nil) // no backend: Online, from the minibatch trainer's checkpoint
	run(t, cpu)
	f.produce(t, 3000, 4000)
	f.waitLearned(t, 4000)
	live, _ = f.reg.Live(context.Background(), "m")
	if live.Examples != 4000 {
		t.Fatalf("after resuming on the CPU: %d examples, want exactly 4000", live.Examples)
	}
}
