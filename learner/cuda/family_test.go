package cuda

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/streamlearn/streamlearn/learner"
	"github.com/streamlearn/streamlearn/wire"
)

// TestFamilyPlacement: FM and MLP train on the GPU backend (a Family whose model lives there, and
// engines of them); tree, forest and auto have no kernels there and are refused with
// learner.ErrFamilyDevice, and the same specs train on the CPU backend.
func TestFamilyPlacement(t *testing.T) {
	b := newBackend(startEmulator(t), DeviceInfo{Name: "emulator"}, "emulator")
	for _, f := range []string{learner.FamilyFM, learner.FamilyMLP} {
		spec := learner.DefaultSpec()
		spec.Family, spec.HashBits = f, 10
		tr, err := learner.NewTrainerOn(b, spec)
		if err != nil {
			t.Fatalf("%s on the cuda backend: %v", f, err)
		}
		fam, ok := tr.(*learner.Family)
		if !ok || fam.Device() != "cuda" {
			t.Fatalf("%s on the cuda backend: %T on %v", f, tr, fam)
		}
		if err := fam.Close(); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{learner.FamilyTree, learner.FamilyForest, learner.FamilyAuto} {
		spec := learner.DefaultSpec()
		spec.Family, spec.HashBits = f, 10
		if _, err := learner.NewTrainerOn(b, spec); !errors.Is(err, learner.ErrFamilyDevice) {
			t.Errorf("%s on the cuda backend: err %v, want ErrFamilyDevice", f, err)
		}
		cpu, err := learner.NewTrainerOn(learner.CPUBackend{}, spec)
		if err != nil {
			t.Errorf("%s on the CPU backend: %v", f, err)
		} else if cpu.Spec().Family != f {
			t.Errorf("%s on the CPU backend: a trainer of family %q", f, cpu.Spec().Family)
		}
	}
	for _, f := range []string{learner.FamilyFM, learner.FamilyMLP, learner.FamilyTree, learner.FamilyForest, learner.FamilyAuto} {
		spec := learner.DefaultSpec()
		spec.Family, spec.HashBits = f, 10
		e, err := learner.NewEngine(b, spec, nil)
		switch {
		case f == learner.FamilyFM || f == learner.FamilyMLP:
			if err != nil {
				t.Errorf("%s engine on the cuda backend: %v", f, err)
			} else if err := e.Close(); err != nil {
				t.Error(err)
			}
		case !errors.Is(err, learner.ErrFamilyDevice):
			t.Errorf("%s engine on the cuda backend: err %v, want ErrFamilyDevice", f, err)
		}
	}
	spec := learner.DefaultSpec()
	spec.Family, spec.HashBits = learner.FamilyLinear, 10
	tr, err := learner.NewTrainerOn(b, spec)
	if err != nil {
		t.Fatalf("linear on the cuda backend: %v", err)
	}
	if _, ok := tr.(*learner.BatchTrainer); !ok {
		t.Fatalf("linear on the cuda backend: %T, want a BatchTrainer", tr)
	}
	tr.(*learner.BatchTrainer).Close()
	if err := b.Close(); err != nil {
		t.Fatalf("backend close after the models: %v", err)
	}
}

// interactions is a stream whose label depends on pairs of features (a XOR-like rule on two
// categorical fields, and a product of two numbers): what FM and MLP learn and a linear model cannot.
func interactions(seed uint64, n int) ([]wire.Vector, []learner.Label) {
	r := rand.New(rand.NewPCG(seed, 7))
	vs, ys := make([]wire.Vector, n), make([]learner.Label, n)
	for i := range vs {
		a, b := r.IntN(24), r.IntN(24)
		x, z := r.NormFloat64(), r.NormFloat64()*3
		v := wire.Vector{{Name: fmt.Sprintf("a=%d", a), Value: 1}, {Name: fmt.Sprintf("b=%d", b), Value: 1},
			{Name: "x", Value: x}, {Name: "z", Value: z}}
		m := x*z/2 + 1.5*float64(1-2*((a+b)%2))
		if r.Float64() < 1/(1+math.Exp(-m)) {
			ys[i].Value = 1
		}
		if i%97 == 13 {
			ys[i].Value = math.NaN() // only scored
		}
		v.Sort()
		vs[i] = v
	}
	return vs, ys
}

// familySpecs are the device families' specs of the tests: FM, and the MLP with one and two layers.
func familySpecs() map[string]learner.Spec {
	base := learner.DefaultSpec()
	base.HashBits, base.Standardize = 10, true
	fm, mlp1, mlp2 := base, base, base
	fm.Family, fm.FM.Factors = learner.FamilyFM, 4
	mlp1.Family, mlp1.MLP.Hidden, mlp1.MLP.LearningRate = learner.FamilyMLP, []int{8}, 0.01
	mlp2.Family, mlp2.MLP.Hidden, mlp2.MLP.LearningRate = learner.FamilyMLP, []int{8, 5}, 0.01
	return map[string]learner.Spec{"fm": fm, "mlp": mlp1, "mlp2": mlp2}
}

// familyTolerance bounds the relative difference between a family trained on the device and on the
// CPU. The kernels sum every gradient and activation in the CPU's order, in double precision, so
// the only differences are the last bits of exp and tanh (the C library's or the GPU's against Go's)
// and, on a GPU, fused multiply-adds; these grow a little with training. 1e-9 leaves six orders of
// magnitude of room above double rounding and still catches any wrong term.
const familyTolerance = 1e-9

func nearFamily(got, want float64) bool {
	return math.Abs(got-want) <= familyTolerance*max(1, math.Abs(want))
}

func compareFamily(t *testing.T, what string, got, want []float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range want {
		if !nearFamily(got[i], want[i]) {
			t.Fatalf("%s: value %d is %.17g on the device, %.17g on the CPU", what, i, got[i], want[i])
		}
	}
}

func scores(ps []learner.Prediction) []float64 {
	out := make([]float64, len(ps))
	for i, p := range ps {
		out[i] = p.Score
	}
	return out
}

// newFamilyPair returns the CPU Family of spec and the same spec on backend b.
func newFamilyPair(t *testing.T, b *Backend, spec learner.Spec) (cpu, dev *learner.Family) {
	t.Helper()
	c, err := learner.NewTrainer(spec)
	if err != nil {
		t.Fatal(err)
	}
	d, err := learner.NewTrainerOn(b, spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.(*learner.Family).Close(); err != nil {
			t.Error(err)
		}
	})
	return c.(*learner.Family), d.(*learner.Family)
}

