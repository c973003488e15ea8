package learner

import "fmt"

// IsLinear reports whether the spec trains a linear model, the only family with minibatch kernels
// on a Backend (and so on the GPU): family linear, or auto on a task only linear learns.
func (s Spec) IsLinear() bool {
	return s.family() == FamilyLinear || s.family() == FamilyAuto && s.Task != Binary
}

// NewTrainerOn returns a trainer of spec on backend: a BatchTrainer for the linear family (nil
// backend: Online), and for the others their CPU trainer, which learns minibatches itself (FM,
// MLP); a non-linear family on any backend but the CPU's is ErrFamilyDevice.
func NewTrainerOn(backend Backend, spec Spec) (Trainer, error) {
	if spec.family() == FamilyAuto && spec.Task != Binary {
		spec = spec.clone()
		spec.Family = FamilyLinear // as NewTrainer does
	}
	switch {
	case backend == nil:
		return NewTrainer(spec)
	case spec.IsLinear():
		return NewBatchTrainer(backend, spec)
	case backend.Name() != (CPUBackend{}).Name():
		return nil, fmt.Errorf("new trainer: family %s on backend %s: %w", spec.family(), backend.Name(), ErrFamilyDevice)
	}
	return NewTrainer(spec)
}

// ResumeTrainerOn resumes a trainer on backend from a checkpoint of any family, as NewTrainerOn
// places it.
func ResumeTrainerOn(backend Backend, checkpoint []byte) (Trainer, error) {
	t, err := UnmarshalTrainer(checkpoint)
	if err != nil || backend == nil {
		return t, err
	}
	if t.Spec().IsLinear() {
		return ResumeBatchTrainer(backend, checkpoint)
	}
	if backend.Name() != (CPUBackend{}).Name() {
		return nil, fmt.Errorf("resume trainer: family %s on backend %s: %w", t.Spec().family(), backend.Name(), ErrFamilyDevice)
	}
	return t, nil
}
