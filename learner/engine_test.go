package learner_test

import (
	"math"
	"testing"

	"github.com/streamlearn/streamlearn/learner"
	"github.com/streamlearn/streamlearn/wire"
)

func newEngine(t testing.TB, spec learner.Spec, hyper []learner.Hyper) *learner.Engine {
	t.Helper()
	e, err := learner.NewEngine(learner.CPUBackend{}, spec, hyper)
	if err != nil {
		t.Fatalf("NewEngine: %v", err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func TestEngineBatchOfOneEqualsOnline(t *testing.T) {
	for _, k := range allKinds {
		t.Run(string(k.task)+"/"+k.optimizer, func(t *testing.T) {
			spec := specFor(t, k.task, k.optimizer)
			spec.HashBits = 18 // no collisions: Online updates a repeated slot twice, a batch once
			spec.Crosses = [][2]string{{"country", "age"}}
			tr, e := newTrainer(t, spec), newEngine(t, spec, nil)
			for i, ex := range synthetic(k.task, 1000, 21) {
				want := tr.Learn(ex.v, ex.y)
				got, err := e.Learn([]wire.Vector{ex.v}, []learner.Label{ex.y})
				if err != nil {
					t.Fatalf("Learn: %v", err)
				}
				if got[0].Score != want.Score || got[0].Class != want.Class {
					t.Fatalf("example %d: engine predicted %+v, online %+v", i, got[0], want)
				}
			}
			snap, err := e.Snapshot(0)
			if err != nil {
				t.Fatal(err)
			}
			for _, ex := range synthetic(k.task, 50, 22) {
				if got, want := snap.Predict(ex.v), tr.Predict(ex.v); got.Score != want.Score {
					t.Fatalf("snapshot of the engine predicted %v, online %v", got.Score, want.Score)
				}
			}
		})
	}
}

func TestEnginePopulationEqualsSeparateModels(t *testing.T) {
	spec := specFor(t, learner.Binary, learner.OptimizerFTRL)
	hyper := []learner.Hyper{
		{Alpha: 0.1, Beta: 1, L2: 1},
		{Alpha: 0.5, Beta: 1, L1: 0.5},
		{Alpha: 1, Beta: 0.1},
	}
	all := newEngine(t, spec, hyper)
	var one []*learner.Engine
	for _, h := range hyper {
		one = append(one, newEngine(t, spec, []learner.Hyper{h}))
	}
	stream := synthetic(learner.Binary, 2000, 23)
	for lo := 0; lo < len(stream); lo += 64 {
		vs, ys := split(stream[lo:min(lo+64, len(stream))])
		got, err := all.Learn(vs, ys)
		if err != nil {
			t.Fatal(err)
		}
		for k, e := range one {
			want, err := e.Learn(vs, ys)
			if err != nil {
				t.Fatal(err)
			}
			for i := range want {
				if got[k*len(vs)+i].Score != want[i].Score {
					t.Fatalf("batch at %d, model %d, row %d: got %v, want %v", lo, k, i, got[k*len(vs)+i].Score, want[i].Score)
				}
			}
		}
	}
}

func split(exs []example) ([]wire.Vector, []learner.Label) {
	vs, ys := make([]wire.Vector, len(exs)), make([]learner.Label, len(exs))
	for i, ex := range exs {
		vs[i], ys[i] = ex.v, ex.y
	}
	return vs, ys
}

func TestEngineMinibatchesLearn(t *testing.T) {
	stream := loadCSV(t, "breast_cancer")
	for _, size := range []int{1, 16, 128} {
		e := newEngine(t, learner.DefaultSpec(), nil)
		var scores, labels []float64
		for lo := 0; lo < len(stream); lo += size {
			vs, ys := split(stream[lo:min(lo+size, len(stream))])
			preds, err := e.Learn(vs, ys)
			if err != nil {
				t.Fatal(err)
			}
			for i := range preds {
				scores, labels = append(scores, preds[i].Score), append(labels, ys[i].Value)
			}
		}
		// Larger batches update less often: the progressive AUC of one pass over 569 rows drops, but
		// what the model learned is still good.
		if got, want := auc(scores, labels), map[int]float64{1: 0.985, 16: 0.97, 128: 0.8}[size]; got < want {
			t.Errorf("batch %d: progressive AUC %.4f, want >= %v", size, got, want)
		}
		snap, err := e.Snapshot(0)
		if err != nil {
			t.Fatal(err)
		}
		for i, ex := range stream {
			scores[i] = snap.Predict(ex.v).Score
		}
		if got := auc(scores, labels); got < 0.98 {
			t.Errorf("batch %d: AUC after one pass %.4f, want >= 0.98", size, got)
		}
		if e.Seen() != int64(len(stream)) {
			t.Errorf("Seen: got %d, want %d", e.Seen(), len(stream))
		}
	}
}

func TestEngineUnusableLabelsOnlyScore(t *testing.T) {
	spec := specFor(t, learner.Multiclass, learner.OptimizerFTRL)
	e := newEngine(t, spec, nil)
	exs := synthetic(learner.Multiclass, 3, 24)
	vs, ys := split(exs)
	ys[1].Class = "unknown"
	preds, err := e.Learn(vs, ys)
	if err != nil {
		t.Fatal(err)
	}
	if len(preds) != 3 || preds[1].Class == "" {
		t.Errorf("got %+v, want three predictions", preds)
	}
	if e.Seen() != 2 {
		t.Errorf("Seen: got %d, want 2", e.Seen())
	}
}

func TestCPUBackendDenseEqualsSparse(t *testing.T) {
	shape := learner.Shape{Models: 2, Dim: 4, Outputs: 3, Objective: learner.Softmax, Optimizer: learner.OptimizerAdaGrad}
	hyper := []learner.Hyper{{LearningRate: 0.1}, {LearningRate: 0.5, L2: 1}}
	rows := [][]float64{{1, 0, 2, -1}, {0.5, 3, 0, 0}, {-2, 1, 1, 1}}
	labels := []float64{2, 0, 1}
	dense := learner.Batch{Rows: 3, Width: 4, Labels: labels}
	var sparse learner.Batch
	for r, row := range rows {
		dense.Dense = append(dense.Dense, row...)
		var cols []int32
		var vals []float64
		for j, v := range row {
			if v != 0 {
				cols, vals = append(cols, int32(j)), append(vals, v)
			}
		}
		sparse.AddRow(cols, vals, labels[r])
	}
	var weights [2][][]float64
	for i, b := range []*learner.Batch{&dense, &sparse} {
		m, err := learner.CPUBackend{}.NewModels(shape, hyper)
		if err != nil {
			t.Fatal(err)
		}
		out := make([]float64, 2*3*3)
		for range 5 {
			if err := m.Forward(b, out); err != nil {
				t.Fatal(err)
			}
			if err := m.Gradient(b, out); err != nil {
				t.Fatal(err)
			}
			if err := m.Update(); err != nil {
				t.Fatal(err)
			}
		}
		for k := range 2 {
			w := make([]float64, 5*3)
			if err := m.Weights(k, w); err != nil {
				t.Fatal(err)
			}
			weights[i] = append(weights[i], w)
		}
	}
	for k := range 2 {
		for j := range weights[0][k] {
			if d, s := weights[0][k][j], weights[1][k][j]; math.Abs(d-s) > 1e-12 || d == 0 && j < 12 && rows[0][j/3] != 0 {
				t.Errorf("model %d weight %d: dense %v, sparse %v", k, j, d, s)
			}
		}
	}
}

func TestCPUBackendRejectsBadInput(t *testing.T) {
	good := learner.Shape{Models: 1, Dim: 4, Outputs: 1, Objective: learner.Logistic, Optimizer: learner.OptimizerFTRL}
	hyper := []learner.Hyper{{Alpha: 0.1, Beta: 1}}
	for name, s := range map[string]learner.Shape{
		"no models":       {Dim: 4, Outputs: 1, Optimizer: learner.OptimizerFTRL},
		"softmax of one":  {Models: 1, Dim: 4, Outputs: 1, Objective: learner.Softmax, Optimizer: learner.OptimizerFTRL},
		"no optimizer":    {Models: 1, Dim: 4, Outputs: 1},
		"huber, no delta": {Models: 1, Dim: 4, Outputs: 1, Objective: learner.Huber, Optimizer: learner.OptimizerFTRL},
	} {
		if _, err := (learner.CPUBackend{}).NewModels(s, hyper); err == nil {
			t.Errorf("%s: NewModels gave no error", name)
		}
	}
	m, err := learner.CPUBackend{}.NewModels(good, hyper)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float64, 4)
	for name, b := range map[string]learner.Batch{
		"column out of range": {Rows: 1, RowPtr: []int32{0, 1}, Cols: []int32{4}, Vals: []float64{1}, Labels: []float64{1}},
		"bad row pointers":    {Rows: 1, RowPtr: []int32{0, 2}, Cols: []int32{1}, Vals: []float64{1}, Labels: []float64{1}},
		"missing labels":      {Rows: 1, RowPtr: []int32{0, 1}, Cols: []int32{1}, Vals: []float64{1}},
		"dense too wide":      {Rows: 1, Width: 5, Dense: make([]float64, 5), Labels: []float64{1}},
	} {
		if err := m.Forward(&b, out); err == nil {
			t.Errorf("%s: Forward gave no error", name)
		}
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Update(); err == nil {
		t.Error("Update after Close gave no error")
	}
}
