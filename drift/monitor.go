package drift

import (
	"cmp"
	"math"
	"slices"
	"sync"
	"time"
)

// Monitor keeps, per model, tumbling event-time windows of feature values,
// prediction scores and joined examples; turns them into FeatureDriftRow
// and PerformanceRow values; feeds the concept-drift detectors; and runs
// the retrain trigger Policy on every window that closes. It is safe for
// concurrent use.
//
// Each (model, feature) is compared with its reference: the earliest
// window that received a usable value of it, until a feature-drift alert
// makes the windows after it the new reference (the retrained model's
// data). Windows close by event time (see MonitorConfig.AllowedLateness),
// each stream (events, predictions, outcomes) of a model with its own
// watermark; performance windows also wait for the predictions and events
// that give label coverage its denominators. The reference is pinned when
// its window closes, and later windows are scored only from then on.
//
// Rows and alerts depend on the set of observations in each window, not on
// their order, when observations carry ids (samples are taken by a hash of
// the id): replaying a history, even with Kafka partitions interleaved
// differently, yields the same rows apart from Updated and floating-point
// rounding of sums, and the same alerts.
//
// Memory is bounded per model: at most AllowedLateness/Window+2 windows are
// open per stream, and per open window a feature holds at most 2×SampleSize
// float64 values and Bins+1 counts (numeric) or MaxTrackedCategories
// counts (categorical); at most MaxFeatures features are tracked; a
// performance row's window holds at most MaxExactOutcomes scores, or
// 2×65536 histogram counts beyond, and the all-traffic row up to
// 2×MaxExactOutcomes errors for the detectors. A pinned reference keeps its
// sample and counts. Rows of closed windows and alerts wait, compact, for
// the next Rows and Alerts calls.
type Monitor struct {
	mu     sync.Mutex
	cfg    MonitorConfig
	timing timing
	models map[string]*modelState
	policy *Policy
	stats  MonitorStats
	seq    uint64 // priorities of observations without an id
	gen    uint64 // bumped whenever state that Snapshot keeps changes

	// Final rows of closed windows and alerts, waiting for Rows and Alerts.
	closedFeatures    []FeatureDriftRow
	closedPerformance []PerformanceRow
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
	return &Monitor{
		cfg:    cfg,
		timing: timing{window: int64(cfg.Window), lateness: int64(cfg.AllowedLateness)},
		models: make(map[string]*modelState),
		policy: NewPolicy(cfg.Trigger, cfg.Regression),
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
func (m *Monitor) Rows(now time.Time) ([]FeatureDriftRow, []PerformanceRow) {
	m.mu.Lock()
	defer m.mu.Unlock()
	feats, perfs := m.closedFeatures, m.closedPerformance
	m.closedFeatures, m.closedPerformance = nil, nil
	for _, ms := range m.sortedModels() {
		for _, s := range []*driftStream{ms.events, ms.scores} {
			for _, w := range s.openWindows() {
				if w.dirty {
					feats = append(feats, m.featureRows(ms.name, s, w, false)...)
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
	slices.SortStableFunc(feats, func(a, b FeatureDriftRow) int {
		return cmp.Or(a.WindowStart.Compare(b.WindowStart), cmp.Compare(a.Model, b.Model), cmp.Compare(a.Feature, b.Feature))
	})
	slices.SortStableFunc(perfs, func(a, b PerformanceRow) int {
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
		m.finishPerformance(ms, ms.perf.takeWindows(func(perfKey) bool { return true }, &m.timing), false)
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

// openWindow advances the stream's watermark to ts, closing the windows
// that became due, and returns the window of ts, or nil when it is late.
func (m *Monitor) openWindow(ms *modelState, s *driftStream, ts int64) *driftWindow {
	if due := s.due(ts, &m.timing); len(due) > 0 {
		m.closeWindows(ms, s, due, true)
		m.closePerformance(ms)
	}
	w := s.window(ts, &m.timing)
	if w == nil {
		m.stats.Late++
	}
	return w
}

// closeWindows finishes windows of a drift stream: final rows, coverage
// denominators kept for the performance rows, and, when judge is set, the
// trigger policy's verdict on feature windows.
func (m *Monitor) closeWindows(ms *modelState, s *driftStream, ws []*driftWindow, judge bool) {
	for _, w := range ws {
		m.gen++
		s.pinReferences(w, &m.cfg)
		rows := m.featureRows(ms.name, s, w, true)
		m.closedFeatures = append(m.closedFeatures, rows...)
		if s == ms.scores {
			c := ms.counts(w.start)
			c.predictions, c.versions = w.events, w.versions
		} else if len(m.cfg.Segments) > 0 {
			ms.counts(w.start).segments = w.segments
		}
		if !judge || s != ms.events {
			continue
		}
		if a, ok := m.policy.FeatureWindow(featureWindow(ms.name, w, m.timing.window, rows)); ok {
			m.alerts = append(m.alerts, a)
			s.rebase()
		}
	}
}

func featureWindow(model string, w *driftWindow, length int64, rows []FeatureDriftRow) FeatureWindow {
	fw := FeatureWindow{Model: model, Start: time.Unix(0, w.start).UTC(), End: time.Unix(0, w.start+length).UTC(), Events: w.events}
	for _, r := range rows {
		if !r.ReferenceStart.Before(r.WindowStart) {
			continue
		}
		fw.Compared++
		if r.Drifted {
			fw.Drifted = append(fw.Drifted, r.Feature)
		}
	}
	return fw
}

// outcomeWatermark is the watermark that closes a model's performance
// windows: its outcomes' watermark, held back by its predictions' and, with
// segments, its events', so that coverage denominators are complete.
func (m *Monitor) outcomeWatermark(ms *modelState) int64 {
	w := ms.perf.watermark
	if ms.scores.watermark != math.MinInt64 {
		w = min(w, ms.scores.watermark)
	}
	if len(m.cfg.Segments) > 0 && ms.events.watermark != math.MinInt64 {
		w = min(w, ms.events.watermark)
	}
	return w
}

// closePerformance finishes the performance windows the outcome watermark
// has passed.
func (m *Monitor) closePerformance(ms *modelState) {
	wm := m.outcomeWatermark(ms)
	if wm < ms.perf.nextClose && len(ms.closedCounts) == 0 {
		return
	}
	ws := ms.perf.takeWindows(func(k perfKey) bool { return m.timing.closed(k.start, wm) }, &m.timing)
	m.finishPerformance(ms, ws, true)
	for start := range ms.closedCounts {
		if m.timing.closed(start, wm) {
			delete(ms.closedCounts, start)
			m.gen++
		}
	}
}

// finishPerformance emits the final rows of closed performance windows and,
// when judge is set, feeds the all-traffic windows' errors to the
// detectors and the trigger policy.
func (m *Monitor) finishPerformance(ms *modelState, ws []*performanceWindow, judge bool) {
	for _, w := range ws {
		m.gen++
		r := m.performanceRow(ms, w)
		m.closedPerformance = append(m.closedPerformance, r)
		if !judge || w.acc.errs == nil {
			continue
		}
		pw := PerformanceWindow{
			Model: ms.name, Start: r.WindowStart, End: r.WindowEnd, N: r.N, Positives: r.Positives,
			AUC: r.AUC, RMSE: r.RMSE, Version: w.acc.maxVersion,
		}
		pw.ADWIN, pw.PageHinkley, pw.ErrorRate = ms.concept.feed(w.acc.errors())
		if a, ok := m.policy.PerformanceWindow(pw); ok {
			m.alerts = append(m.alerts, a)
		}
	}
}

// acc returns the window's accumulator of a feature, creating the feature's
// profile on its first usable value; nil when MaxFeatures is reached.
func (m *Monitor) acc(s *driftStream, w *driftWindow, name string, k kind) *featureAcc {
	if a := w.feats[name]; a != nil {
		return a
	}
	p := s.profiles[name]
	switch {
	case p == nil:
		if len(s.profiles) >= m.cfg.MaxFeatures {
			m.stats.DroppedFeatures++
			return nil
		}
		p = &profile{name: name, kind: k, refStart: w.start}
		s.profiles[name] = p
	case !p.closed && w.start < p.refStart:
		// The reference is the earliest window with a value, whichever
		// arrived first.
		p.refStart = w.start
	}
	a := newFeatureAcc(p, &m.cfg, w.start >= m.timing.closeAt(p.refStart))
	w.feats[name] = a
	return a
}

// featureRows returns the rows of window w: one per feature that has values
// in it or whose reference is not later than it. Features whose reference
// is still open are left out of open windows and get NaN statistics in
// final ones.
func (m *Monitor) featureRows(model string, s *driftStream, w *driftWindow, final bool) []FeatureDriftRow {
	names := make([]string, 0, len(s.profiles))
	for name, p := range s.profiles {
		if w.feats[name] != nil || p.refStart <= w.start {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	rows := make([]FeatureDriftRow, 0, len(names))
	for _, name := range names {
		p := s.profiles[name]
		isRef := p.refStart == w.start
		if !isRef && !p.closed && !final {
			continue
		}
		r := FeatureDriftRow{
			WindowStart:    time.Unix(0, w.start).UTC(),
			WindowEnd:      time.Unix(0, w.start+m.timing.window).UTC(),
			Model:          model,
			Feature:        name,
			Kind:           kindName(s, p),
			N:              w.events,
			ReferenceStart: time.Unix(0, p.refStart).UTC(),
		}
		a := w.feats[name]
		var n int64
		if a != nil {
			n = a.n
		}
		r.MissingRate = missingRate(n, w.events)
		switch {
		case isRef:
			r.KSPValue, r.Chi2PValue = 1, 1
			if p.kind != kindNumeric {
				r.KS, r.KSPValue, r.Wasserstein = math.NaN(), math.NaN(), math.NaN()
			}
		case !p.closed || n == 0:
			setNaN(&r)
			r.Drifted = p.closed && m.missingDrift(r.MissingRate, p)
		default:
			m.compare(&r, p, a)
		}
		rows = append(rows, r)
	}
	return rows
}

// ksExactMaxPairs bounds n·m for the exact KS p-value in rows; larger
// sample pairs use the asymptotic distribution, which is far cheaper.
const ksExactMaxPairs = 1 << 20

func (m *Monitor) compare(r *FeatureDriftRow, p *profile, a *featureAcc) {
	cur := a.binned()
	r.PSI = PSI(p.refBins, cur)
	r.JS = JensenShannon(p.refBins, cur)
	r.LInf = LInf(p.refBins, cur)
	r.Chi2, r.Chi2PValue = ChiSquare(p.refBins, cur)
	if p.kind == kindNumeric {
		s := a.sample.values()
		slices.Sort(s)
		method := KSAsymp
		if len(s)*len(p.refSample) <= ksExactMaxPairs {
			method = KSExact
		}
		r.KS, r.KSPValue = ksSorted(p.refSample, s, method)
		r.Wasserstein = normalizeBy(wassersteinSorted(p.refSample, s), p.refStd)
	} else {
		r.KS, r.KSPValue, r.Wasserstein = math.NaN(), math.NaN(), math.NaN()
	}
	r.Drifted = r.PSI > m.cfg.PSIThreshold || m.missingDrift(r.MissingRate, p)
}

func (m *Monitor) missingDrift(rate float64, p *profile) bool {
	return m.cfg.MissingRateThreshold >= 0 && math.Abs(rate-p.refMissing) > m.cfg.MissingRateThreshold
}

func setNaN(r *FeatureDriftRow) {
	nan := math.NaN()
	r.PSI, r.KS, r.KSPValue, r.JS, r.Wasserstein, r.Chi2, r.Chi2PValue, r.LInf = nan, nan, nan, nan, nan, nan, nan, nan
}

func kindName(s *driftStream, p *profile) string {
	switch {
	case s.kind != "":
		return s.kind
	case p.kind == kindNumeric:
		return KindNumeric
	}
	return KindCategorical
}

func (m *Monitor) performanceRow(ms *modelState, w *performanceWindow) PerformanceRow {
	r := w.acc.row(ms.predictions(w.key))
	r.WindowStart = time.Unix(0, w.key.start).UTC()
	r.WindowEnd = time.Unix(0, w.key.start+m.timing.window).UTC()
	r.Model = ms.name
	r.Version = w.key.version
	r.Segment = w.key.segment
	return r
}
