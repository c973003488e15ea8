package drift

import "math"

// bottomK is a uniform sample of at most cap items of a stream, taken by
// priority (bottom-k sampling): every item comes with a pseudo-random
// priority and the sample is the cap items of smallest priority. When the
// priority is a hash of the observation's id (hashID), the sample depends
// on the set of observations only, not on their order, so a replay that
// interleaves Kafka partitions differently keeps the same sample.
//
// Items are appended and trimmed back to cap whenever 2·cap are held, so it
// holds at most 2·cap items; once trimmed, priorities above the cap-th
// smallest are rejected at once, which makes most adds a comparison.
type bottomK[T any] struct {
	items  []prioritized[T]
	cap    int
	cutoff uint64 // priorities ≥ cutoff can no longer enter the sample
	seen   uint64
}

type prioritized[T any] struct {
	pri uint64
	v   T
}

func newBottomK[T any](capacity int) bottomK[T] {
	return bottomK[T]{cap: max(capacity, 1), cutoff: math.MaxUint64}
}

func (b *bottomK[T]) add(v T, pri uint64) {
	b.seen++
	if pri >= b.cutoff {
		return
	}
	b.items = append(b.items, prioritized[T]{pri, v})
	if len(b.items) >= 2*b.cap {
		b.trim()
	}
}

// trim keeps the cap items of smallest priority.
func (b *bottomK[T]) trim() {
	if len(b.items) <= b.cap {
		return
	}
	selectSmallest(b.items, b.cap)
	b.cutoff = 0
	for _, it := range b.items[:b.cap] {
		b.cutoff = max(b.cutoff, it.pri)
	}
	clear(b.items[b.cap:])
	b.items = b.items[:b.cap]
}

// selectSmallest reorders items so that the k of smallest priority come
// first, in no particular order (quickselect; priorities are hashes, so a
// middle pivot is as good as a random one).
func selectSmallest[T any](items []prioritized[T], k int) {
	lo, hi := 0, len(items)-1
	for lo < hi {
		pivot := items[lo+(hi-lo)/2].pri
		i, j := lo, hi
		for i <= j {
			for items[i].pri < pivot {
				i++
			}
			for items[j].pri > pivot {
				j--
			}
			if i <= j {
				items[i], items[j] = items[j], items[i]
				i++
				j--
			}
		}
		switch {
		case k-1 <= j:
			hi = j
		case k-1 >= i:
			lo = i
		default:
			return
		}
	}
}

// complete reports whether the sample holds every item seen.
func (b *bottomK[T]) complete() bool { return uint64(len(b.items)) == b.seen }

// sample is the value sample of a numeric feature in one window.
type sample struct{ bottomK[float64] }

func newSample(capacity int) sample { return sample{newBottomK[float64](capacity)} }

// values returns the sampled values, in no particular order.
func (s *sample) values() []float64 {
	s.trim()
	out := make([]float64, len(s.items))
	for i, it := range s.items {
		out[i] = it.v
	}
	return out
}

// hashID returns the sampling priority of an observation id: FNV-1a,
// finished with the splitmix64 mixer so that similar ids spread evenly.
func hashID(id string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(id); i++ {
		h ^= uint64(id[i])
		h *= 1099511628211
	}
	return mix64(h)
}

// mix64 is the splitmix64 finalizer.
func mix64(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}
