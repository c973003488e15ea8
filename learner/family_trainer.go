package learner

import (
	"fmt"

	"github.com/streamlearn/streamlearn/wire"
)

// Binary forms of the non-linear families: a trainer's checkpoint and a snapshot, each a magic and
// the format version, the spec as JSON, then the family's state.
const (
	familyCheckpointMagic = "SLCF"
	familySnapshotMagic   = "SLSF"
)

// Family is the Trainer of a non-linear family (fm, mlp, tree, forest), on the CPU, or for FM and MLP
// with its model's state on a FamilyBackend (placeOn, family_device.go): it hashes and
// standardizes inputs as Online does and hands them to the family's model.
type Family struct {
	spec   Spec // with defaults filled in
	hasher *Hasher
	mask   uint32
	stats  []moments // per slot, kept for every family: trees place split candidates by them
	m      familyModel
	seen   int64

	buf Hashed
	in  input
	// minibatch scratch
	hs  []Hashed
	ins []input
}

var _ Trainer = (*Family)(nil)

// NewFamily returns a trainer of a non-linear family for spec, which must be valid.
func NewFamily(spec Spec) (*Family, error) {
	if err := spec.Validate(); err != nil {
		return nil, fmt.Errorf("new trainer: %w", err)
	}
	spec = spec.withDefaults()
	m, err := newFamilyModel(spec)
	if err != nil {
		return nil, fmt.Errorf("new trainer: %w", err)
	}
	bits := min(spec.HashBits, maxTreeBits)
	switch spec.Family {
	case FamilyFM:
		bits = spec.FM.Bits
	case FamilyMLP:
		bits = spec.MLP.Bits
	}
	// Slots are taken modulo the model's own size, statistics included, so that a snapshot
	// standardizes each input exactly as the trainer did.
	dim := 1 << uint(bits)
	t := &Family{spec: spec, hasher: NewHasher(spec), mask: uint32(dim - 1), stats: make([]moments, dim), m: m}
	t.in.stats = t.stats
	return t, nil
}

// Spec returns the model's definition, its family's defaults filled in.
func (t *Family) Spec() Spec { return t.spec.clone() }

// Seen is the number of examples learned.
func (t *Family) Seen() int64 { return t.seen }

// Skipped is the number of updates left out because they would have made the state non-finite.
func (t *Family) Skipped() int64 { return t.m.skipped() }

// prepare fills in from h: slots, raw values and the model inputs.
func (t *Family) prepare(h *Hashed, in *input) {
	in.fill(h, t.mask)
	in.stats = t.stats
	for i, s := range in.slots {
		x := in.raw[i]
		if in.numeric[i] && t.spec.Standardize {
			st := &t.stats[s]
			x = standardized(x, st.mean, st.scale)
		}
		in.x = append(in.x, x)
	}
}

// Predict scores v with the current state.
func (t *Family) Predict(v wire.Vector) Prediction {
	t.hasher.Hash(v, &t.buf)
	t.prepare(&t.buf, &t.in)
	return Prediction{Score: sigmoid(saneMargin(t.m.margin(&t.in)))}
}

// Learn updates the model with (v, y) and returns the prediction made before the update.
func (t *Family) Learn(v wire.Vector, y Label) Prediction {
	t.hasher.Hash(v, &t.buf)
	t.prepare(&t.buf, &t.in)
	pred := Prediction{Score: sigmoid(saneMargin(t.m.margin(&t.in)))}
	if !finite(y.Value) {
		return pred
	}
	t.m.learn(&t.in, min(max(y.Value, 0), 1))
	observeInputs(&t.buf, t.stats, t.mask)
	t.seen++
	return pred
}

