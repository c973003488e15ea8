package cuda

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/streamlearn/streamlearn/learner"
	"github.com/streamlearn/streamlearn/wire"
)

// Every test here runs three times: on the kernels emulated on the CPU (always, given g++), once in
// order and once with streams running asynchronously (async_emu_test.go), and on the GPU (skipped,
// saying why, where there is none). All are compared with learner.CPUBackend.

// tolerance of device results against the CPU backend: the kernels sum in another order (matrix
// tiles, atomics), so values agree to rounding, not bit for bit.
const tolerance = 1e-9

// gpuBackend opens the GPU once per test binary.
var gpuBackend = sync.OnceValues(func() (*Backend, error) { return Open(0) })

// onDevices runs f on the emulator and on the GPU.
func onDevices(t *testing.T, f func(t *testing.T, b *Backend)) {
	t.Run("emulator", func(t *testing.T) {
		f(t, newBackend(startEmulator(t), DeviceInfo{Name: "emulator"}, "emulator"))
	})
	t.Run("emulator-async", func(t *testing.T) {
		dev := newAsyncDevice(startEmulator(t), 1)
		t.Cleanup(func() {
			if err := dev.stop(); err != nil {
				t.Error(err)
			}
		})
		f(t, newBackend(dev, DeviceInfo{Name: "emulator, streams run asynchronously"}, "emulator"))
	})
	t.Run("gpu", func(t *testing.T) {
		b, err := gpuBackend()
		if err != nil {
			t.Skipf("no GPU to test on: %v", err)
		}
		f(t, b)
	})
}

func closeModels(t *testing.T, m learner.Models) {
	t.Helper()
	if err := m.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
}

// near reports whether got is within tolerance of want, relative to its size.
func near(got, want float64) bool {
	return math.Abs(got-want) <= tolerance*max(1, math.Abs(want))
}

func compare(t *testing.T, what string, got, want []float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range want {
		if !near(got[i], want[i]) {
			t.Fatalf("%s: value %d is %.17g, CPU %.17g", what, i, got[i], want[i])
		}
	}
}

// testCase is a shape with settings for its models.
type testCase struct {
	name  string
	shape learner.Shape
	hyper []learner.Hyper
	dense bool
}

func testCases() []testCase {
	var cases []testCase
	objectives := []struct {
		name string
		obj  learner.Objective
		out  int
	}{{"logistic", learner.Logistic, 1}, {"squared", learner.Squared, 1}, {"huber", learner.Huber, 1}, {"softmax", learner.Softmax, 3}}
	for _, o := range objectives {
		for _, opt := range []string{learner.OptimizerFTRL, learner.OptimizerAdaGrad} {
			for _, dense := range []bool{false, true} {
				kind := "sparse"
				if dense {
					kind = "dense"
				}
				cases = append(cases, testCase{
					name: fmt.Sprintf("%s/%s/%s", o.name, opt, kind),
					shape: learner.Shape{Models: 3, Dim: 70, Outputs: o.out, Objective: o.obj,
						Optimizer: opt, HuberDelta: 0.5},
					hyper: []learner.Hyper{
						{Alpha: 0.1, Beta: 1, LearningRate: 0.1},
						{Alpha: 0.5, Beta: 0.5, L1: 0.5, L2: 0.1, LearningRate: 0.3},
						{Alpha: 0.05, Beta: 1, L1: 0.01, L2: 1, LearningRate: 0.05},
					},
					dense: dense,
				})
			}
		}
	}
	return cases
}

