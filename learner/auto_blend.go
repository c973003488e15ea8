package learner

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/streamlearn/streamlearn/wire"
)

// blendSnapshotMagic starts the snapshot of an auto trainer that serves a blend of its members:
// the auto spec, the examples seen, then per member in the blend its weight and its own snapshot.
const blendSnapshotMagic = "SLSB"

// Auto's blend: for its first AutoHorizon examples (all within the warm-up, when every member
// learns every example) auto serves a mixture of the members' log-odds, member i weighted by
// exp(-AutoEta · n · (loss_i − best loss)), loss being each member's recent progressive log loss
// (Auto.loss, a mean over about AutoWindow examples) and n the examples seen: a tempered Hedge
// whose weights start equal and follow the members' loss gaps more sharply as evidence
// accumulates. Weights under AutoMinWeight are dropped (a member far behind costs nothing to
// serve); a blend of one member is that member's own snapshot. From AutoHorizon examples on the
// champion serves alone: a blend costs the sum of its members to serve (a forest's and an MLP's
// scoring), and past a few thousand examples it gains little over the best member.
//
// Measured on the quality sets of docs/BENCHMARKS.md (progressive AUC, the weights from the losses
// before each example): the small sets want weights close to equal (ionosphere 0.9408, sonar
// 0.8155 with AutoEta → 0), the 10,000-row sets sharper ones (thresholds 0.7650 with AutoEta → 0);
// AutoEta 0.02 serves both. AutoEta 1 with n up to AutoWindow (the Bayesian mixture of the window)
// loses 0.03–0.04 on the small sets; a mixture of probabilities instead of log-odds 0.002–0.01.
const (
	AutoEta       = 0.02
	AutoHorizon   = 2000
	AutoMinWeight = 0.01
)

// blendWeights sets a.w to the weights of the members in what serves now (from AutoHorizon
// examples on, 1 for the champion and 0 for the others) and returns it.
func (a *Auto) blendWeights() []float64 {
	if len(a.w) != len(a.members) {
		a.w = make([]float64, len(a.members))
	}
	w := a.w
	if a.seen >= AutoHorizon {
		clear(w)
		w[a.champ] = 1
		return w
	}
	best := math.Inf(1)
	for _, l := range a.loss {
		best = min(best, l)
	}
	n := float64(a.seen)
	var sum float64
	for i, l := range a.loss {
		w[i] = math.Exp(-AutoEta * n * (l - best))
		sum += w[i]
	}
	var kept float64
	for i := range w {
		if w[i] /= sum; w[i] < AutoMinWeight {
			w[i] = 0
		}
		kept += w[i]
	}
	for i := range w {
		w[i] /= kept
	}
	return w
}

// blendScore mixes the members' scores ps by the weights w: the weighted mean of their log-odds,
// summed in member order over the members with a weight (as blendSnapshot.predict does).
func blendScore(w, ps []float64) float64 {
	var m float64
	for i, x := range w {
		if x != 0 {
			m += x * logit(ps[i])
		}
	}
	return sigmoid(saneMargin(m))
}

// Weights returns the weight of each member in what serves now, in AutoFamilies order: the blend
// for the first AutoHorizon examples, then 1 for the champion and 0 for the others.
func (a *Auto) Weights() []float64 {
	return append([]float64(nil), a.blendWeights()...)
}

// Predict scores v with what serves now: the blend of the members, or the champion alone.
func (a *Auto) Predict(v wire.Vector) Prediction {
	w := a.blendWeights()
	if only := single(w); only >= 0 {
		return a.members[only].Predict(v)
	}
	ps := make([]float64, len(w))
	for i, x := range w {
		if x != 0 {
			ps[i] = a.members[i].Predict(v).Score
		}
	}
	return Prediction{Score: blendScore(w, ps)}
}

// single returns the index of the only non-zero weight of w, -1 when there are several.
func single(w []float64) int {
	only := -1
	for i, x := range w {
		if x != 0 {
			if only >= 0 {
				return -1
			}
			only = i
		}
	}
	return only
}

