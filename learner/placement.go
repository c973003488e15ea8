package learner

import "fmt"

// IsLinear reports whether the spec trains a linear model: family linear, or auto on a task only
// linear learns. Linear models train on any Backend.
func (s Spec) IsLinear() bool {
	return s.family() == FamilyLinear || s.family() == FamilyAuto && s.Task != Binary
}

// HasDeviceKernels reports whether the spec's family has minibatch kernels on a device backend:
// linear on every Backend, FM and MLP on a FamilyBackend. Tree, forest and auto (on a binary task)
// train on the CPU only.
func (s Spec) HasDeviceKernels() bool {
	_, ok := FamilyShapeOf(s)
	return s.IsLinear() || ok
}

// NewTrainerOn returns a trainer of spec on backend: a BatchTrainer for the linear family (nil
// backend: Online); for FM and MLP a Family whose model lives on the backend when it is a
// FamilyBackend, or on the CPU when backend is the CPU's; for tree, forest and auto their CPU
// trainer. Any other placement of a non-linear family is ErrFamilyDevice.
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
	}
	if err := familyPlacement(backend, spec); err != nil {
		return nil, fmt.Errorf("new trainer: %w", err)
	}
	t, err := NewTrainer(spec)
	if err != nil {
		return nil, err
	}
	return placeFamily(backend, t, "new trainer")
}

// ResumeTrainerOn resumes a trainer on backend from a checkpoint of any family, as NewTrainerOn
// places it. A checkpoint of FM or MLP is the same on the CPU and on a device.
func ResumeTrainerOn(backend Backend, checkpoint []byte) (Trainer, error) {
	t, err := UnmarshalTrainer(checkpoint)
	if err != nil || backend == nil {
		return t, err
	}
	if t.Spec().IsLinear() {
		return ResumeBatchTrainer(backend, checkpoint)
	}
	if err := familyPlacement(backend, t.Spec()); err != nil {
		return nil, fmt.Errorf("resume trainer: %w", err)
	}
	return placeFamily(backend, t, "resume trainer")
}

// familyPlacement says whether a non-linear spec may train on backend: anything on the CPU's,
// FM and MLP on a FamilyBackend.
func familyPlacement(backend Backend, spec Spec) error {
	if backend.Name() == (CPUBackend{}).Name() {
		return nil
	}
	if _, ok := backend.(FamilyBackend); ok {
		if _, ok := FamilyShapeOf(spec); ok {
			return nil
		}
	}
	return fmt.Errorf("family %s on backend %s: %w", spec.family(), backend.Name(), ErrFamilyDevice)
}

// placeFamily moves the model of t, a Family, onto backend when backend is a FamilyBackend other
// than the CPU's.
func placeFamily(backend Backend, t Trainer, op string) (Trainer, error) {
	fb, ok := backend.(FamilyBackend)
	f, isFamily := t.(*Family)
	if !ok || !isFamily || backend.Name() == (CPUBackend{}).Name() {
		return t, nil
	}
	if err := f.placeOn(fb); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return f, nil
}