// learnBoth feeds vs to both trainers in minibatches of the given sizes, in turn, and checks that
// their predictions agree.
func learnBoth(t *testing.T, cpu, dev *learner.Family, vs []wire.Vector, ys []learner.Label, sizes []int) {
	t.Helper()
	for i, k := 0, 0; i < len(vs); k++ {
		n := min(sizes[k%len(sizes)], len(vs)-i)
		pc, err := cpu.LearnBatch(vs[i:i+n], ys[i:i+n])
		if err != nil {
			t.Fatal(err)
		}
		pd, err := dev.LearnBatch(vs[i:i+n], ys[i:i+n])
		if err != nil {
			t.Fatal(err)
		}
		compareFamily(t, fmt.Sprintf("predictions of examples %d..%d", i, i+n), scores(pd), scores(pc))
		i += n
	}
}

// TestFamilyMatchesCPU trains FM and MLP (one and two hidden layers) on the device and on the CPU
// with the same minibatches of a stream with interactions: predictions, weights, optimizer state,
// skipped counts and snapshots agree to familyTolerance; one example at a time too.
func TestFamilyMatchesCPU(t *testing.T) {
	onDevices(t, func(t *testing.T, be *Backend) {
		for name, spec := range familySpecs() {
			t.Run(name, func(t *testing.T) {
				cpu, dev := newFamilyPair(t, be, spec)
				vs, ys := interactions(1, 600)
				learnBoth(t, cpu, dev, vs[:560], ys[:560], []int{32, 1, 57, 64, 7})
				for i := 560; i < 600; i++ { // per example: Learn is a batch of one
					pc, pd := cpu.Learn(vs[i], ys[i]), dev.Learn(vs[i], ys[i])
					if !nearFamily(pd.Score, pc.Score) || !nearFamily(dev.Predict(vs[i]).Score, cpu.Predict(vs[i]).Score) {
						t.Fatalf("example %d: device %v, CPU %v", i, pd.Score, pc.Score)
					}
				}
				if err := dev.Err(); err != nil {
					t.Fatal(err)
				}
				compareFamily(t, "weights", dev.Weights(), cpu.Weights())
				if dev.Seen() != cpu.Seen() || dev.Skipped() != cpu.Skipped() {
					t.Fatalf("seen %d skipped %d, CPU %d and %d", dev.Seen(), dev.Skipped(), cpu.Seen(), cpu.Skipped())
				}
				compareCheckpoints(t, dev, cpu)
				probe, _ := interactions(2, 50)
				sd, sc := dev.Snapshot(), cpu.Snapshot()
				for i, v := range probe {
					if g, c := sd.Predict(v).Score, sc.Predict(v).Score; !nearFamily(g, c) {
						t.Fatalf("snapshot prediction %d: %v, CPU %v", i, g, c)
					}
				}
				bd, err1 := sd.MarshalBinary()
				bc, err2 := sc.MarshalBinary()
				if err := errors.Join(err1, err2); err != nil || len(bd) != len(bc) {
					t.Fatalf("snapshots: %d and %d bytes, %v", len(bd), len(bc), err)
				}
				t.Logf("checkpoints and snapshots bit-identical to the CPU's: %v", bytes.Equal(bd, bc))
			})
		}
	})
}

