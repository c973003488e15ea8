package features

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/streamlearn/streamlearn/ingest"
)

// Engine computes feature vectors from per-entity tile state. It owns every rule of the feature
// store (windows, lateness, redelivery, the stored format) and does no I/O: a storage adapter such as
// features/redis loads an entity's state and marks, calls ApplyEntity or LookupEntity with the
// entity's events, and writes the Update back atomically. An Engine is safe for concurrent use.
type Engine struct {
	p      *plan
	onLate func(ev ingest.Event, behind time.Duration)
	pool   sync.Pool

	applied, duplicates, late, corrupt, dropped atomic.Uint64
}

// Stats counts what a feature store did since it started; expose them as Prometheus counters.
type Stats struct {
	// Applied is the number of events applied to their entity's aggregates.
	Applied uint64
	// Duplicates is the number of redelivered events answered from their marks (applied once).
	Duplicates uint64
	// Late is the number of deliveries of events older than the allowed lateness: scored with what
	// the store holds, not applied.
	Late uint64
	// Corrupt is the number of entity states that could not be read and were started afresh.
	Corrupt uint64
	// FieldsDropped is the number of event fields not aggregated because their entity already tracked
	// max_tracked_fields fields.
	FieldsDropped uint64
	// Conflicts is the number of entity writes retried because another writer changed the entity.
	Conflicts uint64
}

// NewEngine validates cfg and compiles it. onLate, when set, is called for every event too late to
// be applied, with how far it lies behind its entity's horizon.
func NewEngine(cfg Config, onLate func(ev ingest.Event, behind time.Duration)) (*Engine, error) {
	p, err := compile(cfg)
	if err != nil {
		return nil, err
	}
	return &Engine{p: p, onLate: onLate}, nil
}

// Stats returns the engine's counters (Conflicts is the adapter's to fill in).
func (e *Engine) Stats() Stats {
	return Stats{Applied: e.applied.Load(), Duplicates: e.duplicates.Load(), Late: e.late.Load(),
		Corrupt: e.corrupt.Load(), FieldsDropped: e.dropped.Load()}
}

// TTL is how long an idle entity's state is worth keeping: the longest window plus the lateness.
func (e *Engine) TTL() time.Duration { return e.p.longest + e.p.cfg.AllowedLateness }

// Standardizes reports whether some feature is standardized, i.e. whether ZStats are needed.
func (e *Engine) Standardizes() bool { return e.p.standardized }

// Stateful reports whether the config has aggregates, i.e. whether entity state is needed at all.
func (e *Engine) Stateful() bool { return len(e.p.aggs) > 0 }

// Loaded is what an adapter read for one entity: its stored state (nil for a new entity) and the
// stored marks of the events it was asked about, by event id (absent: none).
type Loaded struct {
	State []byte
	Marks map[string][]byte
}

// Update is what an adapter writes back for one entity, atomically and only if the entity has not
// changed since it was loaded. Nothing needs writing unless Changed.
type Update struct {
	Changed bool
	// State replaces the stored state.
	State []byte
	// Marks are new marks to store under their event ids, in buckets of event time.
	Marks []Mark
	// DeadMarkBuckets are the buckets whose marks must be deleted.
	DeadMarkBuckets []int64

	// What the call did, for Commit to count.
	applied, duplicates, dropped uint64
	late                         []lateEvent
}

type lateEvent struct {
	ev     ingest.Event
	behind time.Duration
}

// Commit counts what an ApplyEntity call did, once its Update is stored (or needed no storing): an
// adapter that has to compute an entity again after a write conflict commits only the last Update.
func (e *Engine) Commit(u *Update) {
	e.applied.Add(u.applied)
	e.duplicates.Add(u.duplicates)
	e.dropped.Add(u.dropped)
	e.late.Add(uint64(len(u.late)))
	if e.onLate != nil {
		for _, l := range u.late {
			e.onLate(l.ev, l.behind)
		}
	}
}

// Mark is one event's redelivery mark.
type Mark struct {
	ID     string
	Bucket int64
	Value  []byte
}

type scratch struct {
	windows  []span
	computed []bool
	names    []string
	vals     []value
}

func (e *Engine) scratch() *scratch {
	if s, ok := e.pool.Get().(*scratch); ok {
		return s
	}
	return &scratch{windows: make([]span, len(e.p.series)), computed: make([]bool, len(e.p.series))}
}

func (e *Engine) decode(b []byte) *entityState {
	st, err := decodeState(e.p, b)
	if err != nil {
		e.corrupt.Add(1)
		return newEntityState(e.p)
	}
	return st
}

