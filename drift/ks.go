package drift

import (
	"math"
)

// KSMethod selects how KSWithMethod computes the p-value.
type KSMethod int

const (
	// KSAuto is exact when both samples hold at most 10000 values and
	// asymptotic otherwise, like scipy's method="auto".
	KSAuto KSMethod = iota
	// KSExact counts lattice paths (Hodges; Viehmann's 1−p recursion), like
	// scipy's method="exact". It falls back to KSAsymp when lcm(n, m) does
	// not fit in an int32 or the computation leaves [0, 1], as scipy does.
	KSExact
	// KSAsymp uses the distribution of the one-sample statistic for
	// n = round(n·m/(n+m)), like scipy's method="asymp".
	KSAsymp
)

// ksAutoMaxN is scipy's MAX_AUTO_N.
const ksAutoMaxN = 10000

// KS returns the two-sided two-sample Kolmogorov-Smirnov statistic
// sup|F_a − F_b| and its p-value; it equals
// scipy.stats.ks_2samp(a, b, alternative="two-sided", method="auto").
// Ties are handled like scipy (ECDFs evaluated with side="right"). It
// returns NaN, NaN when a sample is empty or holds NaN.
func KS(a, b []float64) (stat, pvalue float64) {
	return KSWithMethod(a, b, KSAuto)
}

// KSWithMethod is KS with a chosen p-value method.
func KSWithMethod(a, b []float64, method KSMethod) (stat, pvalue float64) {
	sa, ok := sortedCopy(a)
	if !ok {
		return math.NaN(), math.NaN()
	}
	sb, ok := sortedCopy(b)
	if !ok {
		return math.NaN(), math.NaN()
	}
	return ksSorted(sa, sb, method)
}

func ksSorted(a, b []float64, method KSMethod) (stat, pvalue float64) {
	d := ksStatistic(a, b)
	n1, n2 := len(a), len(b)
	if method == KSAuto {
		method = KSAsymp
		if max(n1, n2) <= ksAutoMaxN {
			method = KSExact
		}
	}
	g := gcd(n1, n2)
	if method == KSExact && int64(n1/g) >= math.MaxInt32/int64(n2/g) {
		method = KSAsymp
	}
	if method == KSExact {
		if dd, p, ok := ksExact(n1, n2, g, d); ok {
			return dd, p
		}
	}
	m, n := float64(max(n1, n2)), float64(min(n1, n2))
	en := math.RoundToEven(m * n / (m + n))
	return d, clamp01(KolmogorovSF(int(en), d))
}

// ksStatistic evaluates both ECDFs just after every distinct value.
func ksStatistic(a, b []float64) float64 {
	n1, n2 := float64(len(a)), float64(len(b))
	var i, j int
	var d float64
	for i < len(a) || j < len(b) {
		var x float64
		switch {
		case j == len(b) || (i < len(a) && a[i] <= b[j]):
			x = a[i]
		default:
			x = b[j]
		}
		for i < len(a) && a[i] == x {
			i++
		}
		for j < len(b) && b[j] == x {
			j++
		}
		d = math.Max(d, math.Abs(float64(i)/n1-float64(j)/n2))
	}
	return d
}

// ksExact is scipy's _attempt_exact_2kssamp for the two-sided test. It
// snaps d to the lattice h/lcm before computing the probability.
func ksExact(n1, n2, g int, d float64) (dd, p float64, ok bool) {
	lcm := float64(n1/g) * float64(n2)
	h := int(math.RoundToEven(d * lcm))
	dd = float64(h) / lcm
	if h == 0 {
		return dd, 1, true
	}
	if n1 == n2 {
		p = probOutsideSquare(n1, h)
	} else {
		p = outerProbInside(n1, n2, g, h)
	}
	if !(p >= 0 && p <= 1) || math.IsInf(p, 0) {
		return dd, math.NaN(), false
	}
	return dd, p, true
}

// probOutsideSquare is P(D_{n,n} ≥ h/n) by a Horner-like alternating sum,
// scipy's _compute_prob_outside_square.
func probOutsideSquare(n, h int) float64 {
	var p float64
	for k := n / h; k >= 0; k-- {
		p1 := 1.0
		for j := 0; j < h; j++ {
			p1 = float64(n-k*h-j) * p1 / float64(n+k*h+j+1)
		}
		p = p1 * (1 - p)
	}
	return 2 * p
}

// outerProbInside is the proportion of lattice paths from (0,0) to (m,n)
// that leave the band |x/m − y/n| < h/lcm(m,n), computed with Viehmann's
// recursion for 1−p over a sliding window of one column (scipy's
// _compute_outer_prob_inside_method).
func outerProbInside(m, n, g, h int) float64 {
	if m < n {
		m, n = n, m
	}
	mg, ng := m/g, n/g
	minj, maxj := 0, min(ceilDiv(h, mg), n+1)
	curlen := maxj - minj
	lenA := min(2*maxj+2, n+1)
	a := make([]float64, lenA)
	for i := range a {
		a[i] = 1
	}
	for i := minj; i < maxj; i++ {
		a[i] = 0
	}
	for i := 1; i <= m; i++ {
		lastminj, lastlen := minj, curlen
		minj = min(max(floorDiv(ng*i-h, mg)+1, 0), n)
		maxj = min(ceilDiv(ng*i+h, mg), n+1)
		if maxj <= minj {
			return 1
		}
		val := 1.0
		if minj == 0 {
			val = 0
		}
		for jj := 0; jj < maxj-minj; jj++ {
			j := jj + minj
			val = (a[jj+minj-lastminj]*float64(i) + val*float64(j)) / float64(i+j)
			a[jj] = val
		}
		curlen = maxj - minj
		for k := curlen; k < curlen+(lastlen-curlen) && k < len(a); k++ {
			a[k] = 1
		}
	}
	return a[maxj-minj-1]
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func floorDiv(a, b int) int {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func ceilDiv(a, b int) int { return -floorDiv(-a, b) }

func clamp01(p float64) float64 { return math.Min(math.Max(p, 0), 1) }
