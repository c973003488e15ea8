package learner_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/streamlearn/streamlearn/learner"
	"github.com/streamlearn/streamlearn/wire"
)

// otherBackend is the CPU backend under another name: a minibatch backend without kernels for the
// non-linear families (it does not implement learner.FamilyBackend).
type otherBackend struct{ learner.CPUBackend }

func (otherBackend) Name() string { return "other" }

// TestFamilyPlacementOnBackends: FM and MLP train on the CPU backend (a Family on the CPU) and are
// refused with ErrFamilyDevice on a backend that is not a FamilyBackend, new or resumed; linear
// trains on both. (The GPU backend, a FamilyBackend, is tested in learner/cuda.)
func TestFamilyPlacementOnBackends(t *testing.T) {
	for _, f := range []string{learner.FamilyFM, learner.FamilyMLP, learner.FamilyTree} {
		spec := learner.DefaultSpec()
		spec.Family, spec.HashBits = f, 10
		tr, err := learner.NewTrainerOn(learner.CPUBackend{}, spec)
		if err != nil {
			t.Fatalf("%s on the CPU backend: %v", f, err)
		}
		fam, ok := tr.(*learner.Family)
		if !ok || fam.Device() != "cpu" || fam.Close() != nil || fam.Err() != nil {
			t.Fatalf("%s on the CPU backend: %T", f, tr)
		}
		if _, err := learner.NewTrainerOn(otherBackend{}, spec); !errors.Is(err, learner.ErrFamilyDevice) {
			t.Errorf("%s on a backend without family kernels: %v, want ErrFamilyDevice", f, err)
		}
		cp, err := fam.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := learner.ResumeTrainerOn(otherBackend{}, cp); !errors.Is(err, learner.ErrFamilyDevice) {
			t.Errorf("%s resumed on a backend without family kernels: %v, want ErrFamilyDevice", f, err)
		}
		if back, err := learner.ResumeTrainerOn(learner.CPUBackend{}, cp); err != nil || back.(*learner.Family).Device() != "cpu" {
			t.Errorf("%s resumed on the CPU backend: %v", f, err)
		}
	}
	spec := learner.DefaultSpec()
	spec.HashBits = 10
	if tr, err := learner.NewTrainerOn(otherBackend{}, spec); err != nil {
		t.Errorf("linear on another backend: %v", err)
	} else {
		tr.(*learner.BatchTrainer).Close()
	}
}

// TestFamilyShapeOf checks the shapes a FamilyBackend gets, and which families have device kernels.
func TestFamilyShapeOf(t *testing.T) {
	spec := learner.DefaultSpec()
	spec.HashBits = 12
	spec.Family, spec.FM.Factors, spec.FM.LearningRate = learner.FamilyFM, 6, 0.1
	fm, ok := learner.FamilyShapeOf(spec)
	if want := (learner.FamilyShape{Family: "fm", Dim: 1 << 12, Stride: 7, Factors: 6, LearningRate: 0.1, L2: 1e-4}); !ok || fm != want {
		t.Errorf("fm: %+v, want %+v", fm, want)
	}
	if fm.DenseSize() != 1 {
		t.Errorf("fm dense size %d", fm.DenseSize())
	}
	spec.Family, spec.MLP.Hidden, spec.MLP.Bits = learner.FamilyMLP, []int{5, 3}, 9
	mlp, ok := learner.FamilyShapeOf(spec)
	if !ok || mlp.Dim != 1<<9 || mlp.Stride != 5 || mlp.Hidden != [2]int{5, 3} {
		t.Errorf("mlp: %+v", mlp)
	}
	// b1 [5], w2 [5*3], b2 [3], wo [3], bo.
	if l := mlp.MLPLayout(); l != (learner.MLPLayout{B1: 0, W2: 5, B2: 20, Wo: 23, Bo: 26, Size: 27, Last: 3}) || mlp.DenseSize() != 27 {
		t.Errorf("mlp layout: %+v", l)
	}
	for f, want := range map[string]bool{"linear": true, "fm": true, "mlp": true, "tree": false, "forest": false, "auto": false} {
		spec.Family = f
		if got := spec.HasDeviceKernels(); got != want {
			t.Errorf("%s: HasDeviceKernels %v", f, got)
		}
		if _, ok := learner.FamilyShapeOf(spec); ok != (want && f != "linear") {
			t.Errorf("%s: FamilyShapeOf ok %v", f, ok)
		}
	}
}

// TestFamilyEngineOnCPU: an Engine of FM or MLP models on the CPU backend is its members, each a
// Family with the learning rate and L2 of its Hyper: the same predictions, bit for bit, model-major;
// its checkpoints are the Family's and resume as an engine.
func TestFamilyEngineOnCPU(t *testing.T) {
	for _, f := range []string{learner.FamilyFM, learner.FamilyMLP} {
		spec := familySpec(f)
		hyper := []learner.Hyper{{LearningRate: 0.01}, {LearningRate: 0.1, L2: 0.001}}
		e, err := learner.NewEngine(learner.CPUBackend{}, spec, hyper)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		var members []*learner.Family
		for _, h := range hyper {
			s := spec
			if f == learner.FamilyFM {
				s.FM.LearningRate, s.FM.L2 = h.LearningRate, h.L2
			} else {
				s.MLP.LearningRate, s.MLP.L2 = h.LearningRate, h.L2
			}
			m, err := learner.NewFamily(s)
			if err != nil {
				t.Fatal(err)
			}
			members = append(members, m)
		}
		var vs []wire.Vector
		var ys []learner.Label
		for _, ex := range familyStream(400, 3) {
			vs, ys = append(vs, ex.v), append(ys, ex.y)
		}
		for i := 0; i < len(vs); i += 50 {
			got, err := e.Learn(vs[i:i+50], ys[i:i+50])
			if err != nil {
				t.Fatal(err)
			}
			for k, m := range members {
				want, _ := m.LearnBatch(vs[i:i+50], ys[i:i+50])
				for j := range want {
					if got[k*50+j].Score != want[j].Score {
						t.Fatalf("%s model %d example %d: %v, member %v", f, k, i+j, got[k*50+j].Score, want[j].Score)
					}
				}
			}
		}
		cp, err := e.Checkpoint(1)
		if err != nil {
			t.Fatal(err)
		}
		if want, _ := members[1].MarshalBinary(); !bytes.Equal(cp, want) {
			t.Fatalf("%s: the engine's checkpoint of model 1 is not its member's", f)
		}
		back, err := learner.ResumeEngine(learner.CPUBackend{}, cp)
		if err != nil || back.Models() != 1 || back.Seen() != e.Seen() {
			t.Fatalf("%s: resumed engine %v", f, err)
		}
		if _, err := e.Checkpoint(2); err == nil {
			t.Errorf("%s: checkpoint of model 2 of 2", f)
		}
	}
	spec := familySpec(learner.FamilyFM)
	if _, err := learner.NewEngine(learner.CPUBackend{}, spec, []learner.Hyper{{LearningRate: 0}}); err == nil {
		t.Error("an FM engine with learning rate 0")
	}
}