// LearnBatch scores the examples, then learns them: FM and MLP as one minibatch step (gradients at
// the state from before the batch), trees one example at a time. It returns the predictions made
// before the update and never fails; the error is there for the runner's batch interface.
func (t *Family) LearnBatch(vs []wire.Vector, ys []Label) ([]Prediction, error) {
	if len(vs) != len(ys) {
		return nil, fmt.Errorf("learn: %d vectors and %d labels", len(vs), len(ys))
	}
	bm, ok := t.m.(batchModel)
	if !ok {
		preds := make([]Prediction, len(vs))
		for i := range vs {
			preds[i] = t.Learn(vs[i], ys[i])
		}
		return preds, nil
	}
	for len(t.hs) < len(vs) {
		t.hs, t.ins = append(t.hs, Hashed{}), append(t.ins, input{})
	}
	preds := make([]Prediction, len(vs))
	all := make([]*input, len(vs))
	ins, labels := make([]*input, 0, len(vs)), make([]float64, 0, len(vs))
	for i, v := range vs {
		t.hasher.Hash(v, &t.hs[i])
		t.prepare(&t.hs[i], &t.ins[i])
		all[i] = &t.ins[i]
		if finite(ys[i].Value) {
			ins, labels = append(ins, &t.ins[i]), append(labels, min(max(ys[i].Value, 0), 1))
		}
	}
	if d, ok := t.m.(*deviceFamily); ok && len(ins) == len(all) {
		// Every example learns: score and learn in one trip to the device.
		out := make([]float64, len(all))
		d.learnScored(ins, labels, out)
		for i, m := range out {
			preds[i] = Prediction{Score: sigmoid(saneMargin(m))}
		}
	} else {
		t.scoreBatch(all, preds)
		if len(ins) == 0 {
			return preds, t.Err()
		}
		bm.learnBatch(ins, labels)
	}
	if err := t.Err(); err != nil {
		return preds, err
	}
	for i := range vs {
		if finite(ys[i].Value) {
			observeInputs(&t.hs[i], t.stats, t.mask)
		}
	}
	t.seen += int64(len(ins))
	return preds, nil
}

// scoreBatch writes the predictions of ins at the current state into preds: in one call to the
// device for a model on one.
func (t *Family) scoreBatch(ins []*input, preds []Prediction) {
	d, ok := t.m.(*deviceFamily)
	if !ok {
		for i, in := range ins {
			preds[i] = Prediction{Score: sigmoid(saneMargin(t.m.margin(in)))}
		}
		return
	}
	out := make([]float64, len(ins))
	d.margins(ins, out)
	for i, m := range out {
		preds[i] = Prediction{Score: sigmoid(saneMargin(m))}
	}
}

// Snapshot returns an immutable copy of the model for serving.
func (t *Family) Snapshot() *Snapshot {
	s := &Snapshot{spec: t.spec.clone(), seen: t.seen, out: 1, fam: t.m.scorer(t.stats)}
	s.index()
	return s
}

// MarshalBinary encodes the trainer's full state: spec, counters, the standardization statistics
// of every slot that has any, then the family's state.
func (t *Family) MarshalBinary() ([]byte, error) {
	if err := t.Err(); err != nil {
		return nil, fmt.Errorf("marshal trainer: %w", err)
	}
	e := newEncoder(familyCheckpointMagic, 1<<16)
	if err := e.spec(t.spec); err != nil {
		return nil, fmt.Errorf("marshal trainer: %w", err)
	}
	e.u64(uint64(t.seen))
	var n uint32
	for i := range t.stats {
		if t.stats[i].n != 0 {
			n++
		}
	}
	e.u32(n)
	for slot := range t.stats {
		if st := &t.stats[slot]; st.n != 0 {
			e.u32(uint32(slot))
			e.f64s([]float64{st.n, st.mean, st.m2})
		}
	}
	t.m.encode(e)
	if err := t.Err(); err != nil {
		return nil, fmt.Errorf("marshal trainer: %w", err)
	}
	return e.b, nil
}