// compareCheckpoints checks that the two trainers' checkpoints have the same layout (length) and
// resume each other's state: the device's, resumed on the CPU, has the device's weights.
func compareCheckpoints(t *testing.T, dev, cpu *learner.Family) {
	t.Helper()
	cd, err1 := dev.MarshalBinary()
	cc, err2 := cpu.MarshalBinary()
	if err := errors.Join(err1, err2); err != nil {
		t.Fatal(err)
	}
	if len(cd) != len(cc) {
		t.Fatalf("checkpoints of %d bytes on the device, %d on the CPU", len(cd), len(cc))
	}
	back, err := learner.UnmarshalTrainer(cd)
	if err != nil {
		t.Fatal(err)
	}
	compareFamily(t, "weights of the device's checkpoint on the CPU", back.(*learner.Family).Weights(), dev.Weights())
}

// TestFamilyCheckpointMoves: a checkpoint is the same on the CPU and on the device, so that either
// resumes from the other bit for bit (no arithmetic happens on the way), and training on from it
// agrees to familyTolerance.
func TestFamilyCheckpointMoves(t *testing.T) {
	onDevices(t, func(t *testing.T, be *Backend) {
		for name, spec := range familySpecs() {
			t.Run(name, func(t *testing.T) {
				cpu, dev := newFamilyPair(t, be, spec)
				vs, ys := interactions(3, 400)
				learnBoth(t, cpu, dev, vs[:200], ys[:200], []int{50})
				cc, err := cpu.MarshalBinary()
				if err != nil {
					t.Fatal(err)
				}
				onDev := resumeOn(t, be, cc)
				if got, err := onDev.MarshalBinary(); err != nil || !bytes.Equal(got, cc) {
					t.Fatalf("the CPU's checkpoint resumed on the device marshals to other bytes (%v)", err)
				}
				// The same state gives the same snapshot, byte for byte.
				sd, err1 := onDev.Snapshot().MarshalBinary()
				sc, err2 := cpu.Snapshot().MarshalBinary()
				if err := errors.Join(err1, err2); err != nil || !bytes.Equal(sd, sc) {
					t.Fatalf("snapshots of the same state differ between the device and the CPU (%v)", err)
				}
				cd, err := dev.MarshalBinary()
				if err != nil {
					t.Fatal(err)
				}
				onCPU := resumeOn(t, nil, cd)
				if got, err := onCPU.MarshalBinary(); err != nil || !bytes.Equal(got, cd) {
					t.Fatalf("the device's checkpoint resumed on the CPU marshals to other bytes (%v)", err)
				}
				// cpu and onDev start from the same state, as do onCPU and dev.
				learnBoth(t, cpu, onDev, vs[200:], ys[200:], []int{64, 3})
				learnBoth(t, onCPU, dev, vs[200:], ys[200:], []int{64, 3})
				compareFamily(t, "weights after resuming on the device", onDev.Weights(), cpu.Weights())
				compareFamily(t, "weights after resuming on the CPU", dev.Weights(), onCPU.Weights())
			})
		}
	})
}

