package runner_test

import (
	"context"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamlearn/streamlearn/eval"
	"github.com/streamlearn/streamlearn/learner"
	"github.com/streamlearn/streamlearn/learner/runner"
)

// TestRunnerRetainsScheduledSnapshotsWithHeldOutReports: publishes only move the live head; a
// snapshot is retained when the injected clock has moved an interval on, and each snapshot gets a
// report on exactly the examples that came after it, which equals its own scores on them.
func TestRunnerRetainsScheduledSnapshotsWithHeldOutReports(t *testing.T) {
	f := newFixture(t, 3000, 0)
	var mu sync.Mutex
	clock := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	var reports []learner.Version
	r := f.runner(0, nil)
	r.ReportOutcomes = 400
	r.Segments = []string{"country", "nope"}
	r.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	r.OnReport = func(v learner.Version) { mu.Lock(); reports = append(reports, v); mu.Unlock() }
	run(t, r)

	produced := time.Now()
	f.produce(t, 0, 1000)
	f.waitLearned(t, 1000)
	f.produce(t, 1000, 2000)
	f.waitLearned(t, 2000)
	// The clock stood still: only the first publish was retained.
	vs, err := f.reg.List(context.Background(), "m")
	if err != nil || len(vs) != 1 || vs[0].Kind != learner.SnapshotScheduled || vs[0].Binary == "" {
		t.Fatalf("retained %+v, %v; want one scheduled snapshot", vs, err)
	}
	live, _ := f.reg.Live(context.Background(), "m")
	if live.Version <= vs[0].Version || live.Kind != "" || live.Parent != vs[0].Version {
		t.Fatalf("live %+v, want a newer unretained version", live)
	}
	// Its newest example's arrival: the Kafka timestamp of one of the examples produced above.
	if live.ArrivedTo.Before(produced.Add(-time.Second)) || live.ArrivedTo.After(time.Now()) || !live.ArrivedTo.After(vs[0].ArrivedTo.Add(-time.Nanosecond)) {
		t.Errorf("live version arrived_to %v (snapshot's %v), want a time since %v", live.ArrivedTo, vs[0].ArrivedTo, produced)
	}
	mu.Lock()
	clock = clock.Add(time.Hour)
	mu.Unlock()
	f.produce(t, 2000, 3000)
	f.waitLearned(t, 3000)
	vs, _ = f.reg.List(context.Background(), "m")
	if len(vs) != 2 || !vs[0].CreatedAt.Equal(clock) || vs[0].Parent != vs[1].Version || vs[1].Parent != 0 {
		t.Fatalf("retained %+v, want a second snapshot at %s", vs, clock)
	}

	first := vs[1]
	deadline := time.Now().Add(30 * time.Second)
	for first.Report == nil {
		if time.Now().After(deadline) {
			t.Fatalf("no report for version %d", first.Version)
		}
		time.Sleep(20 * time.Millisecond)
		first, _ = f.reg.Get(context.Background(), "m", first.Version)
	}
	b, err := f.reg.Snapshot(context.Background(), "m", first.Version)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := learner.UnmarshalSnapshot(b)
	if err != nil {
		t.Fatal(err)
	}
	// Held out: the 400 examples after those it learned.
	var scores, labels []float64
	bySeg := map[string][2][]float64{}
	for _, ex := range f.examples[first.Examples : first.Examples+400] {
		s := snap.Predict(ex.Features).Score
		scores = append(scores, s)
		labels = append(labels, ex.Label)
		for _, ft := range ex.Features {
			if strings.HasPrefix(ft.Name, "country=") {
				sl := bySeg[ft.Name]
				bySeg[ft.Name] = [2][]float64{append(sl[0], s), append(sl[1], ex.Label)}
			}
		}
	}
	rep := first.Report
	h := rep.HeldOut
	if h == nil || h.N != 400 || h.AUC != eval.AUC(scores, labels) || h.LogLoss != eval.LogLoss(scores, labels) ||
		!h.From.Equal(f.examples[first.Examples].Time) || !h.To.Equal(f.examples[first.Examples+399].Time) {
		t.Fatalf("held-out report %+v, want AUC %v on examples %d..%d", h, eval.AUC(scores, labels), first.Examples, first.Examples+399)
	}
	if len(rep.Segments) != len(bySeg) || len(bySeg) < 2 {
		t.Errorf("segments %+v, want one per country of %v", rep.Segments, len(bySeg))
	}
	for _, sg := range rep.Segments {
		want := bySeg[sg.Segment]
		if sg.N != int64(len(want[0])) || sg.AUC != finite(eval.AUC(want[0], want[1])) {
			t.Errorf("segment %+v, want n %d AUC %v", sg, len(want[0]), eval.AUC(want[0], want[1]))
		}
	}
	var n int64
	for _, b := range rep.Calibration {
		n += b.N
		if b.MeanScore < b.Lo || b.MeanScore > b.Hi {
			t.Errorf("calibration bin %+v: mean score outside it", b)
		}
	}
	if n != 400 || len(rep.TopWeights) == 0 || rep.Progressive != first.Metrics {
		t.Errorf("report %+v: calibration covers %d examples, want 400", rep, n)
	}
	for i := 1; i < len(rep.TopWeights); i++ {
		if abs(rep.TopWeights[i].Weight) > abs(rep.TopWeights[i-1].Weight) {
			t.Errorf("top weights out of order: %+v", rep.TopWeights)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reports) == 0 || reports[0].Version != first.Version || reports[0].Report.HeldOut.AUC != h.AUC {
		t.Errorf("OnReport got %+v", reports)
	}
	_ = runner.DefaultReportOutcomes
}

func finite(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0
	}
	return x
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// TestAutoPromoteNeverSwapsSpecs: a champion of another spec promoted by hand without a pin stays
// while the learner publishes (automatic promotion follows this learner's fresh weights only),
// until an unpin hands serving back to the live version.
func TestAutoPromoteNeverSwapsSpecs(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 2000, 0)
	run(t, f.runner(0, nil))
	f.produce(t, 0, 1000)
	f.waitLearned(t, 1000)
	other := learner.DefaultSpec()
	other.Name, other.Optimizer = "m", "adagrad"
	tr, err := learner.NewTrainer(other)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := tr.Snapshot().MarshalBinary()
	imp, err := f.reg.Import(ctx, learner.Version{Model: "m", Spec: other}, b, "another family")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.reg.Promote(ctx, "m", imp.Version, "try adagrad", true, false); err != nil {
		t.Fatal(err)
	}
	f.produce(t, 1000, 2000)
	f.waitLearned(t, 2000)
	if c, _ := f.reg.Champion(ctx, "m"); c != imp.Version {
		t.Fatalf("champion %d after publishes, want the hand-promoted %d of another spec", c, imp.Version)
	}
	ch, err := f.reg.Unpin(ctx, "m", "", "test")
	live, _ := f.reg.Live(ctx, "m")
	if err != nil || ch.Version != live.Version || live.Spec.Optimizer == "adagrad" {
		t.Fatalf("unpin = %+v, %v; live %+v", ch, err, live)
	}
}

