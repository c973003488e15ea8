package features

import (
	"math"
	"sort"
)

// entityState is one entity's stored state: its event-time watermark, the tiles of partial aggregates
// of every series, the fields those tiles refer to and its redelivery marks.
type entityState struct {
	hasWM  bool
	wm     int64 // latest applied event time, ms
	floor  int64 // events before it are too late whatever the lateness (raised when marks are dropped early)
	marks  []markBucket
	fields []string
	series [][]tile // by plan series; tiles sorted by bucket
	arena  *arena   // where new tiles and marks take their memory
}

// markBucket holds an entity's marks of one bucket of event time, dropped together.
type markBucket struct {
	bucket int64
	marks  []storedMark
}

type tile struct {
	bucket int64
	count  int64
	maxT   int64
	fields []fieldStat
}

type fieldStat struct {
	idx      int
	mask     uint8
	n        int64 // numeric values
	sum      float64
	sumsq    float64
	min, max float64
	lastT    int64
	lastV    float64
	distinct *sketch
}

const minTime = math.MinInt64

// horizon is the oldest event time still applied: the watermark minus the lateness, or the floor.
func (st *entityState) horizon(p *plan) int64 {
	h := int64(minTime)
	if st.hasWM {
		h = st.wm - p.lateness
	}
	return max(h, st.floor)
}

// fieldIndex finds a field by name; an entity tracks a handful, so a scan beats a map.
func (st *entityState) fieldIndex(name string) (int, bool) {
	for i, f := range st.fields {
		if f == name {
			return i, true
		}
	}
	return -1, false
}

// value is one event field as the tiles see it.
type value struct {
	idx     int
	numeric bool
	x       float64
	hash    uint64
	hashed  bool
}

// trackedValues returns the event's fields that some series keeps statistics for, adding new ones
// to the entity's fields up to the plan's limit; dropped counts the fields left out for the limit.
func (st *entityState) trackedValues(p *plan, fields []fieldValue, buf []value) (vals []value, dropped int) {
	vals = buf[:0]
	for i := range fields {
		name, raw, x, numeric := fields[i].name, fields[i].raw, fields[i].x, fields[i].numeric
		explicit := p.tracked[name]
		if !explicit && !(numeric && p.hasStar) {
			continue
		}
		var need uint8
		for i := range p.series {
			need |= p.series[i].statsFor(name, numeric)
		}
		if need == 0 {
			continue
		}
		idx, ok := st.fieldIndex(name)
		if !ok {
			if !explicit && (len(st.fields) >= p.cfg.MaxTrackedFields+len(p.tracked) || len(name) > p.cfg.MaxCategoryBytes) {
				dropped++
				continue
			}
			idx = len(st.fields)
			st.fields = append(st.fields, name)
		}
		v := value{idx: idx, numeric: numeric, x: x}
		if need&statDistinct != 0 {
			if s, ok := distinctKey(raw); ok {
				v.hash, v.hashed = hash64(s), true
			}
		}
		vals = append(vals, v)
	}
	return vals, dropped
}

// apply adds an event at time t with the given tracked values to every series.
func (st *entityState) apply(p *plan, t int64, vals []value) {
	if !st.hasWM || t > st.wm {
		st.wm, st.hasWM = t, true
	}
	for si := range p.series {
		s := &p.series[si]
		tl := st.tileFor(si, floorDiv(t, s.tile), len(vals))
		tl.count++
		if tl.count == 1 || t > tl.maxT {
			tl.maxT = t
		}
		for _, v := range vals {
			if mask := s.statsFor(st.fields[v.idx], v.numeric); mask != 0 {
				tl.field(v.idx).add(mask, v, t)
			}
		}
	}
}

// tileFor returns the tile of bucket in series si, adding it (with room for fields) when new.
func (st *entityState) tileFor(si int, bucket int64, fields int) *tile {
	ts := st.series[si]
	i := sort.Search(len(ts), func(i int) bool { return ts[i].bucket >= bucket })
	if i < len(ts) && ts[i].bucket == bucket {
		return &ts[i]
	}
	ts = append(ts, tile{})
	copy(ts[i+1:], ts[i:])
	ts[i] = tile{bucket: bucket, fields: take(&st.arena.stats, 0, fields)}
	st.series[si] = ts
	return &ts[i]
}

func (tl *tile) field(idx int) *fieldStat {
	for i := range tl.fields {
		if tl.fields[i].idx == idx {
			return &tl.fields[i]
		}
	}
	tl.fields = append(tl.fields, fieldStat{idx: idx})
	return &tl.fields[len(tl.fields)-1]
}

func (fs *fieldStat) add(mask uint8, v value, t int64) {
	fs.mask |= mask
	if v.numeric {
		fs.n++
		fs.sum = saturate(fs.sum + v.x)
		fs.sumsq = saturate(fs.sumsq + v.x*v.x)
		if fs.n == 1 || v.x < fs.min {
			fs.min = v.x
		}
		if fs.n == 1 || v.x > fs.max {
			fs.max = v.x
		}
		if fs.n == 1 || t >= fs.lastT { // ties go to the later arrival
			fs.lastT, fs.lastV = t, v.x
		}
	}
	if mask&statDistinct != 0 && v.hashed {
		if fs.distinct == nil {
			fs.distinct = &sketch{}
		}
		fs.distinct.add(v.hash)
	}
}

// prune drops the tiles that no event at or after the horizon can reach.
func (st *entityState) prune(p *plan) {
	h := st.horizon(p)
	if h == minTime {
		return
	}
	for si := range p.series {
		s := &p.series[si]
		lo := floorDiv(h, s.tile) - s.n + 1
		ts := st.series[si]
		i := 0
		for i < len(ts) && ts[i].bucket < lo {
			i++
		}
		if i > 0 {
			st.series[si] = append(ts[:0], ts[i:]...)
		}
	}
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// numberOf returns a field value as a finite number, if it is one.
func numberOf(v any) (float64, bool) {
	var x float64
	switch n := v.(type) {
	case float64:
		x = n
	case float32:
		x = float64(n)
	case int:
		x = float64(n)
	case int64:
		x = float64(n)
	case int32:
		x = float64(n)
	default:
		return 0, false
	}
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0, false
	}
	return x, true
}

// distinctKey is the text a distinct count hashes for a value.
func distinctKey(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case bool:
		if x {
			return "true", true
		}
		return "false", true
	}
	if x, ok := numberOf(v); ok {
		return FormatFloat(x), true
	}
	return "", false
}
