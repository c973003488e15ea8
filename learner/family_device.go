package learner

import "fmt"

// FamilyBackend is implemented by Backends that train the non-linear families that learn in
// minibatches, FM and MLP. The trainer (Family) keeps hashing, standardization, the per-slot
// statistics and the set of touched slots on the host, and a copy of the model's state that it
// refreshes from the backend for checkpoints and snapshots; the backend holds the state and runs
// the forward pass, the gradients and the optimizer step.
type FamilyBackend interface {
	Backend
	// NewFamilyModel allocates a zeroed model of shape; SetState loads a state into it.
	NewFamilyModel(shape FamilyShape) (FamilyModel, error)
}

// FamilyModel is an FM or an MLP on a FamilyBackend. It learns a minibatch as the CPU model's
// LearnBatch does: the log-loss gradients of all rows at the state from before the batch, applied
// once (FM: AdaGrad; MLP: Adam on the mean gradient). Batches are sparse: columns are the model's
// input slots, values its inputs. Used by one goroutine at a time.
type FamilyModel interface {
	// Margins writes the margin of each row of b at the current state into out[:b.Rows].
	Margins(b *Batch, out []float64) error
	// Learn takes one step on b, labels in [0, 1]. fresh are the slots that b touches for the first
	// time; their rows are first set to init (Stride values each, in the order of fresh). When out
	// is not nil it receives the margins of b's rows from before the step (fresh rows still zero),
	// as Margins would have given them: scoring and learning a batch in one trip.
	Learn(b *Batch, fresh []int32, init []float64, out []float64) error
	// State copies the model's state into st, whose slices have the sizes of FamilyShape.StateOf.
	State(st *FamilyState) error
	// SetState replaces the model's state with st.
	SetState(st *FamilyState) error
	Close() error
}

// FamilyShape describes a non-linear model for a FamilyBackend.
type FamilyShape struct {
	Family       string // FamilyFM or FamilyMLP
	Dim          int    // input slots, 2^Bits
	Stride       int    // values per slot row: FM 1+Factors (w, v_1..v_k), MLP Hidden[0]
	Factors      int    // FM
	Hidden       [2]int // MLP: the hidden layers' widths, the second 0 for one layer
	LearningRate float64
	L2           float64
}

// MLPLayout gives the offsets of an MLP's dense parameters in FamilyState.Dense[0]: b1 [h1], w2
// [h1*h2] (j*h2+l), b2 [h2], wo [Last], bo; Size values in all.
type MLPLayout struct{ B1, W2, B2, Wo, Bo, Size, Last int }

// MLPLayout returns the layout of the shape's dense parameters.
func (s FamilyShape) MLPLayout() MLPLayout {
	l := layoutOf(s.Hidden[0], s.Hidden[1])
	return MLPLayout{B1: l.b1, W2: l.w2, B2: l.b2, Wo: l.wo, Bo: l.bo, Size: l.size, Last: l.last}
}

// DenseSize is the length of each of FamilyState.Dense: 1 for FM (w0, and its AdaGrad sum), the
// dense parameters for MLP.
func (s FamilyShape) DenseSize() int {
	if s.Family == FamilyFM {
		return 1
	}
	return s.MLPLayout().Size
}

// FamilyState is a non-linear model's state, laid out as the CPU model keeps it.
//
//	FM:  Rows[0] weights (slot*Stride: w, v_1..v_k), Rows[1] AdaGrad's sums; Dense[0] {w0}, Dense[1] {a0}.
//	MLP: Rows[0] first-layer weights (slot*h1+j), Rows[1] and Rows[2] Adam's moments; Dense[0..2]
//	     the dense parameters (MLPLayout) and their moments; Steps the Adam steps taken.
//
// Slices unused by a family are nil. Skipped counts updates left out because they would have made
// the state non-finite.
type FamilyState struct {
	Rows    [3][]float64
	Dense   [3][]float64
	Steps   int64
	Skipped int64
}

