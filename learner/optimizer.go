package learner

import "math"

// Hyper holds one model's optimizer settings in the form the update rules and backends take.
type Hyper struct {
	Alpha, Beta, L1, L2, LearningRate float64
}

// hyperOf extracts the optimizer settings of spec.
func hyperOf(s Spec) Hyper {
	return Hyper{Alpha: s.Alpha, Beta: s.Beta, L1: s.L1, L2: s.L2, LearningRate: s.LearningRate}
}

// optimizer names an update rule.
type optimizer uint8

const (
	ftrl optimizer = iota
	adagrad
)

func optimizerOf(name string) optimizer {
	if name == OptimizerAdaGrad {
		return adagrad
	}
	return ftrl
}

// rule is an update rule with its settings for one step, prepared once so that the per-coordinate
// work has no division by a constant.
type rule struct {
	opt      optimizer
	invAlpha float64 // FTRL
	beta     float64 // FTRL
	rate     float64 // AdaGrad
	l1, l2   float64
}

// ruleOf returns the rule of opt with settings h and regularization l1, l2 (zero for the bias).
func ruleOf(opt optimizer, h *Hyper, l1, l2 float64) rule {
	return rule{opt: opt, invAlpha: 1 / h.Alpha, beta: h.Beta, rate: h.LearningRate, l1: l1, l2: l2}
}

// step applies gradient g to c, and reports false, leaving c as it was, where that would make its
// state non-finite (a gradient so small that its square is zero, with beta and L2 zero, divides by
// zero).
func (r *rule) step(c *coord, g float64) bool {
	n := *c
	if r.opt == adagrad {
		n.s, n.w = r.adagrad(c.s, c.w, g)
	} else {
		n.z, n.s, n.w = r.ftrl(c.z, c.s, c.w, g)
	}
	if !finiteState(n.z, n.s, n.w) {
		return false
	}
	*c = n
	return true
}

// finiteState reports whether a coordinate's state z, s, w is finite.
func finiteState(z, s, w float64) bool { return finite(z) && finite(s) && finite(w) }

// ftrl is one FTRL-Proximal update (McMahan et al. 2013, algorithm 1) of a coordinate with state z,
// s = sqrt(sum of squared gradients) and weight w, after gradient g.
func (r *rule) ftrl(z, s, w, g float64) (z2, s2, w2 float64) {
	s2 = math.Sqrt(s*s + g*g)
	z2 = z + g - (s2-s)*r.invAlpha*w
	if math.Abs(z2) <= r.l1 {
		return z2, s2, 0
	}
	return z2, s2, -(z2 - math.Copysign(r.l1, z2)) / ((r.beta+s2)*r.invAlpha + r.l2)
}

// adagrad is one AdaGrad update of a coordinate with s = sqrt(sum of squared gradients) and weight w
// after loss gradient g: L2 adds l2*w to the gradient, L1 is a proximal shrink of the step's size.
func (r *rule) adagrad(s, w, g float64) (s2, w2 float64) {
	g += r.l2 * w
	if g == 0 {
		return s, w
	}
	s2 = math.Sqrt(s*s + g*g)
	eta := r.rate / s2
	w2 = w - eta*g
	if r.l1 > 0 {
		w2 = shrink(w2, eta*r.l1)
	}
	return s2, w2
}

// shrink moves w towards zero by t, stopping at zero (the proximal step of an L1 penalty).
func shrink(w, t float64) float64 {
	switch {
	case w > t:
		return w - t
	case w < -t:
		return w + t
	}
	return 0
}

// regularization returns the L1 and L2 strengths of one update from a batch of rows examples after
// seen. FTRL-Proximal applies them once to the cumulative objective by construction; AdaGrad's per-step
// share of that objective is rows/(seen+rows), so that both mean the same on a stream.
func regularization(opt optimizer, h *Hyper, seen int64, rows int) (l1, l2 float64) {
	if opt == ftrl {
		return h.L1, h.L2
	}
	share := float64(rows) / float64(seen+int64(rows))
	return h.L1 * share, h.L2 * share
}

// UpdateConstants returns what one update of a model with settings h applies to each coordinate after
// seen examples, with a batch of rows: 1/alpha, beta, the learning rate, and the L1 and L2 strengths
// (the bias takes neither). Backends other than the CPU's take them from here so that all agree.
func UpdateConstants(optimizerName string, h Hyper, seen int64, rows int) [5]float64 {
	l1, l2 := regularization(optimizerOf(optimizerName), &h, seen, rows)
	return [5]float64{1 / h.Alpha, h.Beta, h.LearningRate, l1, l2}
}