// randomBatch makes rows examples for shape: dense of width 67 (less than Dim, not a multiple of the
// tiles) or sparse with 1 to 12 entries per row, columns repeating across rows.
func randomBatch(r *rand.Rand, shape learner.Shape, rows int, dense bool) *learner.Batch {
	b := &learner.Batch{}
	b.Reset()
	label := func() float64 {
		switch shape.Objective {
		case learner.Logistic:
			return float64(r.IntN(2))
		case learner.Softmax:
			return float64(r.IntN(shape.Outputs))
		}
		return 3 * r.NormFloat64()
	}
	if dense {
		b.Width = 67
		for range rows {
			for range b.Width {
				b.Dense = append(b.Dense, r.NormFloat64())
			}
			b.Labels = append(b.Labels, label())
		}
		b.Rows = rows
		return b
	}
	for range rows {
		n := 1 + r.IntN(12)
		cols, vals := make([]int32, n), make([]float64, n)
		for i := range n {
			cols[i], vals[i] = int32(r.IntN(shape.Dim)), r.NormFloat64()
		}
		b.AddRow(cols, vals, label())
	}
	return b
}

func weightsOf(t *testing.T, m learner.Models, k int) []float64 {
	t.Helper()
	s := m.Shape()
	w := make([]float64, (s.Dim+1)*s.Outputs)
	if err := m.Weights(k, w); err != nil {
		t.Fatalf("weights of model %d: %v", k, err)
	}
	return w
}

// TestModelsMatchCPU trains K = 3 models with different settings on the device and on the CPU with
// every objective, optimizer and batch kind, through Forward/Gradient/Update and through Step, and
// compares every output and, at the end, every weight.
func TestModelsMatchCPU(t *testing.T) {
	onDevices(t, func(t *testing.T, be *Backend) {
		for _, tc := range testCases() {
			t.Run(tc.name, func(t *testing.T) {
				gpu, err := be.NewModels(tc.shape, tc.hyper)
				if err != nil {
					t.Fatal(err)
				}
				defer closeModels(t, gpu)
				cpu, err := learner.CPUBackend{}.NewModels(tc.shape, tc.hyper)
				if err != nil {
					t.Fatal(err)
				}
				r := rand.New(rand.NewPCG(7, uint64(len(tc.name))))
				for step := range 8 {
					b := randomBatch(r, tc.shape, 1+r.IntN(90), tc.dense)
					n := tc.shape.Models * b.Rows * tc.shape.Outputs
					want, got := make([]float64, n), make([]float64, n)
					if err := cpu.Forward(b, want); err != nil {
						t.Fatal(err)
					}
					if step%2 == 0 {
						if err := gpu.Forward(b, got); err != nil {
							t.Fatal(err)
						}
						compare(t, fmt.Sprintf("step %d outputs", step), got, want)
						if err := gpu.Gradient(b, got); err != nil {
							t.Fatal(err)
						}
						if err := gpu.Update(); err != nil {
							t.Fatal(err)
						}
					} else {
						wait, err := gpu.(learner.Stepper).Step(b, got)
						if err != nil {
							t.Fatal(err)
						}
						if err := wait(); err != nil {
							t.Fatal(err)
						}
						compare(t, fmt.Sprintf("step %d outputs (Step)", step), got, want)
					}
					if err := cpu.Gradient(b, want); err != nil {
						t.Fatal(err)
					}
					if err := cpu.Update(); err != nil {
						t.Fatal(err)
					}
				}
				for k := range tc.shape.Models {
					compare(t, fmt.Sprintf("weights of model %d", k), weightsOf(t, gpu, k), weightsOf(t, cpu, k))
				}
			})
		}
	})
}

// TestGradientsAccumulate checks that gradients of several batches add up before one Update, and that
// Gradient copies outputs it did not compute itself.
func TestGradientsAccumulate(t *testing.T) {
	onDevices(t, func(t *testing.T, be *Backend) {
		tc := testCases()[0]
		gpu, err := be.NewModels(tc.shape, tc.hyper)
		if err != nil {
			t.Fatal(err)
		}
		defer closeModels(t, gpu)
		cpu, _ := learner.CPUBackend{}.NewModels(tc.shape, tc.hyper)
		r := rand.New(rand.NewPCG(3, 3))
		for round := range 3 {
			var batches []*learner.Batch
			var outs [][]float64
			for range 3 {
				b := randomBatch(r, tc.shape, 20, false)
				out := make([]float64, tc.shape.Models*b.Rows)
				if err := cpu.Forward(b, out); err != nil {
					t.Fatal(err)
				}
				batches, outs = append(batches, b), append(outs, out)
			}
			for i, b := range batches {
				// the outputs come from the CPU: the device must take them as given
				if err := gpu.Gradient(b, append([]float64(nil), outs[i]...)); err != nil {
					t.Fatal(err)
				}
				if err := cpu.Gradient(b, outs[i]); err != nil {
					t.Fatal(err)
				}
			}
			if err := errors.Join(gpu.Update(), cpu.Update()); err != nil {
				t.Fatal(err)
			}
			for k := range tc.shape.Models {
				compare(t, fmt.Sprintf("round %d weights of model %d", round, k), weightsOf(t, gpu, k), weightsOf(t, cpu, k))
			}
		}
	})
}

