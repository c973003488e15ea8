package learner

import (
	"math/bits"
	"slices"
)

// slotSet is a set of slots in 0..dim-1: a bitset, with a summary bitset of its non-empty words, so
// that adding a slot is a few instructions and listing the members in ascending order costs in
// proportion to the members (plus dim/4096 summary words), not to dim. Trainers keep in one the
// slots whose weights they ever wrote, a superset of the slots with a non-zero weight, so that a
// snapshot looks at those rows only.
type slotSet struct {
	words []uint64 // bit s%64 of words[s/64]: slot s is in the set
	sum   []uint64 // bit w%64 of sum[w/64]: words[w] is not zero
	n     int      // members
}

func newSlotSet(dim int) slotSet {
	nw := (dim + 63) / 64
	return slotSet{words: make([]uint64, nw), sum: make([]uint64, (nw+63)/64)}
}

// add puts slot, which must be below dim, in the set.
func (b *slotSet) add(slot uint32) {
	w := slot >> 6
	if bit := uint64(1) << (slot & 63); b.words[w]&bit == 0 {
		b.words[w] |= bit
		b.sum[w>>6] |= 1 << (w & 63)
		b.n++
	}
}

// appendTo appends the members to dst in ascending order.
func (b *slotSet) appendTo(dst []uint32) []uint32 {
	dst = slices.Grow(dst, b.n)
	for i, s := range b.sum {
		for s != 0 {
			w := i<<6 | bits.TrailingZeros64(s)
			s &= s - 1
			for x := b.words[w]; x != 0; x &= x - 1 {
				dst = append(dst, uint32(w<<6|bits.TrailingZeros64(x)))
			}
		}
	}
	return dst
}
