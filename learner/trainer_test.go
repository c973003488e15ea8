package learner_test

import (
	"bytes"
	"math"
	"testing"

	"github.com/streamlearn/streamlearn/learner"
	"github.com/streamlearn/streamlearn/wire"
)

var allKinds = []struct {
	task      learner.Task
	optimizer string
	loss      string
}{
	{learner.Binary, learner.OptimizerFTRL, ""},
	{learner.Binary, learner.OptimizerAdaGrad, ""},
	{learner.Regression, learner.OptimizerFTRL, learner.LossSquared},
	{learner.Regression, learner.OptimizerAdaGrad, learner.LossHuber},
	{learner.Multiclass, learner.OptimizerFTRL, ""},
	{learner.Multiclass, learner.OptimizerAdaGrad, ""},
}

func TestFirstStepByHand(t *testing.T) {
	spec := learner.DefaultSpec()
	spec.Alpha, spec.Beta, spec.L1, spec.L2 = 0.5, 1, 0, 0
	spec.Standardize = false
	tr := newTrainer(t, spec)
	v := wire.Vector{{Name: "x", Value: 2}}
	if got := tr.Learn(v, learner.Label{Value: 1}); got.Score != 0.5 {
		t.Fatalf("first prediction: got %v, want 0.5", got.Score)
	}
	// bias: g=-0.5, n=0.25, sigma=1, z=-0.5, w=0.5/((1+0.5)/0.5)=1/6
	// x:    g=-1,   n=1,    sigma=2, z=-1,   w=1/((1+1)/0.5)=0.25
	want := 1 / (1 + math.Exp(-(1.0/6 + 0.25*2)))
	if got := tr.Predict(v).Score; math.Abs(got-want) > 1e-15 {
		t.Errorf("after one step: got %v, want %v", got, want)
	}
	if got := tr.Seen(); got != 1 {
		t.Errorf("Seen: got %d, want 1", got)
	}
}

func TestLearnsEveryTask(t *testing.T) {
	for _, k := range allKinds {
		t.Run(string(k.task)+"/"+k.optimizer+k.loss, func(t *testing.T) {
			spec := specFor(t, k.task, k.optimizer)
			if k.loss != "" {
				spec.Loss = k.loss
			}
			tr := newTrainer(t, spec)
			train, test := synthetic(k.task, 20000, 1), synthetic(k.task, 2000, 2)
			for _, ex := range train {
				tr.Learn(ex.v, ex.y)
			}
			var errSum float64
			for _, ex := range test {
				p := tr.Predict(ex.v)
				switch k.task {
				case learner.Binary:
					if (p.Score > 0.5) != (ex.y.Value == 1) {
						errSum++
					}
				case learner.Regression:
					errSum += math.Abs(p.Score - ex.y.Value)
				case learner.Multiclass:
					if p.Class != ex.y.Class {
						errSum++
					}
				}
			}
			got := errSum / float64(len(test))
			// Bounds are a little above what the generating model itself achieves.
			limit := map[learner.Task]float64{learner.Binary: 0.30, learner.Regression: 25, learner.Multiclass: 0.30}[k.task]
			if got > limit {
				t.Errorf("test error: got %.3f, want <= %v", got, limit)
			}
		})
	}
}

func TestSnapshotPredictsAsTrainer(t *testing.T) {
	for _, k := range allKinds {
		t.Run(string(k.task)+"/"+k.optimizer, func(t *testing.T) {
			spec := specFor(t, k.task, k.optimizer)
			spec.Crosses = [][2]string{{"country", "age"}}
			tr := newTrainer(t, spec)
			for _, ex := range synthetic(k.task, 3000, 3) {
				tr.Learn(ex.v, ex.y)
			}
			snap := tr.Snapshot()
			data, err := snap.MarshalBinary()
			if err != nil {
				t.Fatalf("MarshalBinary: %v", err)
			}
			decoded, err := learner.UnmarshalSnapshot(data)
			if err != nil {
				t.Fatalf("UnmarshalSnapshot: %v", err)
			}
			for i, ex := range synthetic(k.task, 200, 4) {
				want := tr.Predict(ex.v)
				for name, s := range map[string]*learner.Snapshot{"snapshot": snap, "decoded": decoded} {
					got := s.Predict(ex.v)
					if got.Score != want.Score || got.Class != want.Class {
						t.Fatalf("%s, example %d: got %+v, want %+v", name, i, got, want)
					}
				}
			}
			// Learning after the snapshot must not change it.
			before := snap.Predict(synthetic(k.task, 1, 5)[0].v)
			for _, ex := range synthetic(k.task, 500, 6) {
				tr.Learn(ex.v, ex.y)
			}
			if after := snap.Predict(synthetic(k.task, 1, 5)[0].v); after.Score != before.Score {
				t.Errorf("snapshot changed after learning: got %v, want %v", after.Score, before.Score)
			}
		})
	}
}

