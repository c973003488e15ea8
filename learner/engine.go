package learner

import (
	"fmt"

	"github.com/streamlearn/streamlearn/wire"
)

// Engine trains K models of one spec at once in minibatches on a Backend: a population of challengers
// that differ only in optimizer settings, or one model (K = 1) fed large batches. The K models share
// the hashing and the standardization statistics, which are kept on the host; each batch is scored
// and learned with the statistics from before it, so a batch of one equals Online.Learn. An Engine is
// not safe for concurrent use.
type Engine struct {
	spec   Spec
	hyper  []Hyper
	hasher *Hasher
	models Models
	mask   uint32
	stats  []moments
	target moments
	seen   int64
	// used holds every column of a batch ever learned, a superset of the slots with a non-zero
	// weight in any model: Snapshot reads those rows only.
	used slotSet

	// scratch, reused by every call
	h       []Hashed
	batch   Batch
	rest    Batch // rows with unusable labels, only scored
	out     []float64
	cols    []int32
	vals    []float64
	weights []float64

	// fams are the models of an engine of FM or MLP (engine_family.go); models is nil then.
	fams []*Family
}

// NewEngine returns an engine training len(hyper) models of spec on backend; a nil hyper trains one
// model with the spec's own settings. Linear models share one state on the backend; FM and MLP
// models (their learning rate and L2 from hyper) are Family trainers placed on it
// (engine_family.go). Tree, forest and auto are ErrFamilyDevice.
func NewEngine(backend Backend, spec Spec, hyper []Hyper) (*Engine, error) {
	if err := spec.Validate(); err != nil {
		return nil, fmt.Errorf("new engine: %w", err)
	}
	if _, ok := FamilyShapeOf(spec); ok {
		return newFamilyEngine(backend, spec, hyper)
	}
	if !spec.IsLinear() {
		return nil, fmt.Errorf("new engine: family %s: %w", spec.Family, ErrFamilyDevice)
	}
	if hyper == nil {
		hyper = []Hyper{hyperOf(spec)}
	}
	spec = spec.clone()
	shape := ShapeOf(spec, len(hyper))
	dim := shape.Dim
	models, err := backend.NewModels(shape, hyper)
	if err != nil {
		return nil, fmt.Errorf("new engine: %w", err)
	}
	e := &Engine{spec: spec, hyper: append([]Hyper(nil), hyper...), hasher: NewHasher(spec), models: models, mask: uint32(dim - 1),
		used: newSlotSet(dim)}
	if spec.Standardize {
		e.stats = make([]moments, dim)
	}
	return e, nil
}

// ShapeOf is the shape of k models of spec on a Backend.
func ShapeOf(spec Spec, k int) Shape {
	obj := map[lossKind]Objective{logistic: Logistic, squared: Squared, huber: Huber}[lossOf(spec)]
	if spec.Task == Multiclass {
		obj = Softmax
	}
	optimizer := spec.Optimizer
	if optimizer == "" {
		optimizer = OptimizerFTRL
	}
	return Shape{Models: k, Dim: 1 << uint(spec.HashBits), Outputs: spec.outputs(), Objective: obj, Optimizer: optimizer, HuberDelta: spec.HuberDelta}
}

// Models is the number of models K.
func (e *Engine) Models() int { return len(e.hyper) }

// Seen is the number of examples learned.
func (e *Engine) Seen() int64 { return e.seen }

// Close releases the backend's state.
func (e *Engine) Close() error {
	if e.models == nil {
		return e.familyClose()
	}
	return e.models.Close()
}

// Skipped is the number of coordinate updates the backend left out because they would have made a
// model's state non-finite, where it counts them.
func (e *Engine) Skipped() int64 {
	if e.models == nil {
		return e.familySkipped()
	}
	if sk, ok := e.models.(interface{ Skipped() int64 }); ok {
		return sk.Skipped()
	}
	return 0
}

// Learn scores the batch with every model, then learns it, and returns the predictions made before
// the update, model-major: the prediction of model k for vs[i] is at k*len(vs)+i. Examples with an
// unusable label (not finite, unknown class) are only scored.
func (e *Engine) Learn(vs []wire.Vector, ys []Label) ([]Prediction, error) {
	if len(vs) != len(ys) {
		return nil, fmt.Errorf("learn: %d vectors and %d labels", len(vs), len(ys))
	}
	if e.models == nil {
		return e.familyLearn(vs, ys)
	}
	e.hash(vs)
	e.batch.Reset()
	e.rest.Reset()
	var learned, scored []int
	for i := range vs {
		if y, ok := e.label(ys[i]); ok {
			e.addRow(&e.batch, i, y)
			learned = append(learned, i)
		} else {
			e.addRow(&e.rest, i, 0)
			scored = append(scored, i)
		}
	}
	preds := make([]Prediction, len(e.hyper)*len(vs))
	if err := e.forward(&e.rest, scored, len(vs), preds); err != nil {
		return nil, fmt.Errorf("learn: %w", err)
	}
	if e.batch.Rows == 0 {
		return preds, nil
	}
	for _, c := range e.batch.Cols {
		e.used.add(uint32(c)) // before the step: a failed one may have written some weights
	}
	if err := e.step(learned, len(vs), preds); err != nil {
		return nil, fmt.Errorf("learn: %w", err)
	}
	for _, i := range learned {
		if e.stats != nil {
			observeInputs(&e.h[i], e.stats, e.mask)
		}
		if e.spec.Standardize && e.spec.Task == Regression {
			e.target.observe(ys[i].Value)
		}
	}
	e.seen += int64(len(learned))
	return preds, nil
}

