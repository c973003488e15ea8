package learner

import (
	"fmt"
	"math"

	"github.com/streamlearn/streamlearn/wire"
)

var _ Trainer = (*Online)(nil)

// Online is the CPU Trainer: dense per-slot state, updated in place one example at a time.
type Online struct {
	spec   Spec
	hasher *Hasher
	opt    optimizer
	loss   lossKind
	hyper  Hyper
	mask   uint32
	p      params
	stats  []moments // per slot; nil when the spec does not standardize
	target moments   // of a regression target, when standardizing
	seen   int64
	// used holds every slot whose weight update ever made non-zero, so every slot with a non-zero
	// weight: Snapshot reads those rows only. Marking only when a weight leaves zero keeps the
	// bitset out of the hot loop's memory traffic.
	used slotSet
	// skipped counts coordinate updates left out because they would have made the state non-finite.
	skipped int64

	// scratch, reused by every call
	buf     Hashed
	x       []float64 // standardized values of buf
	margins []float64
	grads   []float64
}

// NewOnline returns an Online trainer for spec, which must be valid.
func NewOnline(spec Spec) (*Online, error) {
	if err := spec.Validate(); err != nil {
		return nil, fmt.Errorf("new trainer: %w", err)
	}
	spec = spec.clone()
	dim := 1 << uint(spec.HashBits)
	t := &Online{
		spec:    spec,
		hasher:  NewHasher(spec),
		opt:     optimizerOf(spec.Optimizer),
		loss:    lossOf(spec),
		hyper:   hyperOf(spec),
		mask:    uint32(dim - 1),
		p:       newParams(dim, spec.outputs()),
		used:    newSlotSet(dim),
		margins: make([]float64, spec.outputs()),
		grads:   make([]float64, spec.outputs()),
	}
	if spec.Standardize {
		t.stats = make([]moments, dim)
	}
	return t, nil
}

// Spec returns the model's definition.
func (t *Online) Spec() Spec { return t.spec.clone() }

// Seen is the number of examples learned.
func (t *Online) Seen() int64 { return t.seen }

// Skipped is the number of coordinate updates left out since the trainer started because they would
// have made its state non-finite.
func (t *Online) Skipped() int64 { return t.skipped }

// Hasher returns the hasher that maps this model's feature names to slots.
func (t *Online) Hasher() *Hasher { return t.hasher }

// Predict scores v with the current weights.
func (t *Online) Predict(v wire.Vector) Prediction {
	t.hasher.Hash(v, &t.buf)
	return t.PredictHashed(&t.buf)
}

// Learn updates the model with (v, y) and returns the prediction made before the update.
func (t *Online) Learn(v wire.Vector, y Label) Prediction {
	t.hasher.Hash(v, &t.buf)
	return t.LearnHashed(&t.buf, y)
}

// PredictHashed scores an already hashed vector; slots are taken modulo 2^HashBits.
func (t *Online) PredictHashed(h *Hashed) Prediction {
	t.forward(h)
	return t.output()
}

// LearnHashed is Learn for an already hashed vector.
func (t *Online) LearnHashed(h *Hashed, y Label) Prediction {
	t.forward(h)
	pred := t.output()
	if !t.gradients(pred, y) {
		return pred
	}
	t.update(h)
	t.observe(h, y)
	t.seen++
	return pred
}

// forward writes the values of h that the model sees into t.x and the margins into t.margins.
func (t *Online) forward(h *Hashed) {
	n := len(h.Slots)
	if cap(t.x) < n {
		t.x = make([]float64, n, 2*n)
	}
	x, vals, num := t.x[:n], h.Values[:n], h.Numeric[:n]
	t.x = x
	c, out := t.p.c, t.p.out
	if out == 1 {
		m := c[t.p.bias()].w
		for i, s := range h.Slots {
			v := modelInput(vals[i], num[i], t.stats, s&t.mask)
			x[i] = v
			m += c[s&t.mask].w * v
		}
		t.margins[0] = m
		return
	}
	for o := range t.margins {
		t.margins[o] = c[t.p.bias()+o].w
	}
	for i, s := range h.Slots {
		v := modelInput(vals[i], num[i], t.stats, s&t.mask)
		x[i] = v
		row := c[int(s&t.mask)*out:][:out]
		for o := range row {
			t.margins[o] += row[o].w * v
		}
	}
}

