package drift

import (
	"cmp"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/streamlearn/streamlearn/wire"
)

// Monitor keeps, per model, tumbling event-time windows of feature values,
// prediction scores and joined examples; turns them into wire.FeatureDriftRow
// and wire.PerformanceRow values; feeds the concept-drift detectors; and runs
// the retrain trigger Policy on every window that closes. It is safe for
// concurrent use.
//
// Each (model, feature) is compared with its reference: the earliest
// window that received a usable value of it, until a feature-drift alert
// makes the windows after it the new reference (the data the retrained
// model learns from). Windows close by event time (AllowedLateness, and
// OutcomeLateness for performance windows), each stream (events,
// predictions, outcomes) of a model under its own watermark: the largest
// event time seen, or, with ExternalWatermarks, what Advance sets.
// Performance windows also wait for the predictions and events that give
// label coverage its denominators. The reference is pinned when its window
// closes, and later windows are scored only from then on.
//
// Rows and alerts depend on the set of observations in each window, not on
// their order, when observations carry ids (samples are taken by a hash of
// the id and detectors are fed in event-time order): replaying a history,
// even with Kafka partitions interleaved differently, yields the same rows,
// apart from Updated and the rounding of floating-point sums, and the same
// alerts.
//
// Memory is bounded per model: at most AllowedLateness/Window+2 windows are
// open per drift stream and OutcomeLateness/Window+2 per performance row;
// per open window a numeric feature holds at most 2×SampleSize sampled
// values and a categorical one MaxTrackedCategories counts; at most
// MaxFeatures features are tracked; a performance row's window holds at
// most MaxExactOutcomes scores, or 2×65536 histogram counts beyond, and the
// all-traffic row up to 2×MaxExactOutcomes errors for the detectors;
// coverage counts of closed windows are kept for at most 1024 windows. A
// pinned reference keeps its sample and counts. Rows of closed windows and
// alerts wait, compact, for the next Rows and Alerts calls.
type Monitor struct {
	mu     sync.Mutex
	cfg    MonitorConfig
	timing timing // events and predictions
	// outTiming closes performance windows: OutcomeLateness instead.
	outTiming timing
	models    map[string]*modelState
	policy    *Policy
	stats     MonitorStats
	seq       uint64 // priorities of observations without an id
	gen       uint64 // bumped whenever state that Snapshot keeps changes
	// external holds the watermarks Advance set, per kind of stream; a kind
	// in it no longer takes its watermark from observations.
	external map[Stream]int64

	// Final rows of closed windows and alerts, waiting for Rows and Alerts.
	closedFeatures    []wire.FeatureDriftRow
	closedPerformance []wire.PerformanceRow
	alerts            []Alert
}

// MonitorStats counts observations the Monitor did not use.
type MonitorStats struct {
	Late            int64 // observations for windows that had closed
	BadTime         int64 // event times outside the years 1900–2200
	BadOutcomes     int64 // outcomes with a non-finite score or label, or a binary label other than 0/1
	DroppedFeatures int64 // field values of features beyond MaxFeatures
}

type modelState struct {
	name         string
	events       *driftStream
	scores       *driftStream
	perf         *performanceStream
	closedCounts map[int64]*windowCounts
	segments     []*segmentValues // per MonitorConfig.Segments field
	concept      *conceptState
}

// NewMonitor returns a Monitor; zero or invalid fields of cfg take their
// defaults.
func NewMonitor(cfg MonitorConfig) *Monitor {
	cfg = cfg.withDefaults()
	m := &Monitor{
		cfg:       cfg,
		timing:    timing{window: int64(cfg.Window), lateness: int64(cfg.AllowedLateness)},
		outTiming: timing{window: int64(cfg.Window), lateness: int64(cfg.OutcomeLateness)},
		models:    make(map[string]*modelState),
		policy:    NewPolicy(cfg.Trigger, cfg.Regression),

		external: make(map[Stream]int64),
	}
	if cfg.ExternalWatermarks {
		for _, s := range []Stream{StreamEvents, StreamPredictions, StreamOutcomes} {
			m.external[s] = math.MinInt64
		}
	}
	return m
}

