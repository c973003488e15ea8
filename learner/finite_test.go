package learner_test

import (
	"bytes"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/streamlearn/streamlearn/learner"
	"github.com/streamlearn/streamlearn/wire"
)

// extremes are finite values that overflow, underflow or cancel in naive arithmetic.
var extremes = []float64{
	math.MaxFloat64, -math.MaxFloat64, 1e308, -1e308, 1e200, -1e200, 1e155, 1e-300, -1e-300,
	5e-324, -5e-324, 0, 1, -1, 90,
}

// finiteKind is one model family, objective and optimizer, with or without standardization.
type finiteKind struct {
	task        learner.Task
	optimizer   string
	loss        string
	standardize bool
	beta, l1    float64 // beta 0 and l1 0 let a tiny gradient divide by almost nothing
}

func (k finiteKind) String() string {
	return fmt.Sprintf("%s/%s/%s/std=%v/beta=%v/l1=%v", k.task, k.optimizer, k.loss, k.standardize, k.beta, k.l1)
}

func (k finiteKind) spec(t testing.TB) learner.Spec {
	t.Helper()
	s := specFor(t, k.task, k.optimizer)
	s.Loss, s.Standardize, s.Beta, s.L1 = k.loss, k.standardize, k.beta, k.l1
	if k.l1 == 0 {
		s.L2 = 0
	}
	if k.loss == "" {
		s.Loss = learner.LossSquared
	}
	return s
}

func finiteKinds() []finiteKind {
	var out []finiteKind
	for _, k := range []struct {
		task      learner.Task
		loss      string
		optimizer string
	}{
		{learner.Binary, "", learner.OptimizerFTRL},
		{learner.Binary, "", learner.OptimizerAdaGrad},
		{learner.Regression, learner.LossSquared, learner.OptimizerFTRL},
		{learner.Regression, learner.LossSquared, learner.OptimizerAdaGrad},
		{learner.Regression, learner.LossHuber, learner.OptimizerFTRL},
		{learner.Regression, learner.LossHuber, learner.OptimizerAdaGrad},
		{learner.Multiclass, "", learner.OptimizerFTRL},
		{learner.Multiclass, "", learner.OptimizerAdaGrad},
	} {
		for _, std := range []bool{true, false} {
			out = append(out,
				finiteKind{task: k.task, optimizer: k.optimizer, loss: k.loss, standardize: std, beta: 1, l1: 0.1},
				finiteKind{task: k.task, optimizer: k.optimizer, loss: k.loss, standardize: std})
		}
	}
	return out
}

// labelFor returns a label of task carrying x where the task has a number.
func labelFor(task learner.Task, x float64) learner.Label {
	classes := []string{"low", "mid", "high"}
	switch task {
	case learner.Multiclass:
		return learner.Label{Class: classes[int(math.Abs(math.Mod(x, 3)))%3]}
	case learner.Binary:
		return learner.Label{Value: x}
	}
	return learner.Label{Value: x}
}

// outlierStreams are named streams of extreme examples, each after a warm-up of ordinary ones.
func outlierStreams(task learner.Task) map[string][]example {
	amount := func(x float64) wire.Vector {
		return wire.Vector{{Name: "age", Value: 40}, {Name: "amount", Value: x}, {Name: "country=DE", Value: 1}}
	}
	label := func(x float64) learner.Label { return labelFor(task, x) }
	streams := map[string][]example{
		"amount 1e200":          {{amount(1e200), label(1)}},
		"amount -1e308 then +":  {{amount(-1e308), label(0)}, {amount(1e308), label(1)}},
		"amount MaxFloat64 x10": repeat(example{amount(math.MaxFloat64), label(1)}, 10),
		"amount 5e-324":         repeat(example{amount(5e-324), label(1)}, 10),
		"label 1e300":           {{amount(10), label(1e300)}},
		"label -1e308 x5":       repeat(example{amount(10), label(-1e308)}, 5),
		"label 5e-324":          repeat(example{amount(5e-324), label(5e-324)}, 5),
		"both huge":             {{amount(1e308), label(1e308)}, {amount(-1e308), label(-1e308)}},
		"every input huge":      {{wire.Vector{{Name: "age", Value: 1e308}, {Name: "amount", Value: 1e308}, {Name: "x", Value: -1e308}}, label(1e308)}},
		"tiny spread":           tinySpread(label(1)),
	}
	r := rand.New(rand.NewPCG(7, 7))
	random := make([]example, 300)
	for i := range random {
		pick := func() float64 { return extremes[r.IntN(len(extremes))] }
		random[i] = example{wire.Vector{{Name: "age", Value: pick()}, {Name: "amount", Value: pick()}, {Name: "country=DE", Value: pick()}}, label(pick())}
	}
	streams["random extremes"] = random
	return streams
}