// decodeFamily resumes a Family from its checkpoint.
func decodeFamily(data []byte) (*Family, error) {
	d, err := newDecoder(data, familyCheckpointMagic)
	if err != nil {
		return nil, err
	}
	spec := d.spec()
	if d.err != nil {
		return nil, d.err
	}
	t, err := NewFamily(spec)
	if err != nil {
		return nil, err
	}
	t.seen = int64(d.u64())
	n := d.count(4 + 24)
	for range n {
		slot := d.u32()
		if d.err == nil && slot > t.mask {
			return nil, fmt.Errorf("slot %d out of range", slot)
		}
		if d.err != nil {
			break
		}
		st := &t.stats[slot]
		st.n, st.mean, st.m2 = d.f64(), d.f64(), d.f64()
		st.sane()
	}
	t.m.decode(d)
	if err := d.finish(); err != nil {
		return nil, err
	}
	return t, nil
}

// fail records err as the decoder's error, unless one is there already.
func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

// ints reads n counts, each at most limit.
func (d *decoder) bounded(limit uint32) int {
	v := d.u32()
	if d.err == nil && v > limit {
		d.fail(fmt.Errorf("count %d above %d", v, limit))
		return 0
	}
	return int(v)
}

// marshalFamily encodes a snapshot of a non-linear family.
func (s *Snapshot) marshalFamily() ([]byte, error) {
	e := newEncoder(familySnapshotMagic, 1<<12)
	if err := e.spec(s.spec); err != nil {
		return nil, fmt.Errorf("marshal snapshot: %w", err)
	}
	e.u64(uint64(s.seen))
	s.fam.encode(e)
	return e.b, nil
}

func decodeFamilySnapshot(data []byte) (*Snapshot, error) {
	d, err := newDecoder(data, familySnapshotMagic)
	if err != nil {
		return nil, err
	}
	spec := d.spec()
	if d.err != nil {
		return nil, d.err
	}
	if spec.family() == FamilyLinear || spec.family() == FamilyAuto {
		return nil, fmt.Errorf("a snapshot of family %q in the non-linear format", spec.family())
	}
	spec = spec.withDefaults()
	s := &Snapshot{spec: spec, out: 1}
	s.seen = int64(d.u64())
	s.fam = decodeScorer(spec, d)
	if err := d.finish(); err != nil {
		return nil, err
	}
	s.index()
	return s, nil
}

// familyPredict scores v with a non-linear snapshot.
func (s *Snapshot) familyPredict(v wire.Vector) Prediction {
	h := s.hashed(v)
	defer s.scratch.Put(h)
	in, _ := s.inputs.Get().(*input)
	if in == nil {
		in = new(input)
	}
	defer s.inputs.Put(in)
	in.fill(h, s.mask)
	s.fam.inputs(in)
	return Prediction{Score: sigmoid(saneMargin(s.fam.margin(in)))}
}

// ExplainErr reports why Contributions cannot explain this model's scores, nil when it can: the
// linear family and FM explain, the MLP, the trees and an auto blend do not.
func (s *Snapshot) ExplainErr() error {
	if s.blend != nil {
		return fmt.Errorf("explain is not available for a blend of families (auto serving %s)", s.blend.description())
	}
	if s.fam == nil {
		return nil
	}
	if _, ok := s.fam.(explainer); ok {
		return nil
	}
	return fmt.Errorf("explain is not available for family %s", s.spec.Family)
}

// familyContributions explains v with a non-linear snapshot, nil where the family cannot.
func (s *Snapshot) familyContributions(v wire.Vector) []Contribution {
	ex, ok := s.fam.(explainer)
	if !ok {
		return nil
	}
	h := s.hashed(v)
	defer s.scratch.Put(h)
	var in input
	in.fill(h, s.mask)
	s.fam.inputs(&in)
	return ex.contributions(&in, func(i int) string { return h.featureName(v, i) })
}

// Family is the snapshot's model family: "linear", "fm", "mlp", "tree" or "forest", or "auto" for
// an auto trainer's blend of members (Blend names them); an auto trainer with one member serving
// alone (its champion from AutoHorizon examples on) takes that member's snapshot, of its family.
func (s *Snapshot) Family() string { return s.spec.family() }