// resumeOn resumes a Family from checkpoint on b (nil: the CPU), closed at the end of the test.
func resumeOn(t *testing.T, b *Backend, checkpoint []byte) *learner.Family {
	t.Helper()
	var backend learner.Backend
	if b != nil {
		backend = b
	}
	tr, err := learner.ResumeTrainerOn(backend, checkpoint)
	if err != nil {
		t.Fatal(err)
	}
	f := tr.(*learner.Family)
	if want := map[bool]string{true: "cuda", false: "cpu"}[b != nil]; f.Device() != want {
		t.Fatalf("resumed on %s, want %s", f.Device(), want)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// TestFamilySelector: learner.device places FM and MLP like linear models (cuda: the GPU; auto: the GPU
// from the crossover on) and tree, forest and auto on the CPU whatever it says.
func TestFamilySelector(t *testing.T) {
	b := newBackend(startEmulator(t), DeviceInfo{Name: "emulator"}, "emulator")
	spec := func(f string) learner.Spec {
		s := learner.DefaultSpec()
		s.Family, s.HashBits = f, 12
		return s
	}
	big, small := Workload{Batch: 256, Active: 50}, Workload{Batch: 1, Active: 4}
	for _, tc := range []struct {
		mode   string
		w      Workload
		family string
		gpu    bool
	}{
		{DeviceCUDA, small, learner.FamilyFM, true},
		{DeviceCUDA, small, learner.FamilyMLP, true},
		{DeviceAuto, big, learner.FamilyFM, true},
		{DeviceAuto, big, learner.FamilyMLP, true},
		{DeviceAuto, small, learner.FamilyFM, false},
		{DeviceAuto, Workload{Batch: 1, Active: 1}, learner.FamilyMLP, false},
		{DeviceAuto, big, learner.FamilyLinear, true},
		{DeviceCUDA, big, learner.FamilyTree, false},
		{DeviceCUDA, big, learner.FamilyForest, false},
		{DeviceCUDA, big, learner.FamilyAuto, false},
		{DeviceCPU, big, learner.FamilyFM, false},
	} {
		sel := &Selector{mode: tc.mode, w: tc.w, gpu: b}
		if tc.mode == DeviceCPU {
			sel.gpu = nil
		}
		got, why := sel.ForSpec(spec(tc.family))
		if (got != nil) != tc.gpu || !strings.HasPrefix(why, map[bool]string{true: "cuda: ", false: "cpu: "}[tc.gpu]) {
			t.Errorf("%s, %+v, family %s: backend %v (%s), want the GPU %v", tc.mode, tc.w, tc.family, got, why, tc.gpu)
		}
		if got != nil {
			if tr, err := learner.NewTrainerOn(got, spec(tc.family)); err != nil {
				t.Errorf("%s on the chosen backend: %v", tc.family, err)
			} else if c, ok := tr.(interface{ Close() error }); ok {
				c.Close()
			}
		}
	}
}

// TestFamilyModelRejectsBadInput: what the kernels would misread is an error, and the model still
// works after it.
func TestFamilyModelRejectsBadInput(t *testing.T) {
	b := newBackend(startEmulator(t), DeviceInfo{Name: "emulator"}, "emulator")
	shape, _ := learner.FamilyShapeOf(familySpecs()["fm"])
	fm, err := b.NewFamilyModel(shape)
	if err != nil {
		t.Fatal(err)
	}
	defer fm.Close()
	row := func(col int32, y float64) *learner.Batch {
		var bt learner.Batch
		bt.Reset()
		bt.AddRow([]int32{col}, []float64{1}, y)
		return &bt
	}
	out := make([]float64, 1)
	for name, err := range map[string]error{
		"column out of range":  fm.Margins(row(int32(shape.Dim), 0), out),
		"no room for outputs":  fm.Margins(row(1, 0), nil),
		"label not in [0, 1]":  fm.Learn(row(1, math.NaN()), nil, nil, nil),
		"label 2":              fm.Learn(row(1, 2), nil, nil, nil),
		"fresh row range":      fm.Learn(row(1, 1), []int32{-1}, make([]float64, shape.Stride), nil),
		"initial values short": fm.Learn(row(1, 1), []int32{1}, nil, nil),
		"no room for margins":  fm.Learn(row(1, 1), nil, nil, make([]float64, 0, 1)),
		"state of other sizes": fm.SetState(&learner.FamilyState{}),
		"dense batch":          fm.Margins(&learner.Batch{Rows: 1, Width: 1, Dense: []float64{1}, Labels: []float64{0}}, out),
	} {
		if err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	before := []float64{math.NaN()}
	if err := fm.Learn(row(1, 1), []int32{1}, make([]float64, shape.Stride), before); err != nil {
		t.Fatal(err)
	}
	if err := fm.Margins(row(1, 0), out); err != nil || out[0] == 0 || before[0] != 0 {
		t.Fatalf("margin before the first step %v, after it %v (%v)", before[0], out[0], err)
	}
}

// TestFamilyEngineMatchesCPU trains a population of three FMs (and of two MLPs) with different
// learning rates and L2 as one Engine on the device and on the CPU backend: predictions, snapshots
// and checkpoints agree, and a member's checkpoint resumes as an engine on the other device.
func TestFamilyEngineMatchesCPU(t *testing.T) {
	onDevices(t, func(t *testing.T, be *Backend) {
		specs := familySpecs()
		for name, hyper := range map[string][]learner.Hyper{
			"fm":   {{LearningRate: 0.05, L2: 1e-4}, {LearningRate: 0.2}, {LearningRate: 0.01, L2: 0.01}},
			"mlp2": {{LearningRate: 0.003, L2: 1e-5}, {LearningRate: 0.03}},
		} {
			t.Run(name, func(t *testing.T) {
				dev, err := learner.NewEngine(be, specs[name], hyper)
				if err != nil {
					t.Fatal(err)
				}
				defer dev.Close()
				cpu, err := learner.NewEngine(learner.CPUBackend{}, specs[name], hyper)
				if err != nil {
					t.Fatal(err)
				}
				vs, ys := interactions(4, 300)
				for i := 0; i < len(vs); i += 60 {
					pd, err1 := dev.Learn(vs[i:i+60], ys[i:i+60])
					pc, err2 := cpu.Learn(vs[i:i+60], ys[i:i+60])
					if err := errors.Join(err1, err2); err != nil || len(pd) != len(hyper)*60 {
						t.Fatalf("learn: %d predictions, %v", len(pd), err)
					}
					compareFamily(t, fmt.Sprintf("predictions of examples %d..", i), scores(pd), scores(pc))
				}
				pd, _ := dev.Predict(vs[:20])
				pc, _ := cpu.Predict(vs[:20])
				compareFamily(t, "Predict", scores(pd), scores(pc))
				for k := range hyper {
					cd, err := dev.Checkpoint(k)
					if err != nil {
						t.Fatal(err)
					}
					back, err := learner.ResumeEngine(learner.CPUBackend{}, cd)
					if err != nil {
						t.Fatal(err)
					}
					got, _ := back.Predict(vs[:20])
					want, _ := cpu.Predict(vs[:20])
					compareFamily(t, fmt.Sprintf("model %d resumed on the CPU", k), scores(got), scores(want[k*20:(k+1)*20]))
					sd, _ := dev.Snapshot(k)
					sc, _ := cpu.Snapshot(k)
					if g, c := sd.Predict(vs[7]).Score, sc.Predict(vs[7]).Score; !nearFamily(g, c) {
						t.Fatalf("snapshot %d: %v, CPU %v", k, g, c)
					}
				}
				if dev.Seen() != cpu.Seen() || dev.Skipped() != cpu.Skipped() {
					t.Fatalf("seen %d skipped %d, CPU %d and %d", dev.Seen(), dev.Skipped(), cpu.Seen(), cpu.Skipped())
				}
			})
		}
	})
}