// output turns t.margins into a prediction.
func (t *Online) output() Prediction {
	return predictionOf(&t.spec, t.margins, &t.target)
}

// gradients writes the derivative of the loss with respect to each margin into t.grads, and reports
// whether y is usable.
func (t *Online) gradients(pred Prediction, y Label) bool {
	switch t.spec.Task {
	case Binary:
		if !finite(y.Value) {
			return false
		}
		t.grads[0] = dloss(logistic, pred.Score, min(max(y.Value, 0), 1), 0)
	case Regression:
		if !finite(y.Value) {
			return false
		}
		target := regressionTarget(y.Value, t.spec.Standardize, &t.target)
		t.grads[0] = dloss(t.loss, t.margins[0], target, t.spec.HuberDelta)
	case Multiclass:
		c := t.spec.classIndex(y.Class)
		if c < 0 {
			return false
		}
		for o, p := range pred.Probs {
			t.grads[o] = p
		}
		t.grads[c]--
	}
	return true
}

// update applies t.grads to the bias and the coordinates of h.
func (t *Online) update(h *Hashed) {
	p, out := &t.p, t.p.out
	l1, l2 := regularization(t.opt, &t.hyper, t.seen, 1)
	bias, r := ruleOf(t.opt, &t.hyper, 0, 0), ruleOf(t.opt, &t.hyper, l1, l2)
	for o, g := range t.grads {
		if !bias.step(&p.c[p.bias()+o], g) {
			t.skipped++
		}
	}
	x := t.x[:len(h.Slots)]
	// The single-output loops below are r.ftrl and r.adagrad inlined by hand: this is the hot path and
	// they are too big for the compiler to inline. TestEngineBatchOfOneEqualsOnline checks that they
	// stay bit-identical to the CPU backend, which calls the rules.
	switch {
	case out == 1 && t.opt == ftrl:
		g := t.grads[0]
		for i, s := range h.Slots {
			gi := g * x[i]
			if gi == 0 {
				continue
			}
			c := &p.c[s&t.mask]
			s2 := math.Sqrt(c.s*c.s + gi*gi)
			z2 := c.z + gi - (s2-c.s)*r.invAlpha*c.w
			var w2 float64
			if math.Abs(z2) > r.l1 {
				w2 = -(z2 - math.Copysign(r.l1, z2)) / ((r.beta+s2)*r.invAlpha + r.l2)
			}
			if !finite(z2) || !finite(w2) { // z2 is not finite where s2 is not
				t.skipped++
				continue
			}
			if w2 != 0 && c.w == 0 {
				t.used.add(s & t.mask)
			}
			c.z, c.s, c.w = z2, s2, w2
		}
		return
	case out == 1:
		g := t.grads[0]
		for i, s := range h.Slots {
			gi := g * x[i]
			if gi == 0 {
				continue
			}
			c := &p.c[s&t.mask]
			gi += r.l2 * c.w
			if gi == 0 {
				continue
			}
			s2 := math.Sqrt(c.s*c.s + gi*gi)
			eta := r.rate / s2
			w2 := c.w - eta*gi
			if r.l1 > 0 {
				w2 = shrink(w2, eta*r.l1)
			}
			if !finite(s2) || !finite(w2) {
				t.skipped++
				continue
			}
			if w2 != 0 && c.w == 0 {
				t.used.add(s & t.mask)
			}
			c.s, c.w = s2, w2
		}
		return
	}
	for i, s := range h.Slots {
		row := p.c[int(s&t.mask)*out:][:out]
		for o, g := range t.grads {
			was := row[o].w
			if gi := g * x[i]; gi != 0 && !r.step(&row[o], gi) {
				t.skipped++
			}
			if was == 0 && row[o].w != 0 {
				t.used.add(s & t.mask)
			}
		}
	}
}

// observe folds the example into the running statistics, after it has been learned from.
func (t *Online) observe(h *Hashed, y Label) {
	if t.stats == nil {
		return
	}
	observeInputs(h, t.stats, t.mask)
	if t.spec.Task == Regression {
		t.target.observe(y.Value)
	}
}
