package learner

import (
	"strings"

	"github.com/cespare/xxhash/v2"
	"github.com/streamlearn/streamlearn/wire"
)

// Hashed is a feature vector after hashing: parallel slices, of equal lengths, of slot, raw value and
// whether the value is numeric (standardized when the spec asks) rather than a one-hot. A vector's own
// features come first, in order, then its crosses. Build one with Hasher.Hash, or fill it directly
// when features are hashed upstream; reuse it across calls to avoid allocations.
type Hashed struct {
	Slots   []uint32
	Values  []float64
	Numeric []bool

	keys  []uint64   // full 64-bit hash of each of the vector's features, for crosses
	pairs [][2]int32 // for each cross, the positions in the vector of its two sides
}

// Reset empties h, keeping its memory.
func (h *Hashed) Reset() {
	h.Slots, h.Values, h.Numeric = h.Slots[:0], h.Values[:0], h.Numeric[:0]
	h.keys, h.pairs = h.keys[:0], h.pairs[:0]
}

// Add appends one hashed feature.
func (h *Hashed) Add(slot uint32, value float64, numeric bool) {
	h.Slots = append(h.Slots, slot)
	h.Values = append(h.Values, value)
	h.Numeric = append(h.Numeric, numeric)
}

// Len is the number of hashed features.
func (h *Hashed) Len() int { return len(h.Slots) }

// Hasher maps feature names to slots: xxhash of the name modulo 2^bits, plus the spec's crosses.
type Hasher struct {
	mask    uint64
	crosses []cross
}

type cross struct{ a, b, aCat, bCat string }

// NewHasher returns the hasher of spec.
func NewHasher(spec Spec) *Hasher {
	h := &Hasher{mask: 1<<uint(spec.HashBits) - 1}
	for _, c := range spec.Crosses {
		h.crosses = append(h.crosses, cross{a: c[0], b: c[1], aCat: c[0] + "=", bCat: c[1] + "="})
	}
	return h
}

// Hash writes v's features and crosses into dst, replacing what it held.
func (h *Hasher) Hash(v wire.Vector, dst *Hashed) {
	dst.Reset()
	for _, f := range v {
		k := xxhash.Sum64String(f.Name)
		dst.keys = append(dst.keys, k)
		dst.Add(uint32(k&h.mask), f.Value, isNumeric(f.Name))
	}
	for _, c := range h.crosses {
		for i, fa := range v {
			if !c.matchA(fa.Name) {
				continue
			}
			for j, fb := range v {
				if j == i || !c.matchB(fb.Name) {
					continue
				}
				k := crossKey(dst.keys[i], dst.keys[j])
				dst.Add(uint32(k&h.mask), fa.Value*fb.Value, dst.Numeric[i] || dst.Numeric[j])
				dst.pairs = append(dst.pairs, [2]int32{int32(i), int32(j)})
			}
		}
	}
}

// isNumeric tells a numeric feature from a one-hot categorical, which features names "name=value".
func isNumeric(name string) bool { return strings.IndexByte(name, '=') < 0 }

func (c cross) matchA(name string) bool { return name == c.a || strings.HasPrefix(name, c.aCat) }
func (c cross) matchB(name string) bool { return name == c.b || strings.HasPrefix(name, c.bCat) }

// crossKey mixes two feature hashes, order-sensitive, with the splitmix64 finalizer.
func crossKey(a, b uint64) uint64 {
	x := a*0x9e3779b97f4a7c15 ^ b
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// featureName returns the name of the i-th hashed feature of v, as Hash laid them out.
func (h *Hashed) featureName(v wire.Vector, i int) string {
	if i < len(v) {
		return v[i].Name
	}
	p := h.pairs[i-len(v)]
	return v[p[0]].Name + "&" + v[p[1]].Name
}