// FamilyShapeOf is the shape of spec's model on a FamilyBackend; ok is false for a family that has
// none (linear, tree, forest, auto).
func FamilyShapeOf(spec Spec) (s FamilyShape, ok bool) {
	spec = spec.withDefaults()
	switch spec.family() {
	case FamilyFM:
		f := spec.FM
		return FamilyShape{Family: FamilyFM, Dim: 1 << uint(f.Bits), Stride: f.Factors + 1, Factors: f.Factors,
			LearningRate: f.LearningRate, L2: f.L2}, true
	case FamilyMLP:
		m := spec.MLP
		s = FamilyShape{Family: FamilyMLP, Dim: 1 << uint(m.Bits), Stride: m.Hidden[0], LearningRate: m.LearningRate, L2: m.L2}
		copy(s.Hidden[:], m.Hidden)
		return s, true
	}
	return s, false
}

// deviceFamily is the familyModel of a Family that trains on a FamilyBackend. host is the CPU model
// of the same spec: it decides which slots are fresh and their initial weights, holds the state
// between syncs with the device, and encodes it and makes snapshots exactly as on the CPU.
type deviceFamily struct {
	host    familyModel // *fm or *mlp
	dev     FamilyModel
	backend string
	shape   FamilyShape
	stale   bool  // the device learned since host's state was last copied from it
	err     error // the first device error; the model stops learning after one

	batch Batch
	out   []float64
	fresh []int32
	init  []float64
}

// placeOn moves t's model onto backend: its state is copied there and it learns there from now on.
func (t *Family) placeOn(backend FamilyBackend) error {
	shape, ok := FamilyShapeOf(t.spec)
	if !ok {
		return fmt.Errorf("family %s on backend %s: %w", t.spec.family(), backend.Name(), ErrFamilyDevice)
	}
	dev, err := backend.NewFamilyModel(shape)
	if err != nil {
		return err
	}
	d := &deviceFamily{host: t.m, dev: dev, shape: shape, backend: backend.Name()}
	if err := dev.SetState(d.state()); err != nil {
		dev.Close()
		return err
	}
	t.m = d
	return nil
}

// state returns host's state as a FamilyState whose slices alias host's arrays (FM's w0 and a0 and
// the counters are copies).
func (d *deviceFamily) state() *FamilyState {
	switch h := d.host.(type) {
	case *fm:
		return &FamilyState{Rows: [3][]float64{h.p, h.a}, Dense: [3][]float64{{h.w0}, {h.a0}}, Skipped: h.skip}
	case *mlp:
		return &FamilyState{Rows: [3][]float64{h.w1, h.m1, h.v1}, Dense: [3][]float64{h.d, h.dm, h.dv}, Steps: h.step, Skipped: h.skip}
	}
	panic(fmt.Sprintf("no device state for %T", d.host))
}

// sync copies the device's state into host when the device has learned since the last copy.
func (d *deviceFamily) sync() {
	if !d.stale || d.err != nil {
		return
	}
	st := d.state()
	if err := d.dev.State(st); err != nil {
		d.fail(err)
		return
	}
	switch h := d.host.(type) {
	case *fm:
		h.w0, h.a0, h.skip = st.Dense[0][0], st.Dense[1][0], st.Skipped
	case *mlp:
		h.step, h.skip = st.Steps, st.Skipped
	}
	d.stale = false
}

func (d *deviceFamily) fail(err error) {
	if d.err == nil {
		d.err = fmt.Errorf("%s on the device: %w", d.shape.Family, err)
	}
}

func (d *deviceFamily) failed() error { return d.err }

// pack fills d.batch with the inputs (labels ys, or zeros when nil).
func (d *deviceFamily) pack(ins []*input, ys []float64) *Batch {
	b := &d.batch
	b.Reset()
	for i, in := range ins {
		y := 0.0
		if ys != nil {
			y = ys[i]
		}
		b.RowPtr = append(b.RowPtr, int32(len(b.Cols)+len(in.slots)))
		for j, s := range in.slots {
			b.Cols = append(b.Cols, int32(s&uint32(d.shape.Dim-1)))
			b.Vals = append(b.Vals, in.x[j])
		}
		b.Labels = append(b.Labels, y)
		b.Rows++
	}
	return b
}

