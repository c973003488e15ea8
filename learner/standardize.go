package learner

import "math"

// clipSD bounds a standardized value, so that one outlier cannot throw the weights far off.
const clipSD = 8

// moments are the running count, mean and sum of squared deviations of one numeric input (Welford),
// and the scale 1/sd derived from them.
type moments struct {
	n, mean, m2, scale float64
}

// observe adds x to the running statistics.
func (m *moments) observe(x float64) {
	m.n++
	d := x - m.mean
	m.mean += d / m.n
	m.m2 += d * (x - m.mean)
	m.scale = scaleOf(m.n, m.m2)
}

// scaleOf is 1/sd, or 0 while the input has shown no spread, so that it contributes nothing yet.
func scaleOf(n, m2 float64) float64 {
	if n < 2 || !(m2 > 0) {
		return 0
	}
	return math.Sqrt(n / m2)
}

// sd is the running standard deviation.
func (m *moments) sd() float64 {
	if m.n < 2 || !(m.m2 > 0) {
		return 0
	}
	return math.Sqrt(m.m2 / m.n)
}

// standardized maps x to its z-score under (mean, scale), clipped to ±clipSD.
func standardized(x, mean, scale float64) float64 {
	z := (x - mean) * scale
	if z > clipSD {
		return clipSD
	}
	if z < -clipSD {
		return -clipSD
	}
	return z
}

// finite reports whether x is neither NaN nor infinite.
func finite(x float64) bool { return x-x == 0 }

// modelInput is the value a model sees for raw value v in slot: standardized by stats[slot] if numeric
// and stats is not nil, zero if not finite.
func modelInput(v float64, numeric bool, stats []moments, slot uint32) float64 {
	switch {
	case !finite(v):
		return 0
	case numeric && stats != nil:
		st := &stats[slot]
		return standardized(v, st.mean, st.scale)
	}
	return v
}

// observeInputs folds the numeric values of h into stats.
func observeInputs(h *Hashed, stats []moments, mask uint32) {
	for i, s := range h.Slots {
		if v := h.Values[i]; h.Numeric[i] && finite(v) {
			stats[s&mask].observe(v)
		}
	}
}