// TestStepOverlaps steps several batches before waiting for any, waits out of order, and checks the
// outputs against one batch at a time on the CPU.
func TestStepOverlaps(t *testing.T) {
	onDevices(t, func(t *testing.T, be *Backend) {
		tc := testCases()[1] // logistic, FTRL, dense
		gpu, err := be.NewModels(tc.shape, tc.hyper)
		if err != nil {
			t.Fatal(err)
		}
		defer closeModels(t, gpu)
		cpu, _ := learner.CPUBackend{}.NewModels(tc.shape, tc.hyper)
		r := rand.New(rand.NewPCG(5, 5))
		var waits []func() error
		var got, want [][]float64
		for range 5 {
			b := randomBatch(r, tc.shape, 33, tc.dense)
			g, w := make([]float64, tc.shape.Models*b.Rows), make([]float64, tc.shape.Models*b.Rows)
			wait, err := gpu.(learner.Stepper).Step(b, g)
			if err != nil {
				t.Fatal(err)
			}
			cw, err := cpu.(learner.Stepper).Step(b, w)
			if err != nil || cw() != nil {
				t.Fatal(err)
			}
			waits, got, want = append(waits, wait), append(got, g), append(want, w)
		}
		for i := len(waits) - 1; i >= 0; i-- {
			if err := waits[i](); err != nil {
				t.Fatal(err)
			}
		}
		for i := range got {
			compare(t, fmt.Sprintf("batch %d", i), got[i], want[i])
		}
	})
}

// TestStateRoundTrip moves the optimizer state of trained models into fresh ones and checks that both
// go on learning identically.
func TestStateRoundTrip(t *testing.T) {
	onDevices(t, func(t *testing.T, be *Backend) {
		for _, tc := range []testCase{testCases()[0], testCases()[2]} {
			a, err := be.NewModels(tc.shape, tc.hyper)
			if err != nil {
				t.Fatal(err)
			}
			defer closeModels(t, a)
			b, err := be.NewModels(tc.shape, tc.hyper)
			if err != nil {
				t.Fatal(err)
			}
			defer closeModels(t, b)
			r := rand.New(rand.NewPCG(9, 9))
			step := func(m learner.Models, batch *learner.Batch) []float64 {
				out := make([]float64, tc.shape.Models*batch.Rows*tc.shape.Outputs)
				wait, err := m.(learner.Stepper).Step(batch, out)
				if err == nil {
					err = wait()
				}
				if err != nil {
					t.Fatal(err)
				}
				return out
			}
			for range 4 {
				step(a, randomBatch(r, tc.shape, 25, tc.dense))
			}
			size := (tc.shape.Dim + 1) * tc.shape.Outputs
			for k := range tc.shape.Models {
				z, s, w := make([]float64, size), make([]float64, size), make([]float64, size)
				if err := a.(*models).State(k, z, s, w); err != nil {
					t.Fatal(err)
				}
				if err := b.(*models).SetState(k, z, s, w, a.(*models).seen); err != nil {
					t.Fatal(err)
				}
			}
			for i := range 3 {
				batch := randomBatch(r, tc.shape, 25, tc.dense)
				compare(t, fmt.Sprintf("%s: batch %d after the move", tc.name, i), step(b, batch), step(a, batch))
			}
		}
	})
}

