package features

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/streamlearn/streamlearn/wire"
)

// Engine computes feature vectors from per-entity state. It owns every rule of the feature store
// (windows, lateness, redelivery, the stored format) and does no I/O: a storage adapter such as
// features/featurestore reads an entity's state (one opaque value), calls ApplyEntity or LookupEntity with
// the entity's events, and writes the Update back atomically. An Engine is safe for concurrent use.
type Engine struct {
	p    *plan
	opt  EngineOptions
	pool sync.Pool

	applied, duplicates, late, corrupt, dropped atomic.Uint64
}

// EngineOptions tune an Engine; the zero value is usable.
type EngineOptions struct {
	// OnLate, when set, is called for every event too late to be applied, with how far it lies
	// behind its entity's horizon.
	OnLate func(ev wire.Event, behind time.Duration)
	// Header is the number of bytes left free at the start of Update.State for the adapter's own
	// use (a version, say), so that it need not copy the state to prepend them. A state passed back
	// to the Engine starts after them.
	Header int
}

// NewEngine validates cfg and compiles it.
func NewEngine(cfg Config, opt EngineOptions) (*Engine, error) {
	p, err := compile(cfg)
	if err != nil {
		return nil, err
	}
	return &Engine{p: p, opt: opt}, nil
}

// TTL is how long an idle entity's state is worth keeping: the longest window plus the lateness.
func (e *Engine) TTL() time.Duration { return e.p.longest + e.p.cfg.AllowedLateness }

// Standardizes reports whether some feature is standardized, i.e. whether ZStats are needed.
func (e *Engine) Standardizes() bool { return e.p.standardized }

// Stateful reports whether the config has aggregates, i.e. whether entity state is needed at all.
func (e *Engine) Stateful() bool { return len(e.p.aggs) > 0 }

// Update is what ApplyEntity did to an entity: when Changed, State must be written back atomically,
// and only if the entity has not changed since it was read.
type Update struct {
	Changed bool
	State   []byte

	// What the call did, for Commit to count.
	applied, duplicates, dropped uint64
	late                         []lateEvent
}

type scratch struct {
	arena    arena
	view     view
	aggs     []float64
	windows  []span
	computed []bool
	vals     []value
}

func (e *Engine) scratch() *scratch {
	if s, ok := e.pool.Get().(*scratch); ok {
		return s
	}
	return &scratch{windows: make([]span, len(e.p.series)), computed: make([]bool, len(e.p.series))}
}

func (e *Engine) release(s *scratch) {
	s.arena.reset()
	e.pool.Put(s)
}

func (e *Engine) decode(b []byte, sc *scratch) *entityState {
	st, err := decodeState(e.p, b, &sc.arena)
	if err != nil {
		e.corrupt.Add(1)
		return sc.arena.state(e.p)
	}
	return st
}