// tinySpread is an input whose variance is too small to invert (1/sd overflows).
func tinySpread(y learner.Label) []example {
	var out []example
	for _, x := range []float64{0, 1e-160, 0, 1e-160, 0, 0} {
		out = append(out, example{wire.Vector{{Name: "tiny", Value: x}}, y})
	}
	return out
}

func repeat(ex example, n int) []example {
	out := make([]example, n)
	for i := range out {
		out[i] = ex
	}
	return out
}

// checkPrediction fails if p holds a number that is not finite.
func checkPrediction(t *testing.T, what string, p learner.Prediction) {
	t.Helper()
	if !isFinite(p.Score) {
		t.Fatalf("%s: score %v", what, p.Score)
	}
	for _, q := range p.Probs {
		if !isFinite(q) {
			t.Fatalf("%s: probabilities %v", what, p.Probs)
		}
	}
}

func isFinite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// checkState fails if the checkpoint or snapshot of tr holds a number that is not finite, or if the
// checkpoint does not resume to the same state.
func checkState(t *testing.T, tr learner.Trainer) {
	t.Helper()
	cp, err := tr.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	nums, err := learner.StateNumbers(cp)
	if err != nil {
		t.Fatal(err)
	}
	for i, x := range nums {
		if !isFinite(x) {
			t.Fatalf("checkpoint number %d is %v", i, x)
		}
	}
	for i, x := range learner.SnapshotNumbers(tr.Snapshot()) {
		if !isFinite(x) {
			t.Fatalf("snapshot number %d is %v", i, x)
		}
	}
	back, err := learner.UnmarshalTrainer(cp)
	if err != nil {
		t.Fatal(err)
	}
	again, err := back.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(cp, again) {
		t.Fatal("checkpoint does not round trip")
	}
}

// finiteTrainers are the trainers of spec: Online, and a BatchTrainer on the CPU backend.
func finiteTrainers(t *testing.T, spec learner.Spec) map[string]learner.Trainer {
	t.Helper()
	bt, err := learner.NewBatchTrainer(learner.CPUBackend{}, spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bt.Close() })
	return map[string]learner.Trainer{"online": newTrainer(t, spec), "batch": bt}
}

// TestStateStaysFinite feeds every kind of model ordinary examples, then extreme finite inputs and
// labels, and checks that every prediction, every number of its state and of its snapshot stay
// finite and that checkpoints round trip.
func TestStateStaysFinite(t *testing.T) {
	for _, k := range finiteKinds() {
		for name, stream := range outlierStreams(k.task) {
			t.Run(k.String()+"/"+name, func(t *testing.T) {
				for tname, tr := range finiteTrainers(t, k.spec(t)) {
					for _, ex := range synthetic(k.task, 200, 3) {
						tr.Learn(ex.v, ex.y)
					}
					for i, ex := range stream {
						checkPrediction(t, fmt.Sprintf("%s: learn %d", tname, i), tr.Learn(ex.v, ex.y))
					}
					for i, ex := range synthetic(k.task, 50, 4) {
						checkPrediction(t, fmt.Sprintf("%s: after, learn %d", tname, i), tr.Learn(ex.v, ex.y))
						checkPrediction(t, fmt.Sprintf("%s: snapshot %d", tname, i), tr.Snapshot().Predict(ex.v))
					}
					checkState(t, tr)
				}
			})
		}
	}
}