// TestEngineOnDevice runs a whole training run through learner.Engine, hashing and standardization
// included, on the device and on the CPU: a population of 4 models on a binary stream, in minibatches.
func TestEngineOnDevice(t *testing.T) {
	onDevices(t, func(t *testing.T, be *Backend) {
		spec := learner.DefaultSpec()
		spec.HashBits = 12
		spec.Standardize = true
		hyper := []learner.Hyper{{Alpha: 0.05, Beta: 1, L1: 0.1, L2: 0.1}, {Alpha: 0.1, Beta: 1, L1: 1}, {Alpha: 0.5, Beta: 1}, {Alpha: 0.02, Beta: 1}}
		gpu, err := learner.NewEngine(be, spec, hyper)
		if err != nil {
			t.Fatal(err)
		}
		defer gpu.Close()
		cpu, err := learner.NewEngine(learner.CPUBackend{}, spec, hyper)
		if err != nil {
			t.Fatal(err)
		}
		r := rand.New(rand.NewPCG(1, 2))
		for batch := range 30 {
			vs, ys := make([]wire.Vector, 64), make([]learner.Label, 64)
			for i := range vs {
				var m float64
				for j := range 8 {
					x := r.NormFloat64()
					vs[i] = append(vs[i], wire.Feature{Name: fmt.Sprintf("x%d", j), Value: x})
					m += x * float64(j-4) / 4
				}
				c := r.IntN(20)
				vs[i] = append(vs[i], wire.Feature{Name: fmt.Sprintf("c=%d", c), Value: 1})
				if r.Float64() < 1/(1+math.Exp(-m-float64(c%3-1))) {
					ys[i].Value = 1
				}
				vs[i].Sort()
			}
			if batch == 7 {
				ys[3].Value = math.NaN() // only scored
			}
			pg, err := gpu.Learn(vs, ys)
			if err != nil {
				t.Fatal(err)
			}
			pc, err := cpu.Learn(vs, ys)
			if err != nil {
				t.Fatal(err)
			}
			for i := range pc {
				if !near(pg[i].Score, pc[i].Score) {
					t.Fatalf("batch %d prediction %d: device %.17g, CPU %.17g", batch, i, pg[i].Score, pc[i].Score)
				}
			}
		}
		for k := range hyper {
			sg, err := gpu.Snapshot(k)
			if err != nil {
				t.Fatal(err)
			}
			sc, _ := cpu.Snapshot(k)
			v := wire.Vector{{Name: "x1", Value: 1}, {Name: "x6", Value: -2}, {Name: "c=3", Value: 1}}
			if g, c := sg.Predict(v).Score, sc.Predict(v).Score; !near(g, c) {
				t.Errorf("snapshot %d predicts %v, CPU %v", k, g, c)
			}
		}
	})
}

// TestModelsRejectBadInput checks that what the kernels would misread is an error, and that the
// models keep working after it.
func TestModelsRejectBadInput(t *testing.T) {
	onDevices(t, func(t *testing.T, be *Backend) {
		tc := testCases()[12] // softmax, FTRL, sparse
		m, err := be.NewModels(tc.shape, tc.hyper)
		if err != nil {
			t.Fatal(err)
		}
		defer closeModels(t, m)
		b := &learner.Batch{}
		b.Reset()
		b.AddRow([]int32{1, 2}, []float64{1, 1}, 1)
		out := make([]float64, tc.shape.Models*tc.shape.Outputs)
		bad := *b
		bad.Cols = []int32{1, 999}
		if err := m.Forward(&bad, out); err == nil || !strings.Contains(err.Error(), "out of range") {
			t.Errorf("column out of range: %v", err)
		}
		if err := m.Forward(b, out[:1]); err == nil {
			t.Error("short output buffer accepted")
		}
		b.Labels[0] = 5
		if _, err := m.(learner.Stepper).Step(b, out); err == nil || !strings.Contains(err.Error(), "class 5 out of range") {
			t.Errorf("class out of range: %v", err)
		}
		b.Labels[0] = 2
		if err := m.Forward(b, out); err != nil {
			t.Fatalf("after errors: %v", err)
		}
		if err := m.Weights(tc.shape.Models, make([]float64, (tc.shape.Dim+1)*3)); err == nil {
			t.Error("weights of a model that does not exist")
		}
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
		if err := m.Forward(b, out); !errors.Is(err, errClosed) {
			t.Errorf("forward after close: %v", err)
		}
	})
}