// ApplyEntity applies one entity's events, in order, to its stored state (nil for a new entity)
// and sets out[i] to the vector of evs[i] as of just before it. Each event is, in this order:
// answered from its mark if it was applied before and is not too late; scored but not applied if it
// lies before the entity's horizon (its latest event time minus the allowed lateness); otherwise
// scored and applied. z holds the shared standardize statistics; obs receives the contributions of
// applied events (both may be nil without standardize).
func (e *Engine) ApplyEntity(state []byte, evs []wire.Event, z, obs ZStats, out []wire.Vector) Update {
	p := e.p
	sc := e.scratch()
	defer e.release(sc)
	st := e.decode(state, sc)
	var upd Update
	for i, ev := range evs {
		t := ev.Time.UnixMilli()
		h := st.horizon(p)
		tooLate := t < h
		vw := &sc.view
		p.read(ev, vw)
		if raw, found := st.findMark(hash64(ev.ID)); found {
			m, err := decodeMark(raw)
			if err != nil || m.t >= h {
				upd.duplicates++
				if err == nil && m.fingerprint == p.fingerprint && e.replay(vw, &m, out, i) {
					continue
				}
				// The mark predates a config change: serve the current state; never apply twice.
				out[i], _ = e.compute(st, vw, t, &zsource{live: z}, sc)
				continue
			}
			tooLate = true // applied once, long enough ago that its mark is due to go with its lateness
		}
		if tooLate {
			upd.late = append(upd.late, lateEvent{ev: ev, behind: time.Duration(h-t) * time.Millisecond})
			out[i], _ = e.compute(st, vw, t, &zsource{live: z}, sc)
			continue
		}
		zs := zsource{live: z, obs: obs}
		v, in := e.compute(st, vw, t, &zs, sc)
		out[i] = v
		in.z = zs.rec
		vals, dropped := st.trackedValues(p, vw.fields, sc.vals)
		sc.vals = vals
		upd.dropped += uint64(dropped)
		st.apply(p, t, vals)
		st.addMark(floorDiv(t, p.markBucket), hash64(ev.ID), encodeMark(p.fingerprint, t, &in, &sc.arena))
		upd.applied++
		upd.Changed = true
	}
	if upd.Changed {
		st.dropMarks(p)
		st.prune(p)
		upd.State = encodeState(p, st, e.opt.Header, len(state)+256)
	}
	return upd
}

// LookupEntity sets out[i] to the vector of evs[i] at its time without changing anything: from its
// mark when the event was applied already, otherwise from the entity's stored state.
func (e *Engine) LookupEntity(state []byte, evs []wire.Event, z ZStats, out []wire.Vector) {
	sc := e.scratch()
	defer e.release(sc)
	st := e.decode(state, sc)
	for i, ev := range evs {
		t := ev.Time.UnixMilli()
		vw := &sc.view
		e.p.read(ev, vw)
		if raw, ok := st.findMark(hash64(ev.ID)); ok {
			if m, err := decodeMark(raw); err == nil && m.t >= st.horizon(e.p) && m.fingerprint == e.p.fingerprint && e.replay(vw, &m, out, i) {
				continue
			}
		}
		out[i], _ = e.compute(st, vw, t, &zsource{live: z}, sc)
	}
}

// Stateless returns the vector of an event without an entity: its fields, no aggregates.
func (e *Engine) Stateless(ev wire.Event, z, obs ZStats) wire.Vector {
	sc := e.scratch()
	defer e.release(sc)
	vw := &sc.view
	e.p.read(ev, vw)
	in := inputs{}
	e.p.slots(vw.numeric, func(*aggOut, string) { in.aggs = append(in.aggs, math.NaN()) })
	return e.p.build(vw, &in, &zsource{live: z, obs: obs})
}

// compute rolls up the entity's state as of t for the event's aggregates and builds its vector.
// The inputs it returns use scratch memory: encode them before the next call.
func (e *Engine) compute(st *entityState, vw *view, t int64, z *zsource, sc *scratch) (wire.Vector, inputs) {
	p := e.p
	clear(sc.computed)
	in := inputs{aggs: sc.aggs[:0]}
	p.slots(vw.numeric, func(a *aggOut, field string) {
		w := &sc.windows[a.series]
		if !sc.computed[a.series] {
			st.rollup(p, a.series, t, w)
			sc.computed[a.series] = true
		}
		idx := -1
		if field != "" {
			if i, ok := st.fieldIndex(field); ok {
				idx = i
			}
		}
		in.aggs = append(in.aggs, w.value(a.function, idx, t))
	})
	sc.aggs = in.aggs
	return p.build(vw, &in, z), in
}

// replay rebuilds a vector from a mark; false when the mark does not fit the event's slots.
func (e *Engine) replay(vw *view, m *mark, out []wire.Vector, i int) bool {
	n := 0
	e.p.slots(vw.numeric, func(*aggOut, string) { n++ })
	if n != len(m.in.aggs) {
		return false
	}
	out[i] = e.p.build(vw, &m.in, &zsource{replay: true, rec: m.in.z})
	return true
}