// TestRunnerReportsSnapshotsTakenByHand: a snapshot taken on demand (not by the learner) gets its
// held-out report too, on examples that follow its adoption, which it never learned.
func TestRunnerReportsSnapshotsTakenByHand(t *testing.T) {
	f := newFixture(t, 3000, 0)
	r := f.runner(0, nil)
	r.ReportOutcomes = 400
	run(t, r)
	ctx := context.Background()
	f.produce(t, 0, 500) // the first publish is retained (scheduled): the next live version is not
	f.waitLearned(t, 500)
	f.produce(t, 500, 1000)
	f.waitLearned(t, 1000)
	v, err := f.reg.TakeSnapshot(ctx, "m", learner.SnapshotRequest{Tag: "by-hand", By: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if v.Kind != learner.SnapshotManual || v.Examples != 1000 {
		t.Fatalf("snapshot taken by hand: %+v, want a manual snapshot of the live version (1000 examples)", v)
	}
	f.produce(t, 1000, 2000) // the next publish adopts the snapshot ...
	f.waitLearned(t, 2000)
	f.produce(t, 2000, 3000) // ... and these are its held-out examples
	deadline := time.Now().Add(30 * time.Second)
	for v.Report == nil || v.Report.HeldOut == nil {
		if time.Now().After(deadline) {
			t.Fatalf("no held-out report for the snapshot taken by hand (version %d): %+v", v.Version, v.Report)
		}
		time.Sleep(20 * time.Millisecond)
		if v, err = f.reg.Get(ctx, "m", v.Version); err != nil {
			t.Fatal(err)
		}
	}
	b, err := f.reg.Snapshot(ctx, "m", v.Version)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := learner.UnmarshalSnapshot(b)
	if err != nil {
		t.Fatal(err)
	}
	h := v.Report.HeldOut
	first := -1
	for i, ex := range f.examples {
		if ex.Time.Equal(h.From) {
			first = i
		}
	}
	if first < int(v.Examples) || first+400 > len(f.examples) {
		t.Fatalf("held out from example %d (%v); the snapshot learned the first %d", first, h.From, v.Examples)
	}
	var scores, labels []float64
	for _, ex := range f.examples[first : first+400] {
		scores = append(scores, snap.Predict(ex.Features).Score)
		labels = append(labels, ex.Label)
	}
	if h.N != 400 || h.AUC != eval.AUC(scores, labels) || h.LogLoss != eval.LogLoss(scores, labels) {
		t.Errorf("held-out %+v, want n 400, AUC %v, logloss %v on examples %d..%d", h, eval.AUC(scores, labels), eval.LogLoss(scores, labels), first, first+399)
	}
}