// TestBackendCloses checks that a backend refuses to close under open models.
func TestBackendCloses(t *testing.T) {
	be := newBackend(startEmulator(t), DeviceInfo{Name: "emulator"}, "emulator")
	tc := testCases()[0]
	m, err := be.NewModels(tc.shape, tc.hyper)
	if err != nil {
		t.Fatal(err)
	}
	if err := be.Close(); err == nil {
		t.Fatal("closed with models open")
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := be.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := be.NewModels(tc.shape, tc.hyper); err == nil {
		t.Fatal("new models on a closed backend")
	}
}

// TestUnavailableWithoutDriver checks what a machine without the NVIDIA driver gets: ErrUnavailable
// with the reason, a Probe that says so, and --device auto on the CPU.
func TestUnavailableWithoutDriver(t *testing.T) {
	if _, err := gpuBackend(); err == nil {
		t.Skip("this machine has a GPU")
	}
	_, err := Open(0)
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Open without a GPU: %v, want ErrUnavailable", err)
	}
	r := Probe()
	if r.Available || r.Reason == "" {
		t.Fatalf("probe: %+v", r)
	}
	sel, err := NewSelector(DeviceAuto, Workload{Batch: 4096, Active: 784})
	if err != nil {
		t.Fatal(err)
	}
	defer sel.Close()
	b, why := sel.For(learner.Shape{Models: 64, Dim: 784, Outputs: 1})
	if b != nil || !strings.Contains(why, "unavailable") {
		t.Fatalf("auto without a GPU: %v %q", b, why)
	}
	if _, err := NewSelector(DeviceCUDA, Workload{}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("--device cuda without a GPU: %v", err)
	}
	if _, err := NewSelector("tpu", Workload{}); err == nil {
		t.Fatal("unknown device accepted")
	}
	cpu, _ := NewSelector(DeviceCPU, Workload{})
	if b, _ := cpu.For(learner.Shape{Models: 64}); b != nil {
		t.Fatal("--device cpu chose a backend")
	}
}

// TestSelectorOnGPU checks the choices where there is a GPU.
func TestSelectorOnGPU(t *testing.T) {
	if _, err := gpuBackend(); err != nil {
		t.Skipf("no GPU to test on: %v", err)
	}
	sel, err := NewSelector(DeviceAuto, Workload{Batch: 4096, Active: 784})
	if err != nil {
		t.Fatal(err)
	}
	defer sel.Close()
	if b, why := sel.For(learner.Shape{Models: 64, Dim: 784, Outputs: 1}); b == nil {
		t.Errorf("auto kept K=64, batch 4096, width 784 on the CPU: %s", why)
	}
	one, _ := NewSelector(DeviceAuto, Workload{Batch: 1, Active: 50})
	defer one.Close()
	if b, why := one.For(learner.Shape{Models: 1, Dim: 1 << 20, Outputs: 1}); b != nil {
		t.Errorf("auto put one example at a time on the GPU: %s", why)
	}
}

func TestPrefers(t *testing.T) {
	big := learner.Shape{Models: 64, Dim: 784, Outputs: 1}
	small := learner.Shape{Models: 1, Dim: 1 << 20, Outputs: 1}
	if !Prefers(big, Workload{Batch: 4096, Active: 784}) {
		t.Error("K=64, width 784, batch 4096 should go to the GPU")
	}
	if Prefers(small, Workload{Batch: 1, Active: 50}) {
		t.Error("one model, one example at a time should stay on the CPU")
	}
}

