package features

import (
	"math"
)

// span is one series rolled up as of an event time: the tiles of the window that are entirely at
// or before that time (the event's own tile only when it holds nothing later than the event).
type span struct {
	count  int64
	maxT   int64
	has    bool
	fields []fieldAcc // by entity field index
	used   []int      // indexes set in fields
}

type fieldAcc struct {
	set      bool
	n        int64
	mask     uint8
	sum      float64
	sumsq    float64
	min, max float64
	lastT    int64
	lastV    float64
	distinct union
}

// rollup fills w with series si of st as of event time t. Tiles older than the horizon's reach are
// skipped, so a too-late event sees exactly what the store still keeps.
func (st *entityState) rollup(p *plan, si int, t int64, w *span) {
	for _, i := range w.used {
		w.fields[i].set = false
	}
	w.count, w.maxT, w.has, w.used = 0, 0, false, w.used[:0]
	if len(w.fields) < len(st.fields) {
		w.fields = append(w.fields, make([]fieldAcc, len(st.fields)-len(w.fields))...)
	}
	s := &p.series[si]
	b := floorDiv(t, s.tile)
	lo := b - s.n + 1
	if h := st.horizon(p); h != minTime {
		lo = max(lo, floorDiv(h, s.tile)-s.n+1)
	}
	for i := range st.series[si] {
		tl := &st.series[si][i]
		if tl.bucket < lo || tl.bucket > b || tl.bucket == b && tl.maxT > t {
			continue
		}
		w.count += tl.count
		if !w.has || tl.maxT > w.maxT {
			w.maxT, w.has = tl.maxT, true
		}
		for j := range tl.fields {
			fs := &tl.fields[j]
			a := &w.fields[fs.idx]
			if !a.set {
				*a = fieldAcc{set: true, mask: 0xff, distinct: a.distinct}
				a.distinct.reset()
				w.used = append(w.used, fs.idx)
			}
			if fs.n > 0 {
				a.mask &= fs.mask
				if a.n == 0 {
					a.min, a.max, a.lastT, a.lastV = fs.min, fs.max, fs.lastT, fs.lastV
				} else {
					a.min, a.max = min(a.min, fs.min), max(a.max, fs.max)
					if fs.lastT >= a.lastT {
						a.lastT, a.lastV = fs.lastT, fs.lastV
					}
				}
				a.n += fs.n
				a.sum = saturate(a.sum + fs.sum)
				a.sumsq = saturate(a.sumsq + fs.sumsq)
			}
			a.distinct.merge(fs.distinct)
		}
	}
}

// value computes an aggregate of the rolled-up window for an event at t; NaN means absent.
func (w *span) value(function string, field int, t int64) float64 {
	switch function {
	case FuncCount:
		return float64(w.count)
	case FuncSincePrev:
		if !w.has {
			return math.NaN()
		}
		return float64(t-w.maxT) / 1000
	}
	var a *fieldAcc
	if field >= 0 && field < len(w.fields) && w.fields[field].set {
		a = &w.fields[field]
	}
	if a == nil || a.n == 0 && function != FuncDistinct {
		if function == FuncSum || function == FuncDistinct {
			return 0
		}
		return math.NaN()
	}
	if need := statsOf(function) &^ statDistinct; a.mask&need != need {
		return math.NaN() // some tile predates this aggregate: the config changed
	}
	switch function {
	case FuncSum:
		return a.sum
	case FuncMean:
		return a.sum / float64(a.n)
	case FuncMin:
		return a.min
	case FuncMax:
		return a.max
	case FuncLast:
		return a.lastV
	case FuncStddev:
		mean := a.sum / float64(a.n)
		return math.Sqrt(max(0, a.sumsq/float64(a.n)-mean*mean))
	case FuncDistinct:
		return a.distinct.count()
	}
	return math.NaN()
}
