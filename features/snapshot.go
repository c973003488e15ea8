package features

import (
	"math"
	"time"
)

// Snapshot is an entity's aggregates as of a time: what GET /v1/features/{entity} shows.
type Snapshot struct {
	Entity string `json:"entity"`
	// At is the time the values are as of.
	At time.Time `json:"at"`
	// LatestEvent is the time of the entity's latest applied event.
	LatestEvent time.Time `json:"latest_event_time"`
	// Values holds every aggregate by feature name, before transforms; absent ones are left out.
	Values map[string]float64 `json:"features"`
}

// Snapshot returns the aggregates of an entity's stored state as of at (the zero time: as of its
// latest event); false when the entity has no applied events.
func (e *Engine) Snapshot(entity string, state []byte, at time.Time) (Snapshot, bool) {
	p := e.p
	sc := e.scratch()
	defer e.release(sc)
	st := e.decode(state, sc)
	if !st.hasWM {
		return Snapshot{}, false
	}
	t := st.wm
	if !at.IsZero() {
		t = at.UnixMilli()
	}
	snap := Snapshot{Entity: entity, At: time.UnixMilli(t).UTC(), LatestEvent: time.UnixMilli(st.wm).UTC(), Values: map[string]float64{}}
	w := sc.windows
	for si := range p.series {
		st.rollup(p, si, t, &w[si])
	}
	put := func(name string, x float64) {
		if !math.IsNaN(x) {
			snap.Values[name] = x
		}
	}
	for i := range p.aggs {
		a := &p.aggs[i]
		ws := &w[a.series]
		switch a.field {
		case "":
			put(a.name, ws.value(a.function, -1, t))
		case AllFields:
			for _, idx := range ws.used {
				if ws.fields[idx].n > 0 {
					put(a.nameFor(st.fields[idx]), ws.value(a.function, idx, t))
				}
			}
		default:
			idx, ok := st.fieldIndex(a.field)
			if !ok {
				idx = -1
			}
			put(a.name, ws.value(a.function, idx, t))
		}
	}
	return snap, true
}
