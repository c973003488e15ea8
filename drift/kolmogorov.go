package drift

import "math"

// KolmogorovSF returns P(D_n ≥ x) for the two-sided one-sample
// Kolmogorov-Smirnov statistic D_n, the value of scipy.stats.kstwo.sf(x, n).
// It follows scipy's algorithm choice (Simard & L'Ecuyer 2011): exact
// Ruben-Gambino cases, the Durbin matrix (Marsaglia-Tsang-Wang), the
// Pomeranz recursion, twice the one-sided Smirnov probability, and the
// Pelz-Good expansion for large n. It returns NaN for n < 1 or a NaN x.
func KolmogorovSF(n int, x float64) float64 {
	if n < 1 || math.IsNaN(x) {
		return math.NaN()
	}
	if x >= 1 {
		return 0
	}
	if x <= 0 {
		return 1
	}
	nf := float64(n)
	t := nf * x
	if t <= 1 {
		if t <= 0.5 {
			return 1
		}
		var cdf float64
		if n <= 140 {
			cdf = 1
			for i := 1; i <= n; i++ {
				cdf *= float64(i) * (1 / nf) * (2*t - 1)
			}
		} else {
			cdf = math.Exp(logFactorialOverPow(nf) + nf*math.Log(2*t-1))
		}
		return clamp01(1 - cdf)
	}
	if t >= nf-1 {
		return clamp01(2 * math.Pow(1-x, nf))
	}
	if x >= 0.5 {
		return clamp01(2 * smirnovSF(n, x))
	}
	nxx := t * x
	if n <= 140 {
		switch {
		case nxx <= 0.754693:
			return clamp01(1 - durbinCDF(n, x))
		case nxx <= 4:
			return clamp01(1 - pomeranzCDF(n, x))
		}
		return clamp01(2 * smirnovSF(n, x))
	}
	switch {
	case nxx >= 370:
		return 0
	case nxx >= 2.2:
		return clamp01(2 * smirnovSF(n, x))
	case n <= 100000 && nf*math.Pow(x, 1.5) <= 1.4:
		return clamp01(1 - durbinCDF(n, x))
	}
	return clamp01(1 - pelzGoodCDF(n, x))
}

var stirlingCoeffs = [...]float64{
	-2.955065359477124183e-2, 6.4102564102564102564e-3,
	-1.9175269175269175269e-3, 8.4175084175084175084e-4,
	-5.952380952380952381e-4, 7.9365079365079365079e-4,
	-2.7777777777777777778e-3, 8.3333333333333333333e-2,
}

// logFactorialOverPow is log(n!/n^n) by Stirling's series.
func logFactorialOverPow(n float64) float64 {
	rn := 1 / n
	var p float64
	for _, c := range stirlingCoeffs {
		p = p*(rn/n) + c
	}
	return math.Log(n)/2 - n + math.Log(2*math.Pi)/2 + rn*p
}

const (
	exp128  = 0x1p128
	expm128 = 0x1p-128
)

// durbinCDF is P(D_n ≤ d) from the k-th diagonal entry of H^n (Durbin
// 1968, Marsaglia, Tsang and Wang 2003), rescaled as it goes because the
// entries span far more than float64's exponent range.
func durbinCDF(n int, d float64) float64 {
	if d >= 1 {
		return 1
	}
	nd := float64(n) * d
	if nd <= 0.5 {
		return 0
	}
	k := int(math.Ceil(nd))
	h := float64(k) - nd
	m := 2*k - 1
	v := make([]float64, m)
	w := make([]float64, m)
	fac := 1.0
	for j := 1; j <= m; j++ {
		w[j-1] = fac
		fac /= float64(j)
		v[j-1] = (1 - math.Pow(h, float64(j))) * fac
	}
	tt := math.Pow(math.Max(2*h-1, 0), float64(m)) - 2*math.Pow(h, float64(m))
	v[m-1] = (1 + tt) * fac
	H := newMatrix(m)
	for i := 1; i < m; i++ {
		for r := i - 1; r < m; r++ {
			H.set(r, i, w[r-(i-1)])
		}
	}
	for r := 0; r < m; r++ {
		H.set(r, 0, v[r])
	}
	for c := 0; c < m; c++ {
		H.set(m-1, c, v[m-1-c])
	}
	pw := identity(m)
	expnt, hExpnt := 0, 0
	for nn := n; nn > 0; nn /= 2 {
		if nn%2 == 1 {
			pw = pw.mul(H)
			expnt += hExpnt
		}
		H = H.mul(H)
		hExpnt *= 2
		if math.Abs(H.at(k-1, k-1)) > exp128 {
			H.scale(expm128)
			hExpnt += 128
		}
	}
	p := pw.at(k-1, k-1)
	for i := 1; i <= n; i++ {
		p = float64(i) * p / float64(n)
		if math.Abs(p) < expm128 {
			p *= exp128
			expnt -= 128
		}
	}
	return clamp01(math.Ldexp(p, expnt))
}

