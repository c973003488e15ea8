package drift

import "math/bits"

// reservoir is a uniform sample of at most cap values of a stream
// (Vitter's algorithm R). Its random source is a splitmix64 sequence with a
// fixed seed, so replaying the same values in the same order keeps the
// same sample.
type reservoir struct {
	vals []float64
	cap  int
	seen uint64
	rng  uint64
}

func newReservoir(capacity int) reservoir {
	return reservoir{cap: capacity, rng: 0x9e3779b97f4a7c15}
}

func (r *reservoir) add(x float64) {
	r.seen++
	if len(r.vals) < r.cap {
		r.vals = append(r.vals, x)
		return
	}
	if j, _ := bits.Mul64(r.next(), r.seen); j < uint64(r.cap) {
		r.vals[j] = x
	}
}

// complete reports whether the sample holds every value seen.
func (r *reservoir) complete() bool { return uint64(len(r.vals)) == r.seen }

func (r *reservoir) next() uint64 {
	r.rng += 0x9e3779b97f4a7c15
	z := r.rng
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}
