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

// ZStats holds the running statistics of every standardized feature, by feature name.
type ZStats map[string]ZStat

// Add records x for name.
func (z ZStats) Add(name string, x float64) {
	s := z[name]
	s.N++
	s.Sum += x
	s.SumSq += x * x
	z[name] = s
}
