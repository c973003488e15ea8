package learner

import (
	"math"
	"sort"
	"sync"

	"github.com/streamlearn/streamlearn/wire"
)

// Snapshot is an immutable copy of a model's weights for serving: only the slots with a non-zero
// weight, with the standardization each needs. It is safe for concurrent use.
type Snapshot struct {
	spec   Spec
	hasher *Hasher
	mask   uint32
	out    int
	seen   int64
	target moments   // a regression target's, when standardizing
	bias   []float64 // out
	slots  []uint32  // per row, ascending
	w      []float64 // row*out + output
	mean   []float64 // per row: standardization of a numeric input in that slot
	scale  []float64
	table  slotTable
	fam    familyScorer   // a non-linear family's model (family.go); nil for linear
	blend  *blendSnapshot // an auto trainer's blend of members (auto_blend.go); nil otherwise

	scratch sync.Pool // *Hashed
	inputs  sync.Pool // *input, of a non-linear family
}

// Snapshot returns an immutable copy of the current weights.
func (t *Online) Snapshot() *Snapshot {
	p, out := &t.p, t.p.out
	slots := t.used.appendTo(nil)
	w := make([]float64, len(slots)*out, (len(slots)+1)*out)
	for i, slot := range slots {
		for o, c := range p.c[int(slot)*out:][:out] {
			w[i*out+o] = c.w
		}
	}
	for _, c := range p.c[p.bias():] {
		w = append(w, c.w)
	}
	return newSnapshot(t.spec, t.seen, t.target, slots, w, t.stats)
}

// newSnapshot builds the snapshot of a linear model from the rows of the given slots, ascending and
// a superset of those with a non-zero weight: w holds outputs weights per slot, row after row, then
// the bias's; stats are the standardization statistics per slot (nil if none). Rows whose weights
// are all zero are left out, so the result does not depend on which superset the slots are.
// newSnapshot takes slots and w over.
func newSnapshot(spec Spec, seen int64, target moments, slots []uint32, w []float64, stats []moments) *Snapshot {
	out := spec.outputs()
	n := len(slots)
	s := &Snapshot{spec: spec.clone(), seen: seen, target: target, out: out}
	s.bias = append([]float64(nil), w[n*out:][:out]...)
	kept := 0
	for i, slot := range slots {
		row := w[i*out:][:out]
		nonzero := false
		for _, x := range row {
			nonzero = nonzero || x != 0
		}
		if !nonzero {
			continue
		}
		slots[kept] = slot
		copy(w[kept*out:], row)
		kept++
	}
	s.slots, s.w = slots[:kept:kept], w[:kept*out:kept*out]
	s.mean, s.scale = make([]float64, kept), make([]float64, kept)
	if stats != nil {
		for i, slot := range s.slots {
			s.mean[i], s.scale[i] = stats[slot].mean, stats[slot].scale
		}
	}
	s.index()
	return s
}

// index builds the derived fields of a snapshot whose spec, slots and weights are set, and reports
// false if a slot repeats.
func (s *Snapshot) index() bool {
	s.hasher = NewHasher(s.spec)
	s.mask = uint32(1)<<uint(s.spec.HashBits) - 1
	s.table = newSlotTable(len(s.slots))
	for i, slot := range s.slots {
		if !s.table.put(slot, int32(i)) {
			return false
		}
	}
	return true
}

// Spec returns the definition of the model.
func (s *Snapshot) Spec() Spec { return s.spec.clone() }

// Seen is the number of examples the model had learned when the snapshot was taken.
func (s *Snapshot) Seen() int64 { return s.seen }

// Predict scores v. It equals the trainer's Predict at the time of the snapshot.
func (s *Snapshot) Predict(v wire.Vector) Prediction {
	if s.blend != nil {
		return s.blend.predict(v)
	}
	if s.fam != nil {
		return s.familyPredict(v)
	}
	h := s.hashed(v)
	defer s.scratch.Put(h)
	if s.out == 1 {
		var m [1]float64
		s.margins(h, m[:])
		return predictionOf(&s.spec, m[:], &s.target)
	}
	m := make([]float64, s.out)
	s.margins(h, m)
	return predictionOf(&s.spec, m, &s.target)
}

func (s *Snapshot) hashed(v wire.Vector) *Hashed {
	h, _ := s.scratch.Get().(*Hashed)
	if h == nil {
		h = new(Hashed)
	}
	s.hasher.Hash(v, h)
	return h
}

// input returns the value the model sees for the i-th feature of h, found in row (as Online.input).
func (s *Snapshot) input(h *Hashed, i int, row int32) float64 {
	return inputValue(h.Values[i], h.Numeric[i] && s.spec.Standardize, s.mean[row], s.scale[row])
}

// margins writes the margins of h into m, summing in the trainer's order so that results are equal.
func (s *Snapshot) margins(h *Hashed, m []float64) {
	copy(m, s.bias)
	for i, slot := range h.Slots {
		row := s.table.get(slot & s.mask)
		if row < 0 {
			continue
		}
		x := s.input(h, i, row)
		for o, w := range s.w[int(row)*s.out:][:s.out] {
			m[o] += w * x
		}
	}
}

// Contributions explains the prediction for v: each feature's weight times its standardized value,
// and the bias, largest absolute contribution first. For multiclass they are for the top class; for
// a standardized regression target they are in target units and the bias includes the target's mean.
//
// A non-linear family explains where ExplainErr is nil (FM: each feature's linear term plus half of
// each of its pairwise interactions); for the others, and an auto blend, Contributions returns nil.
func (s *Snapshot) Contributions(v wire.Vector) []Contribution {
	if s.blend != nil {
		return nil
	}
	if s.fam != nil {
		return s.familyContributions(v)
	}
	h := s.hashed(v)
	defer s.scratch.Put(h)
	o, unit, offset := 0, 1.0, 0.0
	switch s.spec.Task {
	case Multiclass:
		o = s.spec.classIndex(s.Predict(v).Class)
	case Regression:
		if s.spec.Standardize {
			unit, offset = s.target.sd(), s.target.mean
		}
	}
	out := make([]Contribution, 0, len(h.Slots)+1)
	out = append(out, Contribution{Feature: "(bias)", Value: 1, Weight: s.bias[o], Contribution: offset + unit*s.bias[o]})
	for i, slot := range h.Slots {
		c := Contribution{Feature: h.featureName(v, i), Value: h.Values[i]}
		if row := s.table.get(slot & s.mask); row >= 0 {
			c.Weight = s.w[int(row)*s.out+o]
			c.Contribution = unit * c.Weight * s.input(h, i, row)
		}
		out = append(out, c)
	}
	sort.SliceStable(out, func(i, j int) bool {
		return math.Abs(out[i].Contribution) > math.Abs(out[j].Contribution)
	})
	return out
}
