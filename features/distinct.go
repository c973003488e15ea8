package features

import (
	"math"
	"math/bits"
)

// Distinct counts keep, per tile, the exact set of value hashes up to exactLimit values and a
// HyperLogLog sketch (2^hllP one-byte registers, about 3% standard error) past that. A roll-up is
// exact while every tile in it is exact.
const (
	exactLimit = 32
	hllP       = 10
	hllM       = 1 << hllP
)

type sketch struct {
	exact []uint64 // nil once regs is set
	regs  []uint8
}

func (s *sketch) add(h uint64) {
	if s.regs != nil {
		hllAdd(s.regs, h)
		return
	}
	for _, x := range s.exact {
		if x == h {
			return
		}
	}
	if len(s.exact) < exactLimit {
		s.exact = append(s.exact, h)
		return
	}
	s.regs = make([]uint8, hllM)
	for _, x := range s.exact {
		hllAdd(s.regs, x)
	}
	hllAdd(s.regs, h)
	s.exact = nil
}

func hllAdd(regs []uint8, h uint64) {
	i := h >> (64 - hllP)
	rank := uint8(bits.LeadingZeros64(h<<hllP|1<<(hllP-1)) + 1)
	if rank > regs[i] {
		regs[i] = rank
	}
}

// union accumulates the distinct values of several sketches.
type union struct {
	set  map[uint64]struct{}
	regs []uint8
}

func (u *union) reset() {
	clear(u.set)
	u.regs = u.regs[:0]
}

func (u *union) merge(s *sketch) {
	if s == nil {
		return
	}
	if s.regs != nil {
		if len(u.regs) == 0 {
			u.regs = append(u.regs[:0], make([]uint8, hllM)...)
		}
		for i, r := range s.regs {
			u.regs[i] = max(u.regs[i], r)
		}
		return
	}
	if u.set == nil {
		u.set = make(map[uint64]struct{}, len(s.exact))
	}
	for _, h := range s.exact {
		u.set[h] = struct{}{}
	}
}

func (u *union) count() float64 {
	if len(u.regs) == 0 {
		return float64(len(u.set))
	}
	regs := u.regs
	for h := range u.set {
		hllAdd(regs, h)
	}
	return hllEstimate(regs)
}

func hllEstimate(regs []uint8) float64 {
	m := float64(len(regs))
	sum, zeros := 0.0, 0
	for _, r := range regs {
		sum += math.Ldexp(1, -int(r))
		if r == 0 {
			zeros++
		}
	}
	est := 0.7213 / (1 + 1.079/m) * m * m / sum
	if est <= 2.5*m && zeros > 0 {
		est = m * math.Log(m/float64(zeros)) // linear counting for small cardinalities
	}
	return math.Round(est)
}

// hash64 is FNV-1a with a final mix, stable across processes (sketches are stored).
func hash64(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}
