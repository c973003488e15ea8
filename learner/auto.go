package learner

import (
	"errors"
	"fmt"
	"math"

	"github.com/streamlearn/streamlearn/wire"
)

const autoCheckpointMagic = "SLCA"

// AutoFamilies are the families the auto family learns side by side, in this order; the first is
// the champion until another proves better.
var AutoFamilies = []string{FamilyLinear, FamilyFM, FamilyMLP, FamilyForest}

// Auto's selection: each member's progressive log loss is a running mean over the last
// AutoWindow examples or so (exponentially weighted); a member replaces the champion once it has
// seen AutoMinExamples and its loss is lower by AutoMargin (hysteresis, so that two members close
// to each other do not take turns).
const (
	AutoWindow      = 500
	AutoMinExamples = 100
	AutoMargin      = 0.005
	// AutoPatience is how many examples in a row a member must lead the champion by AutoMargin
	// before it replaces it, so that a lead that comes and goes with the noise of the running
	// means changes nothing.
	AutoPatience = 20
)

// After AutoWarmup examples the members that do not serve learn (and are scored on) one example in
// AutoSample, the champion every one: auto then costs about the champion plus a sixteenth of the
// others, so the zero-config default keeps up with a fast stream once it has chosen (a forest
// serving costs what a forest costs). The sample is every AutoSample-th example, so a checkpoint
// resumes it exactly.
const (
	AutoWarmup = 20_000
	AutoSample = 16
)

// Auto is the trainer of the "auto" family, the zero-config default: it learns every example with
// one model of each of AutoFamilies, scores each before it learns (progressive validation), and
// serves a blend of the members weighted by their recent log loss for its first AutoHorizon
// examples (auto_blend.go), then the champion, the member with the lowest recent log loss (with
// hysteresis). For its first AutoReplayUntil examples the members but the forest also re-learn one
// recent example after each (auto_replay.go). Learn returns the prediction of what serves,
// Snapshot its snapshot.
type Auto struct {
	spec     Spec
	members  []Trainer
	loss     []float64
	champ    int
	seen     int64
	switches int64
	leader   int   // the member leading the champion by AutoMargin, when lead > 0
	lead     int64 // examples in a row it has led

	w    []float64  // scratch: the weights of the blend (auto_blend.go)
	ps   []float64  // scratch: the members' scores of one example
	ring []replayed // the examples replay draws from (auto_replay.go)
}

var _ Trainer = (*Auto)(nil)

// NewAuto returns an auto trainer for spec, which must be valid and binary.
func NewAuto(spec Spec) (*Auto, error) {
	if err := spec.Validate(); err != nil {
		return nil, fmt.Errorf("new trainer: %w", err)
	}
	if spec.Task != Binary {
		return nil, fmt.Errorf("new trainer: auto learns several families on binary tasks only, got %q", spec.Task)
	}
	a := &Auto{spec: spec.withDefaults(), loss: make([]float64, len(AutoFamilies))}
	for _, f := range AutoFamilies {
		ms := a.spec.clone()
		ms.Family = f
		var (
			tr  Trainer
			err error
		)
		if f == FamilyLinear {
			tr, err = NewOnline(ms)
		} else {
			tr, err = NewFamily(ms)
		}
		if err != nil {
			return nil, fmt.Errorf("new trainer: %s member: %w", f, err)
		}
		a.members = append(a.members, tr)
	}
	return a, nil
}

// Spec returns the model's definition.
func (a *Auto) Spec() Spec { return a.spec.clone() }

// Seen is the number of examples learned.
func (a *Auto) Seen() int64 { return a.seen }

// Champion is the member with the lowest recent log loss, with hysteresis: the one that serves
// alone from AutoHorizon examples on (before, the blend serves: Weights) and, past the warm-up, the
// one that learns every example.
func (a *Auto) Champion() string { return AutoFamilies[a.champ] }

// Losses returns each member's recent progressive log loss, in AutoFamilies order.
func (a *Auto) Losses() []float64 { return append([]float64(nil), a.loss...) }

// Switches is how many times the champion changed.
func (a *Auto) Switches() int64 { return a.switches }

// Skipped sums the members' updates left out to keep their state finite.
func (a *Auto) Skipped() int64 {
	var n int64
	for _, m := range a.members {
		if s, ok := m.(interface{ Skipped() int64 }); ok {
			n += s.Skipped()
		}
	}
	return n
}