type matrix struct {
	n int
	a []float64
}

func newMatrix(n int) matrix { return matrix{n, make([]float64, n*n)} }

func identity(n int) matrix {
	m := newMatrix(n)
	for i := 0; i < n; i++ {
		m.set(i, i, 1)
	}
	return m
}

func (m matrix) at(r, c int) float64     { return m.a[r*m.n+c] }
func (m matrix) set(r, c int, v float64) { m.a[r*m.n+c] = v }

func (m matrix) scale(f float64) {
	for i := range m.a {
		m.a[i] *= f
	}
}

func (m matrix) mul(o matrix) matrix {
	out := newMatrix(m.n)
	for r := 0; r < m.n; r++ {
		row := out.a[r*m.n : (r+1)*m.n]
		for k := 0; k < m.n; k++ {
			f := m.a[r*m.n+k]
			if f == 0 {
				continue
			}
			ok := o.a[k*m.n : (k+1)*m.n]
			for c := range row {
				row[c] += f * ok[c]
			}
		}
	}
	return out
}

// pomeranzCDF is P(D_n ≤ x) by Pomeranz's recursion (1974), a port of
// scipy's _kolmogn_Pomeranz.
func pomeranzCDF(n int, x float64) float64 {
	nf := float64(n)
	t := nf * x
	ll := int(math.Floor(t))
	f := t - float64(ll)
	g := math.Min(f, 1-f)
	ceilf, roundf := 0, 0
	if f > 0 {
		ceilf = 1
	}
	if f > 0.5 {
		roundf = 1
	}
	npwrs := 2 * (ll + 1)
	gpower := make([]float64, npwrs)
	twogpower := make([]float64, npwrs)
	onem2gpower := make([]float64, npwrs)
	gpower[0], twogpower[0], onem2gpower[0] = 1, 1, 1
	for m := 1; m < npwrs; m++ {
		gpower[m] = gpower[m-1] * (g / nf) / float64(m)
		twogpower[m] = twogpower[m-1] * (2 * g / nf) / float64(m)
		onem2gpower[m] = onem2gpower[m-1] * ((1 - 2*g) / nf) / float64(m)
	}
	v0 := make([]float64, npwrs)
	v1 := make([]float64, npwrs)
	v1[0] = 1
	v0s, v1s := 0, 0
	expnt := 0
	j1, j2 := pomeranzJ1J2(0, n, ll, ceilf, roundf)
	for i := 1; i < 2*n+2; i++ {
		k1 := j1
		v0, v1 = v1, v0
		v0s, v1s = v1s, v0s
		clear(v1)
		j1, j2 = pomeranzJ1J2(i, n, ll, ceilf, roundf)
		pwrs := onem2gpower
		switch {
		case i == 1 || i == 2*n+1:
			pwrs = gpower
		case i%2 == 1:
			pwrs = twogpower
		}
		ln2 := j2 - k1 + 1
		if ln2 <= 0 {
			continue
		}
		lo := k1 - v0s
		a := v0[lo:min(lo+ln2, len(v0))]
		b := pwrs[:min(ln2, len(pwrs))]
		start, length := j1-k1, j2-j1+1
		var mx float64
		for c := 0; c < length; c++ {
			idx := start + c // index into the full convolution of a and b
			var s float64
			for ia := max(0, idx-len(b)+1); ia <= min(idx, len(a)-1); ia++ {
				s += a[ia] * b[idx-ia]
			}
			v1[c] = s
			mx = math.Max(mx, s)
		}
		if 0 < mx && mx < expm128 {
			for c := range v1 {
				v1[c] *= exp128
			}
			expnt -= 128
		}
		v1s = v0s + j1 - k1
	}
	ans := v1[n-v1s]
	for m := 1; m <= n; m++ {
		if math.Abs(ans) > exp128 {
			ans *= expm128
			expnt += 128
		}
		ans *= float64(m)
	}
	return clamp01(math.Ldexp(ans, expnt))
}

func pomeranzJ1J2(i, n, ll, ceilf, roundf int) (int, int) {
	var j1, j2 int
	if i == 0 {
		j1, j2 = -ll-ceilf-1, ll+ceilf-1
	} else {
		half, odd := (i+1)/2, (i+1)%2 == 0
		switch {
		case odd && half == n+1:
			j1, j2 = n-ll-ceilf-1, n+ll+ceilf-1
		case odd:
			j1, j2 = half-1-ll-roundf-1, half+ll-1+ceilf-1
		default:
			j1, j2 = half-1-ll-1, half+ll+roundf-1
		}
	}
	return max(j1+2, 0), min(j2, n)
}

