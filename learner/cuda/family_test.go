package cuda

import (
	"errors"
	"testing"

	"github.com/streamlearn/streamlearn/learner"
)

// TestNonLinearFamiliesRefused: the GPU backend has kernels for the linear family only; a
// trainer of any other family placed on it is refused with learner.ErrFamilyDevice, and the same
// spec as linear trains there.
func TestNonLinearFamiliesRefused(t *testing.T) {
	b := newBackend(startEmulator(t), DeviceInfo{Name: "emulator"}, "emulator")
	for _, f := range []string{learner.FamilyFM, learner.FamilyMLP, learner.FamilyTree, learner.FamilyForest, learner.FamilyAuto} {
		spec := learner.DefaultSpec()
		spec.Family, spec.HashBits = f, 10
		if _, err := learner.NewTrainerOn(b, spec); !errors.Is(err, learner.ErrFamilyDevice) {
			t.Errorf("%s on the cuda backend: err %v, want ErrFamilyDevice", f, err)
		}
		if _, err := learner.NewEngine(b, spec, nil); !errors.Is(err, learner.ErrFamilyDevice) {
			t.Errorf("%s engine on the cuda backend: err %v, want ErrFamilyDevice", f, err)
		}
		cpu, err := learner.NewTrainerOn(learner.CPUBackend{}, spec)
		if err != nil {
			t.Errorf("%s on the CPU backend: %v", f, err)
		} else if cpu.Spec().Family != f {
			t.Errorf("%s on the CPU backend: a trainer of family %q", f, cpu.Spec().Family)
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
}