// Advance moves the watermark of one kind of stream (events, predictions
// or outcomes) of every model to t; it never goes back. With
// ExternalWatermarks, it is what closes windows; otherwise, from its first
// call on, it replaces the observed event times for that kind of stream.
func (m *Monitor) Advance(s Stream, t time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ts, ok := m.timestamp(t)
	if !ok || s == StreamNone {
		return
	}
	if prev, ok := m.external[s]; ok && ts <= prev {
		return
	}
	m.external[s] = ts
	for _, ms := range m.sortedModels() {
		switch s {
		case StreamEvents:
			m.closeWindows(ms, ms.events, ms.events.due(ts, &m.timing), true)
		case StreamPredictions:
			m.closeWindows(ms, ms.scores, ms.scores.due(ts, &m.timing), true)
		case StreamOutcomes:
			ms.perf.watermark = max(ms.perf.watermark, ts)
		}
		m.closePerformance(ms)
	}
}

// Config returns the configuration in effect, defaults applied.
func (m *Monitor) Config() MonitorConfig { return m.cfg }

// Stats returns counts of observations that were dropped.
func (m *Monitor) Stats() MonitorStats {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stats
}

// WindowStart returns the start of the window holding t.
func (m *Monitor) WindowStart(t time.Time) time.Time {
	return time.Unix(0, m.timing.start(t.UnixNano())).UTC()
}

// Rows returns the rows of every window that changed since the last call:
// final rows of windows that closed, then current rows of open ones, which
// are emitted again with a newer Updated whenever they change (a
// ReplacingMergeTree keyed on the row key keeps the latest). State of
// closed windows is already gone; pinned references stay. Rows are sorted
// by window start, model, then feature or version and segment; Updated is
// now.
func (m *Monitor) Rows(now time.Time) ([]wire.FeatureDriftRow, []wire.PerformanceRow) {
	m.mu.Lock()
	defer m.mu.Unlock()
	feats, perfs := m.closedFeatures, m.closedPerformance
	m.closedFeatures, m.closedPerformance = nil, nil
	for _, ms := range m.sortedModels() {
		for _, s := range []*driftStream{ms.events, ms.scores} {
			for _, w := range s.openWindows() {
				if w.dirty {
					rows, _ := m.featureRows(ms.name, s, w, false)
					feats = append(feats, rows...)
					w.dirty = false
				}
			}
		}
		for _, w := range ms.perf.openWindows() {
			if w.dirty {
				perfs = append(perfs, m.performanceRow(ms, w))
				w.dirty = false
			}
		}
	}
	for i := range feats {
		feats[i].Updated = now
	}
	for i := range perfs {
		perfs[i].Updated = now
	}
	slices.SortStableFunc(feats, func(a, b wire.FeatureDriftRow) int {
		return cmp.Or(a.WindowStart.Compare(b.WindowStart), cmp.Compare(a.Model, b.Model), cmp.Compare(a.Feature, b.Feature))
	})
	slices.SortStableFunc(perfs, func(a, b wire.PerformanceRow) int {
		return cmp.Or(a.WindowStart.Compare(b.WindowStart), cmp.Compare(a.Model, b.Model),
			cmp.Compare(a.Version, b.Version), cmp.Compare(a.Segment, b.Segment))
	})
	return feats, perfs
}

// Alerts returns the alerts the trigger policy raised since the last call,
// in the order it raised them.
func (m *Monitor) Alerts() []Alert {
	m.mu.Lock()
	defer m.mu.Unlock()
	a := m.alerts
	m.alerts = nil
	return a
}

// OpenWindows are the starts of the oldest open window of each stream over
// all models; zero when none is open.
type OpenWindows struct {
	Events, Predictions, Outcomes time.Time
}