// pelzGoodCDF is the Pelz-Good (1976) approximation of P(D_n ≤ x).
func pelzGoodCDF(n int, x float64) float64 {
	if x <= 0 {
		return 0
	}
	if x >= 1 {
		return 1
	}
	const (
		pi2 = math.Pi * math.Pi
		pi4 = pi2 * pi2
		pi6 = pi4 * pi2
	)
	sqrt2pi := math.Sqrt(2 * math.Pi)
	z := math.Sqrt(float64(n)) * x
	z2, z3, z4, z6 := z*z, z*z*z, z*z*z*z, math.Pow(z, 6)
	qlog := -pi2 / 8 / z2
	if qlog < -708 {
		return 0
	}
	q := math.Exp(qlog)
	k1a, k1b := -z2, pi2/4
	k2a := 6*z6 + 2*z4
	k2b := (2*z4 - 5*z2) * pi2 / 4
	k2c := pi4 * (1 - 2*z2) / 16
	k3d := pi6 * (5 - 30*z2) / 64
	k3c := pi4 * (-60*z2 + 212*z4) / 16
	k3b := pi2 * (135*z4 - 96*z6) / 4
	k3a := -30*z6 - 90*math.Pow(z, 8)
	var K [4]float64
	maxk := int(math.Ceil(16 * z / math.Pi))
	for k := maxk; k > 0; k-- {
		m := float64(2*k - 1)
		m2 := m * m
		m4, m6 := m2*m2, m2*m2*m2
		qp := math.Pow(q, float64(8*k))
		coeffs := [4]float64{1, k1a + k1b*m2, k2a + k2b*m2 + k2c*m4, k3a + k3b*m2 + k3c*m4 + k3d*m6}
		for i := range K {
			K[i] = K[i]*qp + coeffs[i]
		}
	}
	div := [4]float64{z, 6 * z4, 72 * math.Pow(z, 7), 6480 * math.Pow(z, 10)}
	for i := range K {
		K[i] = K[i] * q * sqrt2pi / div[i]
	}
	q = math.Exp(-pi2 / 2 / z2)
	var k2extra, k3extra float64
	sqrt3z := math.Sqrt(3) * z
	for k := maxk; k > 0; k-- {
		kf := float64(k)
		qk := math.Pow(q, kf*kf)
		k2extra += kf * kf * qk
		kspi := math.Pi * kf
		k3extra += (sqrt3z + kspi) * (sqrt3z - kspi) * kf * kf * qk
	}
	K[2] += k2extra * pi2 * sqrt2pi / (-36 * z3)
	K[3] += k3extra * pi2 * sqrt2pi / (216 * z6)
	var sum float64
	for i := range K {
		sum += K[i] / math.Pow(float64(n), float64(i)/2)
	}
	return sum
}

// smirnovSF is P(D⁺_n ≥ x) for the one-sided statistic (scipy.special's
// smirnov), by the Birnbaum-Tingey sum
//
//	x · Σ_{v=0}^{⌊n(1−x)⌋} C(n,v) (x + v/n)^(v−1) (1 − x − v/n)^(n−v)
//
// whose terms are all positive, evaluated in log space and stopped once
// the remaining terms cannot change the sum.
func smirnovSF(n int, x float64) float64 {
	switch {
	case n < 1 || math.IsNaN(x) || x < 0 || x > 1:
		return math.NaN()
	case n == 1:
		return x
	case x == 0:
		return 1
	case x == 1:
		return 0
	}
	nf := float64(n)
	nx := nf * x
	if nx <= 1 {
		return clamp01(1 - x*math.Pow(1+x, nf-1))
	}
	if -2*nf*x*x < -708.3964185322641 {
		return 0
	}
	if nx >= nf-1 {
		return math.Pow(1-x, nf)
	}
	if n > 1000000 {
		return math.Exp(-math.Pow(6*nx+1, 2) / 18 / nf)
	}
	last := int(math.Floor(nf * (1 - x)))
	if float64(last) == nf*(1-x) {
		last-- // the term for v = n(1−x) is 0
	}
	var sum, logC float64
	logX := math.Log(x)
	for v := 0; v <= last; v++ {
		vf := float64(v)
		if v > 0 {
			logC += math.Log((nf - vf + 1) / vf)
		}
		lt := logC + (vf-1)*math.Log(x+vf/nf) + (nf-vf)*math.Log1p(-(x+vf/nf)) + logX
		term := math.Exp(lt)
		sum += term
		if v > 0 && 4*float64(last-v+1)*term < 0x1p-52*sum {
			break
		}
	}
	return clamp01(sum)
}
