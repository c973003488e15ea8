package drift

import "math"

// PSIEpsilon replaces empty-bin proportions in PSI so that a bin that is
// empty on one side contributes a large but finite term instead of +Inf.
const PSIEpsilon = 1e-4

// PSI returns the population stability index of cur against ref:
//
//	PSI = Σ (c_i - r_i) · ln(c_i / r_i)
//
// where r and c are ref and cur normalised to proportions (so counts and
// proportions are both accepted) and every proportion below PSIEpsilon is
// raised to PSIEpsilon (no renormalisation). Bins empty on both sides
// contribute 0. It returns NaN when the lengths differ, the slices are empty,
// a value is negative, NaN or infinite, or either side sums to 0.
func PSI(ref, cur []float64) float64 {
	r, c, ok := proportionPair(ref, cur)
	if !ok {
		return math.NaN()
	}
	var psi float64
	for i := range r {
		ri := math.Max(r[i], PSIEpsilon)
		ci := math.Max(c[i], PSIEpsilon)
		psi += (ci - ri) * math.Log(ci/ri)
	}
	return psi
}

// JensenShannon returns the Jensen-Shannon distance between p and q with
// natural logarithms: the square root of the JS divergence, exactly what
// scipy.spatial.distance.jensenshannon(p, q) returns. p and q are
// normalised to sum to 1 first. The result lies in [0, sqrt(ln 2)]. NaN
// under the same conditions as PSI.
func JensenShannon(p, q []float64) float64 {
	a, b, ok := proportionPair(p, q)
	if !ok {
		return math.NaN()
	}
	var js float64
	for i := range a {
		m := (a[i] + b[i]) / 2
		js += relEntr(a[i], m) + relEntr(b[i], m)
	}
	return math.Sqrt(math.Max(js/2, 0))
}

// LInf returns the Chebyshev (L∞) distance between p and q after both are
// normalised to proportions: the largest change of any bin's share. NaN
// under the same conditions as PSI.
func LInf(p, q []float64) float64 {
	a, b, ok := proportionPair(p, q)
	if !ok {
		return math.NaN()
	}
	var d float64
	for i := range a {
		d = math.Max(d, math.Abs(a[i]-b[i]))
	}
	return d
}

// relEntr is x·ln(x/y) with the conventions of scipy.special.rel_entr.
func relEntr(x, y float64) float64 {
	switch {
	case x == 0:
		return 0
	case y == 0:
		return math.Inf(1)
	}
	return x * math.Log(x/y)
}

func proportionPair(a, b []float64) (pa, pb []float64, ok bool) {
	if len(a) != len(b) || len(a) == 0 {
		return nil, nil, false
	}
	pa, ok = proportions(a)
	if !ok {
		return nil, nil, false
	}
	pb, ok = proportions(b)
	return pa, pb, ok
}

// proportions returns a copy of x scaled to sum to 1, or ok=false when a
// value is negative or not finite or the sum is 0.
func proportions(x []float64) ([]float64, bool) {
	var sum float64
	for _, v := range x {
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, false
		}
		sum += v
	}
	if sum <= 0 || math.IsInf(sum, 0) {
		return nil, false
	}
	p := make([]float64, len(x))
	for i, v := range x {
		p[i] = v / sum
	}
	return p, true
}
