package learner

import "math"

// clipSD bounds a standardized value, so that one outlier cannot throw the weights far off.
const clipSD = 8

// Bounds that keep every sum and square of the learner's state finite, whatever finite input arrives.
const (
	// maxStat bounds a value folded into running statistics: squares of it, and sums of those over
	// any number of examples, stay far from overflowing.
	maxStat = 1e100
	// maxInput bounds an input a model sees unstandardized, maxTarget an unstandardized regression
	// target and maxGrad a loss gradient, so that a gradient times an input summed over any stream
	// stays finite.
	maxInput  = 1e15
	maxTarget = 1e15
	maxGrad   = 1e15
)

// moments are the running count, mean and sum of squared deviations of one numeric input (Welford),
// and the scale 1/sd derived from them.
type moments struct {
	n, mean, m2, scale float64
}

// observe adds x to the running statistics, winsorized (see bound).
func (m *moments) observe(x float64) {
	x = m.bound(x)
	m.n++
	d := x - m.mean
	m.mean += d / m.n
	m.m2 += d * (x - m.mean)
	m.scale = scaleOf(m.n, m.m2)
}

// bound is x as the statistics count it: within clipSD standard deviations of the mean, so that one
// outlier cannot blow the variance up and switch the input off for good (a scale of 1/sd near zero).
// Until the input has shown spread, the unit is the larger of |mean| and 1, and x is within ±maxStat.
// Bounded values still widen the spread, so a real shift of scale is followed within a few dozen
// examples.
func (m *moments) bound(x float64) float64 {
	if m.scale > 0 { // the common case: no square root, no division
		if z := (x - m.mean) * m.scale; z > clipSD || z < -clipSD {
			return m.mean + math.Copysign(clipSD, z)/m.scale
		}
		return x
	}
	return m.boundNoSpread(x)
}

// boundNoSpread is bound before the input has shown spread: rare, so kept out of line.
//
//go:noinline
func (m *moments) boundNoSpread(x float64) float64 {
	x = clampAbs(x, maxStat)
	if m.n == 0 {
		return x
	}
	r := clipSD * max(math.Abs(m.mean), 1)
	return min(max(x, m.mean-r), m.mean+r)
}

// z is x standardized under the statistics, clipped to ±clipSD: a regression target as the model
// learns it.
func (m *moments) z(x float64) float64 { return standardized(x, m.mean, m.scale) }

// sane resets statistics that bound would never have let in: not finite, or a mean past maxStat
// (from a checkpoint written before they were bounded, in which one outlier switched the input off).
func (m *moments) sane() {
	if !finite(m.n) || !finite(m.m2) || !(math.Abs(m.mean) <= maxStat) || m.n < 0 || m.m2 < 0 {
		*m = moments{}
	}
	m.scale = scaleOf(m.n, m.m2)
}

// scaleOf is 1/sd, or 0 while the input has shown no spread (or one too small for 1/sd to be a
// number), so that it contributes nothing yet.
func scaleOf(n, m2 float64) float64 {
	if n < 2 || !(m2 > 0) {
		return 0
	}
	if s := math.Sqrt(n / m2); s <= math.MaxFloat64 {
		return s
	}
	return 0
}

// sd is the running standard deviation.
func (m *moments) sd() float64 {
	if m.n < 2 || !(m.m2 > 0) {
		return 0
	}
	return math.Sqrt(m.m2 / m.n)
}

// standardized maps x to its z-score under (mean, scale), clipped to ±clipSD. With |mean| at most
// maxStat (see bound and sane), x - mean is finite for any finite x, so the result is a number.
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

// clampAbs bounds x to ±limit.
func clampAbs(x, limit float64) float64 {
	if x > limit {
		return limit
	}
	if x < -limit {
		return -limit
	}
	return x
}

// finite reports whether x is neither NaN nor infinite.
func finite(x float64) bool { return x-x == 0 }

// modelInput is the value a model sees for raw value v in slot, as inputValue: standardized by
// stats[slot] if numeric and stats is not nil.
func modelInput(v float64, numeric bool, stats []moments, slot uint32) float64 {
	switch {
	case !finite(v):
		return 0
	case numeric && stats != nil:
		st := &stats[slot]
		return standardized(v, st.mean, st.scale)
	}
	return clampAbs(v, maxInput)
}

// inputValue is the value a model sees for raw value v: its z-score under (mean, scale) when
// standardized, else v within ±maxInput; zero if v is not finite.
func inputValue(v float64, standardize bool, mean, scale float64) float64 {
	switch {
	case !finite(v):
		return 0
	case standardize:
		return standardized(v, mean, scale)
	}
	return clampAbs(v, maxInput)
}

// regressionTarget is the value a regression model learns for label y: its z-score under the
// target's statistics when standardizing, else y within ±maxTarget.
func regressionTarget(y float64, standardize bool, target *moments) float64 {
	if standardize {
		return target.z(y)
	}
	return clampAbs(y, maxTarget)
}

// finiteScore is a score within the range of float64: an infinite one becomes the largest finite
// number of its sign. NaN stays NaN, for the caller to refuse.
func finiteScore(x float64) float64 {
	if math.IsInf(x, 0) {
		return math.Copysign(math.MaxFloat64, x)
	}
	return x
}

// observeInputs folds the numeric values of h into stats.
func observeInputs(h *Hashed, stats []moments, mask uint32) {
	for i, s := range h.Slots {
		if v := h.Values[i]; h.Numeric[i] && finite(v) {
			stats[s&mask].observe(v)
		}
	}
}