// Oldest returns the oldest open windows. Observations of earlier windows
// are no longer needed: a restored Snapshot plus the observations of these
// windows and later rebuild the Monitor.
func (m *Monitor) Oldest() OpenWindows {
	m.mu.Lock()
	defer m.mu.Unlock()
	var ev, pr, out int64 = math.MaxInt64, math.MaxInt64, math.MaxInt64
	for _, ms := range m.models {
		if s, ok := ms.events.oldest(); ok {
			ev = min(ev, s)
		}
		if s, ok := ms.scores.oldest(); ok {
			pr = min(pr, s)
		}
		if s, ok := ms.perf.oldest(); ok {
			out = min(out, s)
		}
	}
	at := func(s int64) time.Time {
		if s == math.MaxInt64 {
			return time.Time{}
		}
		return time.Unix(0, s).UTC()
	}
	return OpenWindows{Events: at(ev), Predictions: at(pr), Outcomes: at(out)}
}

// Flush closes every open window, as if event time had moved past all of
// them, so that the next Rows returns their final rows. Use it at the end
// of a replay. Windows it closes are not judged by the trigger policy nor
// fed to the detectors: they may be incomplete.
func (m *Monitor) Flush() {
	m.mu.Lock()
	defer m.mu.Unlock()
	all := func(int64) bool { return true }
	for _, ms := range m.sortedModels() {
		for _, s := range []*driftStream{ms.events, ms.scores} {
			m.closeWindows(ms, s, s.takeWindows(all, &m.timing), false)
		}
		m.finishPerformance(ms, ms.perf.takeWindows(func(perfKey) bool { return true }, &m.outTiming), false)
		clear(ms.closedCounts)
	}
	m.gen++
}

// Generation returns a number that changes whenever the state Snapshot
// keeps changes, so that callers save snapshots only when needed.
func (m *Monitor) Generation() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.gen
}

var (
	minTime = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

func (m *Monitor) timestamp(t time.Time) (int64, bool) {
	if t.Before(minTime) || !t.Before(maxTime) {
		m.stats.BadTime++
		return 0, false
	}
	return t.UnixNano(), true
}

// priority returns an observation's sampling priority: a hash of its id,
// or of its arrival rank when it has none.
func (m *Monitor) priority(id string) uint64 {
	if id != "" {
		return hashID(id)
	}
	m.seq++
	return mix64(m.seq)
}

func (m *Monitor) model(name string) *modelState {
	ms := m.models[name]
	if ms == nil {
		ms = &modelState{
			name:         name,
			events:       newDriftStream(""),
			scores:       newDriftStream(KindScore),
			perf:         newPerformanceStream(),
			closedCounts: make(map[int64]*windowCounts),
			concept:      newConceptState(&m.cfg.Trigger.Concept),
		}
		for range m.cfg.Segments {
			ms.segments = append(ms.segments, &segmentValues{known: make(map[string]bool), max: m.cfg.MaxSegmentValues})
		}
		if w, ok := m.external[StreamEvents]; ok {
			ms.events.watermark = w
		}
		if w, ok := m.external[StreamPredictions]; ok {
			ms.scores.watermark = w
		}
		if w, ok := m.external[StreamOutcomes]; ok {
			ms.perf.watermark = w
		}
		m.models[name] = ms
	}
	return ms
}

func (m *Monitor) sortedModels() []*modelState {
	out := make([]*modelState, 0, len(m.models))
	for _, ms := range m.models {
		out = append(out, ms)
	}
	slices.SortFunc(out, func(a, b *modelState) int { return cmp.Compare(a.name, b.name) })
	return out
}

// segmentKey returns the row segment of field i's raw value.
func (m *Monitor) segmentKey(ms *modelState, i int, v string) string {
	k, grew := ms.segments[i].key(m.cfg.Segments[i], v)
	if grew {
		m.gen++
	}
	return k
}