// Predict scores the batch with every model, model-major as Learn.
func (e *Engine) Predict(vs []wire.Vector) ([]Prediction, error) {
	if e.models == nil {
		return e.familyPredict(vs)
	}
	e.hash(vs)
	e.rest.Reset()
	rows := make([]int, len(vs))
	for i := range vs {
		e.addRow(&e.rest, i, 0)
		rows[i] = i
	}
	preds := make([]Prediction, len(e.hyper)*len(vs))
	if err := e.forward(&e.rest, rows, len(vs), preds); err != nil {
		return nil, fmt.Errorf("predict: %w", err)
	}
	return preds, nil
}

func (e *Engine) hash(vs []wire.Vector) {
	for len(e.h) < len(vs) {
		e.h = append(e.h, Hashed{})
	}
	for i, v := range vs {
		e.hasher.Hash(v, &e.h[i])
	}
}

// label maps y to the value a backend learns from, and reports whether it is usable.
func (e *Engine) label(y Label) (float64, bool) {
	switch e.spec.Task {
	case Multiclass:
		c := e.spec.classIndex(y.Class)
		return float64(c), c >= 0
	case Regression:
		return regressionTarget(y.Value, e.spec.Standardize, &e.target), finite(y.Value)
	}
	return min(max(y.Value, 0), 1), finite(y.Value)
}

// addRow appends the model inputs of example i to b.
func (e *Engine) addRow(b *Batch, i int, label float64) {
	h := &e.h[i]
	e.cols, e.vals = e.cols[:0], e.vals[:0]
	for j, s := range h.Slots {
		e.cols = append(e.cols, int32(s&e.mask))
		e.vals = append(e.vals, modelInput(h.Values[j], h.Numeric[j], e.stats, s&e.mask))
	}
	b.AddRow(e.cols, e.vals, label)
}

// step scores and learns e.batch, whose row r is example rows[r] of n, writing the scores into preds:
// in one Step where the backend has it (one trip to a device), else Forward, Gradient and Update.
func (e *Engine) step(rows []int, n int, preds []Prediction) error {
	st, ok := e.models.(Stepper)
	if !ok {
		if err := e.forward(&e.batch, rows, n, preds); err != nil {
			return err
		}
		if err := e.models.Gradient(&e.batch, e.out); err != nil {
			return err
		}
		return e.models.Update()
	}
	e.reserve(e.batch.Rows)
	wait, err := st.Step(&e.batch, e.out)
	if err != nil {
		return err
	}
	if err := wait(); err != nil {
		return err
	}
	e.collect(e.batch.Rows, rows, n, preds)
	return nil
}

// reserve sizes e.out for the outputs of rows rows.
func (e *Engine) reserve(rows int) {
	size := len(e.hyper) * rows * e.spec.outputs()
	if cap(e.out) < size {
		e.out = make([]float64, size)
	}
	e.out = e.out[:size]
}

// forward scores b, whose row r is example rows[r] of n, into preds, and leaves the outputs in e.out.
func (e *Engine) forward(b *Batch, rows []int, n int, preds []Prediction) error {
	if b.Rows == 0 {
		return nil
	}
	e.reserve(b.Rows)
	if err := e.models.Forward(b, e.out); err != nil {
		return err
	}
	e.collect(b.Rows, rows, n, preds)
	return nil
}

// collect turns the outputs in e.out of a batch of nrows rows into preds.
func (e *Engine) collect(nrows int, rows []int, n int, preds []Prediction) {
	nout := e.spec.outputs()
	for k := range e.hyper {
		for r, i := range rows {
			o := e.out[(k*nrows+r)*nout:][:nout]
			preds[k*n+i] = e.prediction(o)
		}
	}
}

// prediction turns a backend's outputs for one row into a Prediction.
func (e *Engine) prediction(o []float64) Prediction {
	switch e.spec.Task {
	case Regression:
		return Prediction{Score: regressionScore(e.spec.Standardize, o[0], &e.target)}
	case Multiclass:
		probs := append([]float64(nil), o...)
		top := 0
		for i, p := range probs {
			if p > probs[top] {
				top = i
			}
		}
		return Prediction{Score: probs[top], Class: e.spec.Classes[top], Probs: probs}
	}
	return Prediction{Score: o[0]}
}

// Snapshot returns an immutable copy of model k for serving; its spec carries model k's settings.
// It copies the weights of the columns ever learned only where the backend can (RowWeighter), and
// all of them otherwise.
func (e *Engine) Snapshot(k int) (*Snapshot, error) {
	if k < 0 || k >= len(e.hyper) {
		return nil, fmt.Errorf("snapshot: no model %d of %d", k, len(e.hyper))
	}
	if e.models == nil {
		return e.fams[k].Snapshot(), nil
	}
	out := e.spec.outputs()
	slots := e.used.appendTo(nil)
	w := make([]float64, (len(slots)+1)*out)
	if rw, ok := e.models.(RowWeighter); ok {
		if err := rw.RowWeights(k, slots, w); err != nil {
			return nil, fmt.Errorf("snapshot: %w", err)
		}
	} else {
		dim := 1 << uint(e.spec.HashBits)
		size := (dim + 1) * out
		if len(e.weights) != size {
			e.weights = make([]float64, size)
		}
		if err := e.models.Weights(k, e.weights); err != nil {
			return nil, fmt.Errorf("snapshot: %w", err)
		}
		for i, slot := range slots {
			copy(w[i*out:][:out], e.weights[int(slot)*out:])
		}
		copy(w[len(slots)*out:], e.weights[dim*out:])
	}
	spec := e.spec.clone()
	h := e.hyper[k]
	spec.Alpha, spec.Beta, spec.L1, spec.L2, spec.LearningRate = h.Alpha, h.Beta, h.L1, h.L2, h.LearningRate
	return newSnapshot(spec, e.seen, e.target, slots, w, e.stats), nil
}