// TestMinibatchStateStaysFinite is TestStateStaysFinite for minibatches that mix extreme and
// ordinary examples.
func TestMinibatchStateStaysFinite(t *testing.T) {
	for _, k := range finiteKinds() {
		t.Run(k.String(), func(t *testing.T) {
			bt, err := learner.NewBatchTrainer(learner.CPUBackend{}, k.spec(t))
			if err != nil {
				t.Fatal(err)
			}
			defer bt.Close()
			var stream []example
			streams := outlierStreams(k.task)
			for _, name := range slices.Sorted(maps.Keys(streams)) {
				stream = append(stream, streams[name]...)
			}
			stream = append(synthetic(k.task, 100, 5), append(stream, synthetic(k.task, 100, 6)...)...)
			for start := 0; start < len(stream); start += 16 {
				var vs []wire.Vector
				var ys []learner.Label
				for _, ex := range stream[start:min(start+16, len(stream))] {
					vs, ys = append(vs, ex.v), append(ys, ex.y)
				}
				preds, err := bt.LearnBatch(vs, ys)
				if err != nil {
					t.Fatal(err)
				}
				for i, p := range preds {
					checkPrediction(t, fmt.Sprintf("batch at %d, row %d", start, i), p)
				}
			}
			checkState(t, bt)
		})
	}
}

// TestOutlierKeepsFeature checks that one extreme value of an informative input leaves the model able
// to tell inputs apart by it: the running variance must not overflow and switch the input off.
func TestOutlierKeepsFeature(t *testing.T) {
	tests := []struct {
		name   string
		task   learner.Task
		loss   string
		amount float64 // of the outlier
		label  float64
	}{
		{"binary amount 1e200", learner.Binary, "", 1e200, 1},
		{"binary amount -1e308", learner.Binary, "", -1e308, 0},
		{"regression amount 1e200", learner.Regression, learner.LossSquared, 1e200, 50},
		{"regression label 1e300", learner.Regression, learner.LossSquared, 50, 1e300},
		{"huber label -1e308", learner.Regression, learner.LossHuber, 50, -1e308},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := learner.DefaultSpec()
			spec.HashBits = 12
			spec.Task = tt.task
			if tt.loss != "" {
				spec.Loss = tt.loss
			}
			for tname, tr := range finiteTrainers(t, spec) {
				r := rand.New(rand.NewPCG(11, 12))
				learn := func(n int) {
					for range n {
						a := 1 + 99*r.Float64()
						y := a
						if tt.task == learner.Binary {
							y = 0
							if r.Float64() < a/100 {
								y = 1
							}
						}
						tr.Learn(wire.Vector{{Name: "amount", Value: a}}, learner.Label{Value: y})
					}
				}
				learn(500)
				tr.Learn(wire.Vector{{Name: "amount", Value: tt.amount}}, learner.Label{Value: tt.label})
				learn(100)
				lo := tr.Snapshot().Predict(wire.Vector{{Name: "amount", Value: 1}}).Score
				hi := tr.Snapshot().Predict(wire.Vector{{Name: "amount", Value: 90}}).Score
				want := 0.2
				if tt.task == learner.Regression {
					want = 20
				}
				if !(hi-lo > want) {
					t.Errorf("%s: score of amount 1 = %v, of 90 = %v, want them %v apart", tname, lo, hi, want)
				}
				checkState(t, tr)
			}
		})
	}
}

// TestSkippedUpdatesAreCounted checks that an update that would divide by a zero accumulator (a
// gradient whose square underflows, with beta and L2 zero) is left out and counted.
func TestSkippedUpdatesAreCounted(t *testing.T) {
	for _, optimizer := range []string{learner.OptimizerFTRL, learner.OptimizerAdaGrad} {
		t.Run(optimizer, func(t *testing.T) {
			k := finiteKind{task: learner.Binary, optimizer: optimizer}
			spec := k.spec(t)
			on := newTrainer(t, spec).(*learner.Online)
			bt, err := learner.NewBatchTrainer(learner.CPUBackend{}, spec)
			if err != nil {
				t.Fatal(err)
			}
			defer bt.Close()
			v := wire.Vector{{Name: "x", Value: 1e-320}}
			for _, tr := range []learner.Trainer{on, bt} {
				tr.Learn(v, learner.Label{Value: 1})
				checkState(t, tr)
			}
			if got := on.Skipped(); got != 1 {
				t.Errorf("online skipped %d updates, want 1", got)
			}
			if got := bt.Skipped(); got != 1 {
				t.Errorf("batch trainer skipped %d updates, want 1", got)
			}
		})
	}
}
