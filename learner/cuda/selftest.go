package cuda

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/streamlearn/streamlearn/learner"
	"github.com/streamlearn/streamlearn/wire"
)

// selfTestTolerance bounds the relative difference from the CPU backend: the device sums in another
// order, so results agree to rounding, far below this.
const selfTestTolerance = 1e-9

// SelfTest trains small populations on b and on the CPU backend side by side (logistic and softmax,
// FTRL and AdaGrad, dense and sparse batches), then a small FM and MLP, and compares every output
// and the final weights. It
// returns the largest relative difference seen, and an error when one exceeds the tolerance or the
// device fails. It takes milliseconds on a GPU; the learner runs it before training there, so that a
// broken driver or toolkit shows up as a reason to use the CPU rather than as wrong models.
func SelfTest(b *Backend) (float64, error) {
	r := rand.New(rand.NewPCG(42, 7))
	var worst float64
	for _, obj := range []learner.Objective{learner.Logistic, learner.Softmax} {
		for _, opt := range []string{learner.OptimizerFTRL, learner.OptimizerAdaGrad} {
			for _, dense := range []bool{false, true} {
				outputs := 1
				if obj == learner.Softmax {
					outputs = 3
				}
				shape := learner.Shape{Models: 2, Dim: 100, Outputs: outputs, Objective: obj, Optimizer: opt}
				hyper := []learner.Hyper{{Alpha: 0.1, Beta: 1, LearningRate: 0.1}, {Alpha: 0.3, Beta: 1, L1: 0.1, L2: 0.1, LearningRate: 0.3}}
				d, err := selfTestCase(b, shape, hyper, dense, r)
				if err != nil {
					return worst, fmt.Errorf("self-test (objective %d, %s, dense %v): %w", obj, opt, dense, err)
				}
				worst = max(worst, d)
			}
		}
	}
	for _, f := range []string{learner.FamilyFM, learner.FamilyMLP} {
		d, err := selfTestFamily(b, f, r)
		if err != nil {
			return worst, fmt.Errorf("self-test (family %s): %w", f, err)
		}
		worst = max(worst, d)
	}
	return worst, nil
}

// selfTestFamily trains a small FM or MLP (two hidden layers) on b and on the CPU with the same three
// minibatches and compares the predictions and the final weights.
func selfTestFamily(b *Backend, family string, r *rand.Rand) (float64, error) {
	spec := learner.DefaultSpec()
	spec.Family, spec.HashBits, spec.FM.Factors, spec.MLP.Hidden = family, 8, 4, []int{6, 3}
	cpuT, err := learner.NewTrainer(spec)
	if err != nil {
		return 0, err
	}
	gpuT, err := learner.NewTrainerOn(b, spec)
	if err != nil {
		return 0, err
	}
	cpu, gpu := cpuT.(*learner.Family), gpuT.(*learner.Family)
	defer gpu.Close()
	var worst float64
	compare := func(what string, got, want float64) error {
		d := math.Abs(got-want) / max(1, math.Abs(want))
		if !(d <= selfTestTolerance) {
			return fmt.Errorf("%s is %v on the device, %v on the CPU", what, got, want)
		}
		worst = max(worst, d)
		return nil
	}
	for step := range 3 {
		vs, ys := make([]wire.Vector, 30), make([]learner.Label, 30)
		for i := range vs {
			a, c, x := r.IntN(12), r.IntN(12), r.NormFloat64()
			vs[i] = wire.Vector{{Name: fmt.Sprintf("a=%d", a), Value: 1}, {Name: fmt.Sprintf("c=%d", c), Value: 1}, {Name: "x", Value: x}}
			ys[i].Value = float64((a + c) % 2)
		}
		got, err := gpu.LearnBatch(vs, ys)
		if err != nil {
			return 0, err
		}
		want, _ := cpu.LearnBatch(vs, ys)
		for i := range want {
			if err := compare(fmt.Sprintf("step %d prediction %d", step, i), got[i].Score, want[i].Score); err != nil {
				return 0, err
			}
		}
	}
	got, want := gpu.Weights(), cpu.Weights()
	if err := gpu.Err(); err != nil {
		return 0, err
	}
	for i := range want {
		if err := compare(fmt.Sprintf("weight %d", i), got[i], want[i]); err != nil {
			return 0, err
		}
	}
	return worst, nil
}

func selfTestCase(b *Backend, shape learner.Shape, hyper []learner.Hyper, dense bool, r *rand.Rand) (float64, error) {
	gpu, err := b.NewModels(shape, hyper)
	if err != nil {
		return 0, err
	}
	defer gpu.Close()
	cpu, err := learner.CPUBackend{}.NewModels(shape, hyper)
	if err != nil {
		return 0, err
	}
	var worst float64
	compare := func(what string, got, want []float64) error {
		for i := range want {
			d := math.Abs(got[i]-want[i]) / max(1, math.Abs(want[i]))
			if !(d <= selfTestTolerance) { // NaN fails too
				return fmt.Errorf("%s: value %d is %v on the device, %v on the CPU", what, i, got[i], want[i])
			}
			worst = max(worst, d)
		}
		return nil
	}
	for step := range 3 {
		batch := selfTestBatch(shape, dense, 40+step*13, r)
		n := shape.Models * batch.Rows * shape.Outputs
		got, want := make([]float64, n), make([]float64, n)
		wait, err := gpu.(learner.Stepper).Step(batch, got)
		if err != nil {
			return 0, err
		}
		if err := wait(); err != nil {
			return 0, err
		}
		cw, err := cpu.(learner.Stepper).Step(batch, want)
		if err != nil {
			return 0, err
		}
		if err := cw(); err != nil {
			return 0, err
		}
		if err := compare(fmt.Sprintf("step %d outputs", step), got, want); err != nil {
			return 0, err
		}
	}
	size := (shape.Dim + 1) * shape.Outputs
	for k := range shape.Models {
		got, want := make([]float64, size), make([]float64, size)
		if err := gpu.Weights(k, got); err != nil {
			return 0, err
		}
		if err := cpu.Weights(k, want); err != nil {
			return 0, err
		}
		if err := compare(fmt.Sprintf("weights of model %d", k), got, want); err != nil {
			return 0, err
		}
	}
	return worst, nil
}

// selfTestBatch makes rows random examples: dense of width 90, or sparse with up to 8 entries a row.
func selfTestBatch(shape learner.Shape, dense bool, rows int, r *rand.Rand) *learner.Batch {
	b := &learner.Batch{}
	b.Reset()
	label := func() float64 { return float64(r.IntN(max(shape.Outputs, 2))) }
	if dense {
		b.Width, b.Rows = 90, rows
		for range rows * b.Width {
			b.Dense = append(b.Dense, r.NormFloat64())
		}
		for range rows {
			b.Labels = append(b.Labels, label())
		}
		return b
	}
	for range rows {
		n := 1 + r.IntN(8)
		cols, vals := make([]int32, n), make([]float64, n)
		for i := range cols {
			cols[i], vals[i] = int32(r.IntN(shape.Dim)), r.NormFloat64()
		}
		b.AddRow(cols, vals, label())
	}
	return b
}