// Snapshot returns what serves now: the blend of the members (see AutoEta), or the snapshot of the
// only member with a weight (the champion from AutoHorizon examples on), exactly as that member's
// own.
func (a *Auto) Snapshot() *Snapshot {
	w := a.blendWeights()
	if only := single(w); only >= 0 {
		return a.members[only].Snapshot()
	}
	b := &blendSnapshot{}
	for i, x := range w {
		if x != 0 {
			b.members = append(b.members, a.members[i].Snapshot())
			b.weights = append(b.weights, x)
		}
	}
	s := &Snapshot{spec: a.spec.clone(), seen: a.seen, out: 1, blend: b}
	s.index()
	return s
}

// blendSnapshot is the model of an auto snapshot that serves several members: their snapshots, in
// AutoFamilies order, and their weights (summing to 1).
type blendSnapshot struct {
	members []*Snapshot
	weights []float64
}

func (b *blendSnapshot) predict(v wire.Vector) Prediction {
	var m float64
	for i, s := range b.members {
		m += b.weights[i] * logit(s.Predict(v).Score)
	}
	return Prediction{Score: sigmoid(saneMargin(m))}
}

// Blend returns the families an auto snapshot blends and their weights; nil for the snapshot of a
// single model (any other family, or auto while one member serves alone).
func (s *Snapshot) Blend() (families []string, weights []float64) {
	if s.blend == nil {
		return nil, nil
	}
	for _, m := range s.blend.members {
		families = append(families, m.Family())
	}
	return families, append([]float64(nil), s.blend.weights...)
}

// blendDescription is "linear 0.62, forest 0.38".
func (b *blendSnapshot) description() string {
	parts := make([]string, len(b.members))
	for i, m := range b.members {
		parts[i] = fmt.Sprintf("%s %.2f", m.Family(), b.weights[i])
	}
	return strings.Join(parts, ", ")
}

// rename names the snapshot's model, and its members', name.
func (s *Snapshot) rename(name string) {
	s.spec.Name = name
	if s.blend != nil {
		for _, m := range s.blend.members {
			m.rename(name)
		}
	}
}

func (s *Snapshot) marshalBlend() ([]byte, error) {
	e := newEncoder(blendSnapshotMagic, 1<<16)
	if err := e.spec(s.spec); err != nil {
		return nil, fmt.Errorf("marshal snapshot: %w", err)
	}
	e.u64(uint64(s.seen))
	e.u32(uint32(len(s.blend.members)))
	for i, m := range s.blend.members {
		b, err := m.MarshalBinary()
		if err != nil {
			return nil, err
		}
		e.f64(s.blend.weights[i])
		e.u32(uint32(len(b)))
		e.b = append(e.b, b...)
	}
	return e.b, nil
}

func decodeBlendSnapshot(data []byte) (*Snapshot, error) {
	d, err := newDecoder(data, blendSnapshotMagic)
	if err != nil {
		return nil, err
	}
	spec := d.spec()
	if d.err == nil && spec.family() != FamilyAuto {
		return nil, fmt.Errorf("a snapshot of family %q in the blend format", spec.family())
	}
	s := &Snapshot{spec: spec.withDefaults(), out: 1, blend: &blendSnapshot{}}
	s.seen = int64(d.u64())
	n := d.bounded(uint32(len(AutoFamilies)))
	var sum float64
	for range n {
		w := d.f64()
		b := d.take(int(d.u32()))
		if d.err != nil {
			return nil, d.err
		}
		if !finite(w) || w <= 0 || w > 1 {
			return nil, fmt.Errorf("member weight %v", w)
		}
		if len(b) >= 4 && string(b[:4]) == blendSnapshotMagic {
			return nil, errors.New("a blend within a blend")
		}
		m, err := UnmarshalSnapshot(b)
		if err != nil {
			return nil, fmt.Errorf("member: %w", err)
		}
		if ms := m.spec; ms.Name != spec.Name || ms.Task != spec.Task || ms.HashBits != spec.HashBits {
			return nil, errors.New("a member does not fit the model: another name, task or hash_bits")
		}
		s.blend.members = append(s.blend.members, m)
		s.blend.weights = append(s.blend.weights, w)
		sum += w
	}
	if err := d.finish(); err != nil {
		return nil, err
	}
	if n < 2 || math.Abs(sum-1) > 1e-9 {
		return nil, fmt.Errorf("%d members weighing %v in all, want 2 or more weighing 1", n, sum)
	}
	s.index()
	return s, nil
}
