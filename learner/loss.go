package learner

import "math"

// sigmoid is the logistic function.
func sigmoid(m float64) float64 { return 1 / (1 + math.Exp(-m)) }

// softmax writes the probabilities of margins m into p (same length).
func softmax(m, p []float64) {
	top := math.Inf(-1)
	for _, v := range m {
		top = max(top, v)
	}
	var sum float64
	for i, v := range m {
		p[i] = math.Exp(v - top)
		sum += p[i]
	}
	for i := range p {
		p[i] /= sum
	}
}

// lossKind names the loss of a single-output model.
type lossKind uint8

const (
	logistic lossKind = iota
	squared
	huber
)

func lossOf(s Spec) lossKind {
	switch {
	case s.Task == Regression && s.Loss == LossHuber:
		return huber
	case s.Task == Regression:
		return squared
	}
	return logistic
}

// dloss is the derivative of the loss with respect to the margin, given the model's output out (the
// probability for logistic, the margin itself otherwise) and the target y, within ±maxGrad.
func dloss(k lossKind, out, y, delta float64) float64 {
	switch k {
	case logistic:
		return out - y
	case huber:
		r := out - y
		if r > delta {
			return delta
		}
		if r < -delta {
			return -delta
		}
		return r
	}
	return clampAbs(out-y, maxGrad)
}
