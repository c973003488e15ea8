package drift

import (
	"math"
	"slices"
)

// Wasserstein returns the first Wasserstein (earth mover's) distance
// between the empirical distributions of a and b, ∫|F_a(x) − F_b(x)| dx, the
// value of scipy.stats.wasserstein_distance(a, b). It returns NaN when a
// sample is empty or holds NaN; infinite values give +Inf or NaN as in
// scipy.
func Wasserstein(a, b []float64) float64 {
	sa, ok := sortedCopy(a)
	if !ok {
		return math.NaN()
	}
	sb, ok := sortedCopy(b)
	if !ok {
		return math.NaN()
	}
	return wassersteinSorted(sa, sb)
}

// WassersteinNormalized returns Wasserstein(ref, cur) divided by the
// population standard deviation (ddof=0) of ref, so that one threshold fits
// features of any unit. When ref is constant it returns 0 if the distance
// is 0 and +Inf otherwise.
func WassersteinNormalized(ref, cur []float64) float64 {
	sa, ok := sortedCopy(ref)
	if !ok {
		return math.NaN()
	}
	sb, ok := sortedCopy(cur)
	if !ok {
		return math.NaN()
	}
	return normalizeBy(wassersteinSorted(sa, sb), stdDev(sa))
}

func normalizeBy(d, scale float64) float64 {
	switch {
	case math.IsNaN(d) || scale > 0:
		return d / scale
	case d == 0:
		return 0
	}
	return math.Inf(1)
}

// wassersteinSorted walks the merged support of two sorted samples and
// integrates the absolute difference of their step CDFs.
func wassersteinSorted(a, b []float64) float64 {
	na, nb := float64(len(a)), float64(len(b))
	var i, j int
	var dist float64
	prev := math.Min(a[0], b[0])
	for i < len(a) || j < len(b) {
		var x float64
		switch {
		case j == len(b) || (i < len(a) && a[i] <= b[j]):
			x = a[i]
		default:
			x = b[j]
		}
		if x != prev {
			dist += math.Abs(float64(i)/na-float64(j)/nb) * (x - prev)
			prev = x
		}
		for i < len(a) && a[i] == x {
			i++
		}
		for j < len(b) && b[j] == x {
			j++
		}
	}
	return dist
}

// sortedCopy returns a sorted copy of x, or ok=false when x is empty or
// holds NaN.
func sortedCopy(x []float64) ([]float64, bool) {
	if len(x) == 0 {
		return nil, false
	}
	s := slices.Clone(x)
	for _, v := range s {
		if math.IsNaN(v) {
			return nil, false
		}
	}
	slices.Sort(s)
	return s, true
}

func stdDev(x []float64) float64 {
	var mean float64
	for _, v := range x {
		mean += v
	}
	mean /= float64(len(x))
	var ss float64
	for _, v := range x {
		ss += (v - mean) * (v - mean)
	}
	return math.Sqrt(ss / float64(len(x)))
}
