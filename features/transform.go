package features

import (
	"math"
	"strconv"
)

// chain is a compiled transform chain.
type chain []Transform

func compileChain(ts []Transform) chain { return chain(ts) }

func (c chain) standardizes() bool {
	for _, t := range c {
		if t.Kind == TransformStandardize {
			return true
		}
	}
	return false
}

// zParams are the mean and standard deviation a standardize step used.
type zParams struct{ mean, std float64 }

// apply runs the chain of feature name on x; z supplies the parameters of its standardize steps and
// observes the values they see. It returns the number, or the category (bucket index) when the chain
// ends in bucketize, and false when x must be left out (not finite).
func (c chain) apply(name string, x float64, z *zsource) (v float64, bucket string, ok bool) {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0, "", false
	}
	for _, t := range c {
		switch t.Kind {
		case TransformLog:
			x = math.Copysign(math.Log1p(math.Abs(x)), x)
		case TransformClip:
			if t.Min != nil && x < *t.Min {
				x = *t.Min
			}
			if t.Max != nil && x > *t.Max {
				x = *t.Max
			}
		case TransformStandardize:
			z.observe(name, x)
			p := z.next(name)
			if p.std > 0 && !math.IsInf(p.std, 0) && !math.IsNaN(p.mean) {
				x = (x - p.mean) / p.std
			} else {
				x = 0
			}
		case TransformBucketize:
			i := 0
			for i < len(t.Boundaries) && t.Boundaries[i] <= x {
				i++
			}
			return 0, strconv.Itoa(i), true
		}
	}
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0, "", false
	}
	return x, "", true
}

// ZStat is the running count, sum and sum of squares behind a standardize transform.
type ZStat struct{ N, Sum, SumSq float64 }

// params returns the mean and population standard deviation of s.
func (s ZStat) params() zParams {
	if s.N < 1 {
		return zParams{}
	}
	mean := s.Sum / s.N
	v := s.SumSq/s.N - mean*mean
	if v < 0 || math.IsNaN(v) {
		v = 0
	}
	return zParams{mean: mean, std: math.Sqrt(v)}
}

// Bounds on what standardize statistics count, so that one outlier can neither overflow them (Redis
// refuses an infinite HINCRBYFLOAT, failing every retry of the batch) nor switch a feature off for
// good (a standard deviation so large that every ordinary value standardizes alike).
const (
	// maxZValue bounds a value folded into the statistics: sums of squares of it stay finite.
	maxZValue = 1e100
	// zClipSD bounds a value folded into the statistics to that many standard deviations of the mean.
	zClipSD = 8
)

// bound returns x as the statistics count it: within ±1e100 and, once there is a mean, within 8
// standard deviations of it (until values have shown spread, 8 times the larger of |mean| and 1).
// Bounded values still widen the spread, so a real change of scale is followed.
func (s ZStat) bound(x float64) float64 {
	x = min(max(x, -maxZValue), maxZValue)
	if s.N < 1 {
		return x
	}
	p := s.params()
	r := zClipSD * p.std
	if !(r > 0) || math.IsInf(r, 0) {
		r = zClipSD * max(math.Abs(p.mean), 1)
	}
	if math.IsNaN(p.mean) || math.IsInf(p.mean, 0) || math.IsInf(r, 0) {
		return x
	}
	return min(max(x, p.mean-r), p.mean+r)
}

// ZStats holds the running statistics of every standardized feature, by feature name.
type ZStats map[string]ZStat

// Add records x, within ±1e100, for name.
func (z ZStats) Add(name string, x float64) {
	x = min(max(x, -maxZValue), maxZValue)
	s := z[name]
	s.N++
	s.Sum += x
	s.SumSq += x * x
	z[name] = s
}
