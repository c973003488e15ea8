package features

import "sync"

// arena holds the memory of decoded entity states for the length of one engine call, so that
// decoding allocates nothing once warm. Slices handed out have no spare capacity: growing one copies
// it out of the arena instead of overwriting a neighbour.
type arena struct {
	tiles  []tile
	stats  []fieldStat
	marks  []markBucket
	smarks []storedMark
	names  []string
	bytes  []byte
	states []entityState
}

func (a *arena) reset() {
	clear(a.tiles)
	clear(a.stats)
	clear(a.marks)
	clear(a.smarks)
	clear(a.names)
	a.tiles, a.stats, a.marks, a.smarks, a.names = a.tiles[:0], a.stats[:0], a.marks[:0], a.smarks[:0], a.names[:0]
	a.bytes = a.bytes[:0]
	a.states = a.states[:0]
}

// take hands out n elements with room for extra more, which the usual update needs (a tile, a
// field, a mark), so that it costs no allocation either.
func take[T any](pool *[]T, n, extra int) []T {
	s := *pool
	if len(s)+n+extra > cap(s) {
		// A new block: earlier slices keep the old one.
		s = make([]T, 0, max(2*cap(s), n+extra, 64))
	}
	s = s[:len(s)+n+extra]
	*pool = s
	return s[len(s)-n-extra : len(s)-extra : len(s)]
}

func (a *arena) state(p *plan) *entityState {
	if len(a.states) == cap(a.states) {
		a.states = make([]entityState, 0, max(2*cap(a.states), 4))
	}
	a.states = a.states[:len(a.states)+1]
	st := &a.states[len(a.states)-1]
	series := st.series[:0]
	*st = entityState{floor: minTime, series: series, arena: a}
	for range p.series {
		st.series = append(st.series, nil)
	}
	return st
}

// interner shares the strings of field names across decoded states.
type interner struct {
	mu sync.RWMutex
	m  map[string]string
}

const maxInterned = 4096

func (in *interner) get(b []byte) string {
	in.mu.RLock()
	s, ok := in.m[string(b)]
	in.mu.RUnlock()
	if ok {
		return s
	}
	s = string(b)
	in.mu.Lock()
	if in.m == nil {
		in.m = map[string]string{}
	}
	if len(in.m) < maxInterned {
		in.m[s] = s
	}
	in.mu.Unlock()
	return s
}