// margins writes the margins of ins into out; after a device error they are 0 (a score of 0.5).
func (d *deviceFamily) margins(ins []*input, out []float64) {
	if d.err == nil {
		if err := d.dev.Margins(d.pack(ins, nil), out); err != nil {
			d.fail(err)
		}
	}
	if d.err != nil {
		clear(out)
	}
}

func (d *deviceFamily) margin(in *input) float64 {
	var out [1]float64
	d.margins([]*input{in}, out[:])
	return out[0]
}

func (d *deviceFamily) learn(in *input, y float64) { d.learnBatch([]*input{in}, []float64{y}) }

func (d *deviceFamily) learnBatch(ins []*input, ys []float64) { d.learnScored(ins, ys, nil) }

// learnScored learns ins with labels ys and, when out is not nil, writes their margins from before
// the step into it (0 after a device error).
func (d *deviceFamily) learnScored(ins []*input, ys []float64, out []float64) {
	if d.err != nil || len(ins) == 0 {
		clear(out)
		return
	}
	d.fresh, d.init = d.fresh[:0], d.init[:0]
	for _, in := range ins {
		switch h := d.host.(type) {
		case *fm:
			d.fresh, d.init = h.touch(in, d.fresh, d.init)
		case *mlp:
			d.fresh, d.init = h.touch(in, d.fresh, d.init)
		}
	}
	if err := d.dev.Learn(d.pack(ins, ys), d.fresh, d.init, out); err != nil {
		d.fail(err)
		clear(out)
	}
	d.stale = true
}

func (d *deviceFamily) skipped() int64 {
	d.sync()
	return d.host.skipped()
}

func (d *deviceFamily) scorer(stats []moments) familyScorer {
	d.sync()
	return d.host.scorer(stats)
}

func (d *deviceFamily) encode(e *encoder) {
	d.sync()
	d.host.encode(e)
}

func (d *deviceFamily) decode(dec *decoder) {
	d.host.decode(dec)
	if dec.err == nil {
		if err := d.dev.SetState(d.state()); err != nil {
			d.fail(err)
		}
		d.stale = false
	}
}

func (d *deviceFamily) close() error { return d.dev.Close() }

// hostModel returns the CPU model of m, refreshed from the device where m trains on one.
func hostModel(m familyModel) familyModel {
	if d, ok := m.(*deviceFamily); ok {
		d.sync()
		return d.host
	}
	return m
}

// Device is the backend t's model trains on: "cpu", or the name of a FamilyBackend.
func (t *Family) Device() string {
	if d, ok := t.m.(*deviceFamily); ok {
		return d.backend
	}
	return CPUBackend{}.Name()
}

// Close releases the model's state on a device; a Family on the CPU has nothing to release.
func (t *Family) Close() error {
	if d, ok := t.m.(*deviceFamily); ok {
		return d.close()
	}
	return nil
}

// Err is the error that stopped the model learning on its device, nil when there is none.
func (t *Family) Err() error {
	if d, ok := t.m.(*deviceFamily); ok {
		return d.err
	}
	return nil
}

// Weights returns a copy of the parameters of an FM or MLP trainer, refreshed from its device, in the
// CPU model's layout: FM w0 then the rows of every slot (w, v_1..v_k); MLP the dense parameters
// (MLPLayout) then the first-layer rows. Nil for the other families. It is there to compare trainers.
func (t *Family) Weights() []float64 {
	switch h := hostModel(t.m).(type) {
	case *fm:
		return append([]float64{h.w0}, h.p...)
	case *mlp:
		return append(append([]float64(nil), h.d...), h.w1...)
	}
	return nil
}