// Learn learns (v, y) with every member (past the warm-up: the champion, and the others on a
// sample) and returns the prediction from before of what served: the blend of the members, or the
// champion alone.
func (a *Auto) Learn(v wire.Vector, y Label) Prediction {
	var out Prediction
	w := a.blendWeights()
	only := single(w)
	if len(a.ps) != len(a.members) {
		a.ps = make([]float64, len(a.members))
	}
	usable := finite(y.Value)
	target := min(max(y.Value, 0), 1)
	rate := max(1/float64(a.seen+1), 1.0/AutoWindow)
	sampled := a.seen < AutoWarmup || a.seen%AutoSample == 0
	for i, m := range a.members {
		if i != a.champ && !sampled {
			continue
		}
		p := m.Learn(v, y)
		if i == only {
			out = p
		}
		a.ps[i] = p.Score
		if usable {
			a.loss[i] += rate * (logLoss(p.Score, target) - a.loss[i])
		}
	}
	if only < 0 {
		out = Prediction{Score: blendScore(w, a.ps)}
	}
	if !usable {
		return out
	}
	a.seen++
	a.replay(v, y)
	best := a.champ
	for i, l := range a.loss {
		if l < a.loss[best] {
			best = i
		}
	}
	if best == a.champ || a.seen < AutoMinExamples || a.loss[best] >= a.loss[a.champ]-AutoMargin {
		a.lead = 0
		return out
	}
	if best != a.leader || a.lead == 0 {
		a.leader, a.lead = best, 0
	}
	a.lead++
	if a.lead >= AutoPatience {
		a.champ, a.lead = best, 0
		a.switches++
	}
	return out
}

// logLoss is the log loss of probability p for label y, p kept off 0 and 1.
func logLoss(p, y float64) float64 {
	if p != p {
		p = 0.5
	}
	p = min(max(p, 1e-15), 1-1e-15)
	return -(y*math.Log(p) + (1-y)*math.Log(1-p))
}

// MarshalBinary encodes the full state: the selection, the replay ring and each member's checkpoint.
func (a *Auto) MarshalBinary() ([]byte, error) {
	e := newEncoder(autoCheckpointMagic, 1<<16)
	if err := e.spec(a.spec); err != nil {
		return nil, fmt.Errorf("marshal trainer: %w", err)
	}
	e.u64(uint64(a.seen))
	e.u64(uint64(a.switches))
	e.u32(uint32(a.champ))
	e.u32(uint32(a.leader))
	e.u64(uint64(a.lead))
	a.encodeRing(e)
	e.u32(uint32(len(a.members)))
	for i, m := range a.members {
		b, err := m.MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("marshal trainer: %s member: %w", AutoFamilies[i], err)
		}
		e.f64(a.loss[i])
		e.u32(uint32(len(b)))
		e.b = append(e.b, b...)
	}
	return e.b, nil
}

func decodeAuto(data []byte) (*Auto, error) {
	d, err := newDecoder(data, autoCheckpointMagic)
	if err != nil {
		return nil, err
	}
	spec := d.spec()
	if d.err != nil {
		return nil, d.err
	}
	a := &Auto{spec: spec.withDefaults(), loss: make([]float64, len(AutoFamilies))}
	a.seen, a.switches = int64(d.u64()), int64(d.u64())
	a.champ = d.bounded(uint32(len(AutoFamilies) - 1))
	a.leader, a.lead = d.bounded(uint32(len(AutoFamilies)-1)), int64(min(d.u64(), AutoPatience))
	a.decodeRing(d)
	if n := d.u32(); d.err == nil && int(n) != len(AutoFamilies) {
		return nil, fmt.Errorf("%d members, want %d", n, len(AutoFamilies))
	}
	for i, f := range AutoFamilies {
		a.loss[i] = d.f64()
		if !finite(a.loss[i]) || a.loss[i] < 0 {
			a.loss[i] = 0
		}
		b := d.take(int(d.u32()))
		if d.err != nil {
			return nil, d.err
		}
		m, err := UnmarshalTrainer(b)
		if err != nil {
			return nil, fmt.Errorf("%s member: %w", f, err)
		}
		if ms := m.Spec(); ms.family() != f || ms.Name != a.spec.Name || ms.Task != a.spec.Task || ms.HashBits != a.spec.HashBits {
			return nil, errors.New("a member does not fit the model: out of order, or another name, task or hash_bits")
		}
		a.members = append(a.members, m)
	}
	if err := d.finish(); err != nil {
		return nil, err
	}
	return a, nil
}
