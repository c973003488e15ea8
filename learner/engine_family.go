package learner

import (
	"errors"
	"fmt"

	"github.com/streamlearn/streamlearn/wire"
)

// An Engine of FM or MLP models is a population of Family trainers, model k with the learning rate
// and L2 of hyper[k] (the other Hyper fields do not apply), each placed on the backend as
// NewTrainerOn places it: its state in the GPU's memory on the CUDA backend. Each member hashes and
// standardizes for itself; on a device each runs its own kernels.

// familyHyper is the Hyper of spec's FM or MLP settings.
func familyHyper(spec Spec) Hyper {
	spec = spec.withDefaults()
	if spec.Family == FamilyMLP {
		return Hyper{LearningRate: spec.MLP.LearningRate, L2: spec.MLP.L2}
	}
	return Hyper{LearningRate: spec.FM.LearningRate, L2: spec.FM.L2}
}

// withHyper returns spec with the learning rate and L2 of its family set from h.
func withHyper(spec Spec, h Hyper) Spec {
	spec = spec.clone()
	if spec.Family == FamilyMLP {
		spec.MLP.LearningRate, spec.MLP.L2 = h.LearningRate, h.L2
	} else {
		spec.FM.LearningRate, spec.FM.L2 = h.LearningRate, h.L2
	}
	return spec
}

// newFamilyEngine returns an engine of len(hyper) FM or MLP models of spec on backend.
func newFamilyEngine(backend Backend, spec Spec, hyper []Hyper) (*Engine, error) {
	if hyper == nil {
		hyper = []Hyper{familyHyper(spec)}
	}
	e := &Engine{spec: spec.clone(), hyper: append([]Hyper(nil), hyper...)}
	for k, h := range hyper {
		if !(h.LearningRate > 0) || !(h.L2 >= 0) {
			e.Close()
			return nil, fmt.Errorf("new engine: model %d: invalid settings %+v", k, h)
		}
		spec := withHyper(spec, h)
		if err := spec.Validate(); err != nil {
			e.Close()
			return nil, fmt.Errorf("new engine: model %d: %w", k, err)
		}
		tr, err := NewTrainerOn(backend, spec)
		if err != nil {
			e.Close()
			return nil, fmt.Errorf("new engine: %w", err)
		}
		e.fams = append(e.fams, tr.(*Family))
	}
	return e, nil
}

// resumeFamilyEngine returns an engine training one FM or MLP model on backend from its checkpoint.
func resumeFamilyEngine(backend Backend, checkpoint []byte) (*Engine, error) {
	tr, err := ResumeTrainerOn(backend, checkpoint)
	if err != nil {
		return nil, fmt.Errorf("resume engine: %w", err)
	}
	f, ok := tr.(*Family)
	if !ok {
		return nil, fmt.Errorf("resume engine: a checkpoint of family %s", tr.Spec().family())
	}
	return &Engine{spec: f.spec.clone(), hyper: []Hyper{familyHyper(f.spec)}, fams: []*Family{f}, seen: f.seen}, nil
}

// familyLearn is Learn for an engine of families: each member learns the batch.
func (e *Engine) familyLearn(vs []wire.Vector, ys []Label) ([]Prediction, error) {
	preds := make([]Prediction, 0, len(e.fams)*len(vs))
	for _, f := range e.fams {
		p, err := f.LearnBatch(vs, ys)
		if err != nil {
			return nil, fmt.Errorf("learn: %w", err)
		}
		preds = append(preds, p...)
	}
	e.seen = e.fams[0].seen
	return preds, nil
}

// familyPredict is Predict for an engine of families.
func (e *Engine) familyPredict(vs []wire.Vector) ([]Prediction, error) {
	preds := make([]Prediction, 0, len(e.fams)*len(vs))
	for _, f := range e.fams {
		p, err := f.predictBatch(vs)
		if err != nil {
			return nil, fmt.Errorf("predict: %w", err)
		}
		preds = append(preds, p...)
	}
	return preds, nil
}

// familyClose closes every member.
func (e *Engine) familyClose() error {
	var errs []error
	for _, f := range e.fams {
		errs = append(errs, f.Close())
	}
	return errors.Join(errs...)
}

// familySkipped sums the members' skipped updates.
func (e *Engine) familySkipped() int64 {
	var n int64
	for _, f := range e.fams {
		n += f.Skipped()
	}
	return n
}

// predictBatch scores vs with the current state, in one call to the device for a model on one.
func (t *Family) predictBatch(vs []wire.Vector) ([]Prediction, error) {
	for len(t.hs) < len(vs) {
		t.hs, t.ins = append(t.hs, Hashed{}), append(t.ins, input{})
	}
	all := make([]*input, len(vs))
	for i, v := range vs {
		t.hasher.Hash(v, &t.hs[i])
		t.prepare(&t.hs[i], &t.ins[i])
		all[i] = &t.ins[i]
	}
	preds := make([]Prediction, len(vs))
	t.scoreBatch(all, preds)
	return preds, t.Err()
}