// ApplyEntity applies one entity's events, in order, and sets out[i] to the vector of evs[i] as of
// just before it. Each event is, in this order: answered from its mark if it was applied before and
// is not too late; scored but not applied if it lies before the entity's horizon (its latest event
// time minus the allowed lateness); otherwise scored and applied. z holds the shared standardize
// statistics; obs receives the contributions of applied events (both may be nil without standardize).
func (e *Engine) ApplyEntity(l Loaded, evs []ingest.Event, z, obs ZStats, out []Vector) Update {
	p := e.p
	sc := e.scratch()
	defer e.pool.Put(sc)
	st := e.decode(l.State)
	var upd Update
	var batch map[string][]byte // marks made in this call, for duplicates within the batch
	for i, ev := range evs {
		t := ev.Time.UnixMilli()
		h := st.horizon(p)
		raw, found := l.Marks[ev.ID]
		if m, ok := batch[ev.ID]; ok {
			raw, found = m, true
		}
		tooLate := t < h
		if found {
			m, err := decodeMark(raw)
			if err != nil || m.t >= h {
				upd.duplicates++
				if err == nil && m.fingerprint == p.fingerprint && e.replay(ev, &m, sc, out, i) {
					continue
				}
				// The mark predates a config change: serve the current state; never apply twice.
				out[i], _ = e.compute(st, ev, t, &zsource{live: z}, sc)
				continue
			}
			tooLate = true // applied once, long enough ago that its mark is gone with its lateness
		}
		if tooLate {
			upd.late = append(upd.late, lateEvent{ev: ev, behind: time.Duration(h-t) * time.Millisecond})
			out[i], _ = e.compute(st, ev, t, &zsource{live: z}, sc)
			continue
		}
		zs := &zsource{live: z, obs: obs}
		v, in := e.compute(st, ev, t, zs, sc)
		out[i] = v
		in.z = zs.rec
		vals, dropped := st.trackedValues(p, ev.Fields, sc.vals)
		sc.vals = vals
		upd.dropped += uint64(dropped)
		st.apply(p, t, vals)
		bucket := floorDiv(t, p.markBucket)
		st.addMark(bucket)
		value := encodeMark(p.fingerprint, t, &in)
		upd.Marks = append(upd.Marks, Mark{ID: ev.ID, Bucket: bucket, Value: value})
		if len(evs) > 1 {
			if batch == nil {
				batch = map[string][]byte{}
			}
			batch[ev.ID] = value
		}
		upd.applied++
		upd.Changed = true
	}
	if upd.Changed {
		upd.DeadMarkBuckets = st.dropMarks(p)
		st.prune(p)
		upd.State = encodeState(p, st, nil)
	}
	return upd
}

// LookupEntity sets out[i] to the vector of evs[i] at its time without changing anything: from its
// mark when the event was applied already, otherwise from the entity's state.
func (e *Engine) LookupEntity(l Loaded, evs []ingest.Event, z ZStats, out []Vector) {
	sc := e.scratch()
	defer e.pool.Put(sc)
	st := e.decode(l.State)
	for i, ev := range evs {
		t := ev.Time.UnixMilli()
		if raw, ok := l.Marks[ev.ID]; ok {
			if m, err := decodeMark(raw); err == nil && m.t >= st.horizon(e.p) && m.fingerprint == e.p.fingerprint && e.replay(ev, &m, sc, out, i) {
				continue
			}
		}
		out[i], _ = e.compute(st, ev, t, &zsource{live: z}, sc)
	}
}

// Stateless returns the vector of an event without an entity: its fields, no aggregates.
func (e *Engine) Stateless(ev ingest.Event, z, obs ZStats) Vector {
	sc := e.scratch()
	defer e.pool.Put(sc)
	numeric := numericFields(ev, e.p.cfg.MaxTrackedFields, sc.names)
	sc.names = numeric
	in := inputs{}
	e.p.slots(numeric, func(*aggOut, string) { in.aggs = append(in.aggs, math.NaN()) })
	return e.p.build(ev, numeric, &in, &zsource{live: z, obs: obs})
}

func (e *Engine) compute(st *entityState, ev ingest.Event, t int64, z *zsource, sc *scratch) (Vector, inputs) {
	p := e.p
	numeric := numericFields(ev, p.cfg.MaxTrackedFields, sc.names)
	sc.names = numeric
	clear(sc.computed)
	in := inputs{aggs: make([]float64, 0, len(p.aggs)+len(numeric))}
	p.slots(numeric, func(a *aggOut, field string) {
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
	return p.build(ev, numeric, &in, z), in
}

// replay rebuilds a vector from a mark; false when the mark does not fit the event's slots.
func (e *Engine) replay(ev ingest.Event, m *mark, sc *scratch, out []Vector, i int) bool {
	numeric := numericFields(ev, e.p.cfg.MaxTrackedFields, sc.names)
	sc.names = numeric
	n := 0
	e.p.slots(numeric, func(*aggOut, string) { n++ })
	if n != len(m.in.aggs) {
		return false
	}
	out[i] = e.p.build(ev, numeric, &m.in, &zsource{rec: m.in.z})
	return true
}

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
	st := e.decode(state)
	if !st.hasWM {
		return Snapshot{}, false
	}
	t := st.wm
	if !at.IsZero() {
		t = at.UnixMilli()
	}
	snap := Snapshot{Entity: entity, At: time.UnixMilli(t).UTC(), LatestEvent: time.UnixMilli(st.wm).UTC(), Values: map[string]float64{}}
	w := make([]span, len(p.series))
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
