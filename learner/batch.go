package learner

import (
	"errors"
	"fmt"

	"github.com/streamlearn/streamlearn/wire"
)

// Checkpoint encodes model k as a checkpoint in Online's format (Online.MarshalBinary): optimizer
// state, standardization statistics and counters. The backend's Models must be StatefulModels.
func (e *Engine) Checkpoint(k int) ([]byte, error) {
	if e.models == nil {
		if k < 0 || k >= len(e.fams) {
			return nil, fmt.Errorf("checkpoint: no model %d of %d", k, len(e.fams))
		}
		return e.fams[k].MarshalBinary() // the Family's own format
	}
	sm, ok := e.models.(StatefulModels)
	if !ok {
		return nil, errors.New("checkpoint: the backend cannot export its state")
	}
	if k < 0 || k >= len(e.hyper) {
		return nil, fmt.Errorf("checkpoint: no model %d of %d", k, len(e.hyper))
	}
	spec := e.spec.clone()
	h := e.hyper[k]
	spec.Alpha, spec.Beta, spec.L1, spec.L2, spec.LearningRate = h.Alpha, h.Beta, h.L1, h.L2, h.LearningRate
	t, err := NewOnline(spec)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	n := len(t.p.c)
	z, s, w := make([]float64, n), make([]float64, n), make([]float64, n)
	if err := sm.State(k, z, s, w); err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	for i := range t.p.c {
		t.p.c[i] = coord{z: z[i], s: s[i], w: w[i]}
	}
	copy(t.stats, e.stats)
	t.target, t.seen = e.target, e.seen
	return t.MarshalBinary()
}

// ResumeEngine returns an engine training one model on backend from a checkpoint of Online or of
// Engine.Checkpoint, or of an FM or MLP Family.
func ResumeEngine(backend Backend, checkpoint []byte) (*Engine, error) {
	if len(checkpoint) >= 4 && string(checkpoint[:4]) == familyCheckpointMagic {
		return resumeFamilyEngine(backend, checkpoint)
	}
	t, err := decodeCheckpoint(checkpoint)
	if err != nil {
		return nil, fmt.Errorf("resume engine: %w", err)
	}
	e, err := NewEngine(backend, t.spec, nil)
	if err != nil {
		return nil, err
	}
	sm, ok := e.models.(StatefulModels)
	if !ok {
		e.Close()
		return nil, errors.New("resume engine: the backend cannot import state")
	}
	n := len(t.p.c)
	z, s, w := make([]float64, n), make([]float64, n), make([]float64, n)
	for i, c := range t.p.c {
		z[i], s[i], w[i] = c.z, c.s, c.w
	}
	if err := sm.SetState(0, z, s, w, t.seen); err != nil {
		e.Close()
		return nil, fmt.Errorf("resume engine: %w", err)
	}
	copy(e.stats, t.stats)
	e.target, e.seen, e.used = t.target, t.seen, t.used
	return e, nil
}

// BatchTrainer is a Trainer that learns in minibatches on a Backend, the GPU's for one: LearnBatch
// is its way in, Learn a batch of one. Its checkpoints are Online's, so that a model moves between
// the CPU and the GPU by checkpoint. Unlike Online, a backend can fail (a device error); Err then
// says why, and Snapshot returns nil.
type BatchTrainer struct {
	e   *Engine
	err error
}

var _ Trainer = (*BatchTrainer)(nil)

// NewBatchTrainer returns a trainer of one model of spec on backend.
func NewBatchTrainer(backend Backend, spec Spec) (*BatchTrainer, error) {
	e, err := NewEngine(backend, spec, nil)
	if err != nil {
		return nil, err
	}
	return &BatchTrainer{e: e}, nil
}

// ResumeBatchTrainer returns a trainer on backend resumed from a checkpoint of either trainer.
func ResumeBatchTrainer(backend Backend, checkpoint []byte) (*BatchTrainer, error) {
	e, err := ResumeEngine(backend, checkpoint)
	if err != nil {
		return nil, err
	}
	return &BatchTrainer{e: e}, nil
}

// LearnBatch scores the examples, then learns them as one minibatch, and returns the predictions
// made before the update.
func (t *BatchTrainer) LearnBatch(vs []wire.Vector, ys []Label) ([]Prediction, error) {
	p, err := t.e.Learn(vs, ys)
	if err != nil {
		t.err = err
	}
	return p, err
}

// Learn learns one example as a batch of one; on a backend error the prediction is empty and Err
// says why.
func (t *BatchTrainer) Learn(v wire.Vector, y Label) Prediction {
	p, err := t.LearnBatch([]wire.Vector{v}, []Label{y})
	if err != nil {
		return Prediction{}
	}
	return p[0]
}

// Predict scores v with the current weights.
func (t *BatchTrainer) Predict(v wire.Vector) Prediction {
	p, err := t.e.Predict([]wire.Vector{v})
	if err != nil {
		t.err = err
		return Prediction{}
	}
	return p[0]
}

// Snapshot copies the weights for serving, or returns nil when the backend fails.
func (t *BatchTrainer) Snapshot() *Snapshot {
	s, err := t.e.Snapshot(0)
	if err != nil {
		t.err = err
		return nil
	}
	return s
}

// MarshalBinary encodes a checkpoint in Online's format.
func (t *BatchTrainer) MarshalBinary() ([]byte, error) { return t.e.Checkpoint(0) }

// Spec returns the model's definition.
func (t *BatchTrainer) Spec() Spec { return t.e.spec.clone() }

// Seen is the number of examples learned.
func (t *BatchTrainer) Seen() int64 { return t.e.seen }

// Skipped is the number of coordinate updates left out because they would have made the state
// non-finite (see Engine.Skipped).
func (t *BatchTrainer) Skipped() int64 { return t.e.Skipped() }

// Err is the last backend error, if any.
func (t *BatchTrainer) Err() error { return t.err }

// Close releases the backend's state.
func (t *BatchTrainer) Close() error { return t.e.Close() }