// TestCheckpointMovesBetweenDevices trains a model in minibatches on the device and on the CPU
// backend side by side, then moves the device's checkpoint to the CPU's per-example trainer and a
// CPU checkpoint back to the device: predictions agree throughout.
func TestCheckpointMovesBetweenDevices(t *testing.T) {
	onDevices(t, func(t *testing.T, be *Backend) {
		spec := learner.DefaultSpec()
		spec.HashBits = 10
		spec.Optimizer = learner.OptimizerAdaGrad
		spec.LearningRate, spec.L1, spec.L2 = 0.2, 0.01, 0.01
		gpu, err := learner.NewBatchTrainer(be, spec)
		if err != nil {
			t.Fatal(err)
		}
		defer gpu.Close()
		cpu, err := learner.NewBatchTrainer(learner.CPUBackend{}, spec)
		if err != nil {
			t.Fatal(err)
		}
		r := rand.New(rand.NewPCG(4, 4))
		batch := func() ([]wire.Vector, []learner.Label) {
			vs, ys := make([]wire.Vector, 48), make([]learner.Label, 48)
			for i := range vs {
				a, c := r.NormFloat64(), r.IntN(30)
				vs[i] = wire.Vector{{Name: "a", Value: a}, {Name: fmt.Sprintf("c=%d", c), Value: 1}}
				vs[i].Sort()
				if a+float64(c%5-2)/2+0.5*r.NormFloat64() > 0 {
					ys[i].Value = 1
				}
			}
			return vs, ys
		}
		for range 20 {
			vs, ys := batch()
			pg, err := gpu.LearnBatch(vs, ys)
			if err != nil {
				t.Fatal(err)
			}
			pc, _ := cpu.LearnBatch(vs, ys)
			for i := range pc {
				if !near(pg[i].Score, pc[i].Score) {
					t.Fatalf("prediction %d: device %v, CPU %v", i, pg[i].Score, pc[i].Score)
				}
			}
		}
		cp, err := gpu.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		online, err := learner.UnmarshalTrainer(cp)
		if err != nil {
			t.Fatal(err)
		}
		cpuCP, _ := cpu.MarshalBinary()
		back, err := learner.ResumeBatchTrainer(be, cpuCP)
		if err != nil {
			t.Fatal(err)
		}
		defer back.Close()
		vs, _ := batch()
		for _, v := range vs {
			g, o, b := gpu.Predict(v).Score, online.Predict(v).Score, back.Predict(v).Score
			if !near(o, g) || !near(b, g) {
				t.Fatalf("after moving: device %v, on the CPU %v, back on the device %v", g, o, b)
			}
		}
		if online.Seen() != 20*48 || back.Seen() != 20*48 {
			t.Fatalf("seen: %d, %d", online.Seen(), back.Seen())
		}
	})
}

// corruptDevice is a device whose downloads come back with one value changed, as a broken driver or
// kernel would make them.
type corruptDevice struct{ device }

func (d corruptDevice) download(dst []byte, src devPtr, s stream) error {
	err := d.device.download(dst, src, s)
	if len(dst) >= 8 {
		copy(dst, []byte{0, 0, 0, 0, 0, 0, 0xf0, 0x3f}) // 1.0
	}
	return err
}

// TestSelfTest runs the start-up self-test on the emulated device, where it passes, and on one that
// returns wrong numbers, where it must fail.
func TestSelfTest(t *testing.T) {
	onDevices(t, func(t *testing.T, be *Backend) {
		diff, err := SelfTest(be)
		if err != nil || diff > 1e-12 {
			t.Fatalf("self-test: max difference %v, %v", diff, err)
		}
	})
	bad := newBackend(corruptDevice{startEmulator(t)}, DeviceInfo{Name: "broken"}, "emulator")
	if _, err := SelfTest(bad); err == nil || !strings.Contains(err.Error(), "on the device") {
		t.Fatalf("self-test on a device returning wrong numbers: %v", err)
	}
}