func TestCheckpointContinuesBitExactly(t *testing.T) {
	for _, k := range allKinds {
		t.Run(string(k.task)+"/"+k.optimizer, func(t *testing.T) {
			spec := specFor(t, k.task, k.optimizer)
			spec.Crosses = [][2]string{{"country", "amount"}}
			stream := synthetic(k.task, 4000, 7)
			a := newTrainer(t, spec)
			for _, ex := range stream[:2000] {
				a.Learn(ex.v, ex.y)
			}
			data, err := a.MarshalBinary()
			if err != nil {
				t.Fatalf("MarshalBinary: %v", err)
			}
			b, err := learner.UnmarshalTrainer(data)
			if err != nil {
				t.Fatalf("UnmarshalTrainer: %v", err)
			}
			for i, ex := range stream[2000:] {
				pa, pb := a.Learn(ex.v, ex.y), b.Learn(ex.v, ex.y)
				if math.Float64bits(pa.Score) != math.Float64bits(pb.Score) {
					t.Fatalf("example %d: resumed trainer predicted %v, original %v", i, pb.Score, pa.Score)
				}
			}
			da, _ := a.MarshalBinary()
			db, _ := b.MarshalBinary()
			if !bytes.Equal(da, db) {
				t.Error("final checkpoints differ")
			}
			if a.Seen() != 4000 || b.Seen() != 4000 {
				t.Errorf("Seen: got %d and %d, want 4000", a.Seen(), b.Seen())
			}
		})
	}
}

func TestUnusableLabelsOnlyPredict(t *testing.T) {
	spec := specFor(t, learner.Multiclass, learner.OptimizerFTRL)
	tr := newTrainer(t, spec)
	v := synthetic(learner.Multiclass, 1, 1)[0].v
	tr.Learn(v, learner.Label{Class: "unknown"})
	bin := newTrainer(t, specFor(t, learner.Binary, learner.OptimizerFTRL))
	bin.Learn(v, learner.Label{Value: math.NaN()})
	if tr.Seen() != 0 || bin.Seen() != 0 {
		t.Errorf("Seen: got %d and %d, want 0", tr.Seen(), bin.Seen())
	}
	if p := bin.Learn(wire.Vector{{Name: "x", Value: math.Inf(1)}}, learner.Label{Value: 1}); math.IsNaN(p.Score) {
		t.Error("an infinite input gave a NaN score")
	}
	if p := bin.Predict(wire.Vector{{Name: "x", Value: 1}}); math.IsNaN(p.Score) {
		t.Error("learning from an infinite input made the model NaN")
	}
}

func TestContributions(t *testing.T) {
	spec := specFor(t, learner.Binary, learner.OptimizerFTRL)
	tr := newTrainer(t, spec)
	for _, ex := range synthetic(learner.Binary, 5000, 8) {
		tr.Learn(ex.v, ex.y)
	}
	snap := tr.Snapshot()
	v := synthetic(learner.Binary, 1, 9)[0].v
	cs := snap.Contributions(v)
	if len(cs) != len(v)+1 {
		t.Fatalf("got %d contributions, want %d (features and bias)", len(cs), len(v)+1)
	}
	var margin float64
	for i, c := range cs {
		margin += c.Contribution
		if i > 0 && math.Abs(c.Contribution) > math.Abs(cs[i-1].Contribution) {
			t.Errorf("not sorted by |contribution|: %+v", cs)
		}
	}
	want := snap.Predict(v).Score
	if got := 1 / (1 + math.Exp(-margin)); math.Abs(got-want) > 1e-12 {
		t.Errorf("contributions sum to P=%v, want %v", got, want)
	}
}

func TestSnapshotIsSafeForConcurrentUse(t *testing.T) {
	tr := newTrainer(t, specFor(t, learner.Multiclass, learner.OptimizerFTRL))
	stream := synthetic(learner.Multiclass, 2000, 12)
	for _, ex := range stream[:1000] {
		tr.Learn(ex.v, ex.y)
	}
	snap := tr.Snapshot()
	want := make([]learner.Prediction, 100)
	for i := range want {
		want[i] = snap.Predict(stream[i].v)
	}
	done := make(chan struct{})
	for range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range want {
				if got := snap.Predict(stream[i].v); got.Score != want[i].Score {
					t.Errorf("concurrent Predict: got %v, want %v", got.Score, want[i].Score)
				}
				snap.Contributions(stream[i].v)
			}
		}()
	}
	for _, ex := range stream[1000:] { // learning goes on meanwhile
		tr.Learn(ex.v, ex.y)
	}
	for range 4 {
		<-done
	}
}
