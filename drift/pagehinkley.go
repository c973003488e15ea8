package drift

import "math"

// PageHinkley is the Page-Hinkley test for an increase of the mean of a
// stream (Page 1954), such as a rising error rate or loss. It accumulates
// m_T = Σ (x_t − x̄_T − delta) and signals a change when m_T − min m_t
// exceeds threshold, then starts afresh. The zero value is not usable; use
// NewPageHinkley.
type PageHinkley struct {
	// Delta is the magnitude of change tolerated per value.
	Delta float64
	// Threshold is the alarm level λ.
	Threshold float64
	// Alpha is the fading factor applied to the cumulative sum; 1 (the
	// default) forgets nothing.
	Alpha float64
	// MinInstances is the number of values seen before any alarm; default 30.
	MinInstances int64

	n      int64
	mean   float64
	sum    float64
	minSum float64
}

// NewPageHinkley returns a detector with the given delta and threshold;
// delta < 0 means 0.005 and threshold ≤ 0 means 50 (the usual defaults for
// 0/1 error streams).
func NewPageHinkley(delta, threshold float64) *PageHinkley {
	if !(delta >= 0) {
		delta = 0.005
	}
	if !(threshold > 0) {
		threshold = 50
	}
	return &PageHinkley{Delta: delta, Threshold: threshold, Alpha: 1, MinInstances: 30}
}

// Add adds a value and reports whether an increase of the mean was
// detected; the detector then resets. Non-finite values are ignored.
func (p *PageHinkley) Add(x float64) (change bool) {
	if !finite(x) {
		return false
	}
	p.n++
	p.mean += (x - p.mean) / float64(p.n)
	p.sum = p.Alpha*p.sum + (x - p.mean - p.Delta)
	p.minSum = math.Min(p.minSum, p.sum)
	if p.n < p.MinInstances || p.sum-p.minSum <= p.Threshold {
		return false
	}
	p.Reset()
	return true
}

// Reset forgets everything seen so far.
func (p *PageHinkley) Reset() {
	p.n, p.mean, p.sum, p.minSum = 0, 0, 0, 0
}
