package drift

import (
	"cmp"
	"math"
	"slices"
	"sync"
	"time"
)

// Monitor keeps, per model, tumbling event-time windows of feature values,
// prediction scores and joined outcomes, and turns them into
// FeatureDriftRow and PerformanceRow values. It is safe for concurrent use.
//
// Each (model, feature) is compared with its reference: the first window
// that received a usable value of it. Windows close by event time (see
// MonitorConfig.AllowedLateness), each stream (events, predictions,
// outcomes) of a model with its own watermark; the reference is pinned when
// its window closes, and later windows are scored only from then on.
// Replaying the same observations in the same order yields the same rows,
// apart from Updated.
//
// Memory is bounded per model: at most AllowedLateness/Window+2 windows are
// open per stream, and per open window a feature holds at most SampleSize
// float64 values and Bins+1 counts (numeric) or MaxTrackedCategories
// counts (categorical); at most MaxFeatures features are tracked; a
// (version, window) of outcomes holds at most MaxExactOutcomes scores, or
// 2×65536 histogram counts beyond. A pinned reference keeps its sample and
// counts. Rows of closed windows wait, compact, for the next Rows call.
type Monitor struct {
	mu     sync.Mutex
	cfg    MonitorConfig
	timing timing
	models map[string]*modelState
	stats  MonitorStats

	// Final rows of closed windows, waiting for Rows.
	closedFeatures    []FeatureDriftRow
	closedPerformance []PerformanceRow
}

// MonitorStats counts observations the Monitor did not use.
type MonitorStats struct {
	Late            int64 // observations for windows that had closed
	BadTime         int64 // event times outside the years 1900–2200
	BadOutcomes     int64 // outcomes with a non-finite score or a label other than 0/1
	DroppedFeatures int64 // field values of features beyond MaxFeatures
}

type modelState struct {
	name   string
	events *driftStream
	scores *driftStream
	perf   *performanceStream
}

// NewMonitor returns a Monitor; zero or invalid fields of cfg take their
// defaults.
func NewMonitor(cfg MonitorConfig) *Monitor {
	cfg = cfg.withDefaults()
	return &Monitor{
		cfg:    cfg,
		timing: timing{window: int64(cfg.Window), lateness: int64(cfg.AllowedLateness)},
		models: make(map[string]*modelState),
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

// ObserveEvent records an event's raw fields for feature drift: numbers
// (float64, float32, int, int32, int64, uint32, uint64, json.Number) are
// numeric, strings categorical, booleans the categories "true" and "false".
// nil, NaN, ±Inf, other types and values of a feature's other kind count as
// missing.
func (m *Monitor) ObserveEvent(model string, t time.Time, fields map[string]any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ts, ok := m.timestamp(t)
	if !ok {
		return
	}
	ms := m.model(model)
	w := m.openWindow(ms, ms.events, ts)
	if w == nil {
		return
	}
	w.events++
	w.dirty = true
	for name, v := range fields {
		k, x, s, ok := parseValue(v)
		if !ok {
			continue
		}
		a := m.acc(ms.events, w, name, k)
		if a == nil || a.prof.kind != k {
			continue
		}
		if k == kindNumeric {
			a.addNumber(x)
		} else {
			a.addString(s, m.cfg.MaxTrackedCategories)
		}
	}
}

// ObservePrediction records a score for prediction drift, reported as the
// feature ScoreFeature of kind "score". All versions of a model share it; a
// non-finite score counts as missing.
func (m *Monitor) ObservePrediction(model string, version int64, t time.Time, score float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ts, ok := m.timestamp(t)
	if !ok {
		return
	}
	ms := m.model(model)
	w := m.openWindow(ms, ms.scores, ts)
	if w == nil {
		return
	}
	w.events++
	w.dirty = true
	if !finite(score) {
		return
	}
	if a := m.acc(ms.scores, w, ScoreFeature, kindNumeric); a != nil {
		a.addNumber(score)
	}
}

// ObserveOutcome records a joined example of one model version: the score
// given before the label was known and the label, 0 or 1. Outcomes with a
// non-finite score or another label are dropped and counted in Stats.
func (m *Monitor) ObserveOutcome(model string, version int64, t time.Time, score, label float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ts, ok := m.timestamp(t)
	if !ok {
		return
	}
	if !finite(score) || (label != 0 && label != 1) {
		m.stats.BadOutcomes++
		return
	}
	ms := m.model(model)
	for _, w := range ms.perf.due(ts, &m.timing) {
		m.closedPerformance = append(m.closedPerformance, m.performanceRow(ms.name, w))
	}
	w := ms.perf.window(version, ts, &m.timing, &m.cfg)
	if w == nil {
		m.stats.Late++
		return
	}
	w.acc.add(score, label)
	w.dirty = true
}

// Rows returns the rows of every window that changed since the last call:
// final rows of windows that closed, then current rows of open ones, which
// are emitted again with a newer Updated whenever they change (a
// ReplacingMergeTree keyed on the row key keeps the latest). State of
// closed windows is already gone; pinned references stay. Rows are sorted
// by window start, model, then feature or version; Updated is now.
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
				perfs = append(perfs, m.performanceRow(ms.name, w))
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
		return cmp.Or(a.WindowStart.Compare(b.WindowStart), cmp.Compare(a.Model, b.Model), cmp.Compare(a.Version, b.Version))
	})
	return feats, perfs
}

// Flush closes every open window, as if event time had moved past all of
// them, so that the next Rows returns their final rows. Use it at shutdown
// or at the end of a replay.
func (m *Monitor) Flush() {
	m.mu.Lock()
	defer m.mu.Unlock()
	all := func(int64) bool { return true }
	for _, ms := range m.sortedModels() {
		for _, s := range []*driftStream{ms.events, ms.scores} {
			m.closeWindows(ms.name, s, s.takeWindows(all, &m.timing))
		}
		for _, w := range ms.perf.takeWindows(func(perfKey) bool { return true }, &m.timing) {
			m.closedPerformance = append(m.closedPerformance, m.performanceRow(ms.name, w))
		}
	}
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

func (m *Monitor) model(name string) *modelState {
	ms := m.models[name]
	if ms == nil {
		ms = &modelState{
			name:   name,
			events: newDriftStream(""),
			scores: newDriftStream(KindScore),
			perf:   newPerformanceStream(),
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

// openWindow advances the stream's watermark to ts, closing the windows
// that became due, and returns the window of ts, or nil when it is late.
func (m *Monitor) openWindow(ms *modelState, s *driftStream, ts int64) *driftWindow {
	m.closeWindows(ms.name, s, s.due(ts, &m.timing))
	w := s.window(ts, &m.timing)
	if w == nil {
		m.stats.Late++
	}
	return w
}

func (m *Monitor) closeWindows(model string, s *driftStream, ws []*driftWindow) {
	for _, w := range ws {
		s.pinReferences(w, &m.cfg)
		m.closedFeatures = append(m.closedFeatures, m.featureRows(model, s, w, true)...)
	}
}

// acc returns the window's accumulator of a feature, creating the feature's
// profile on its first usable value; nil when MaxFeatures is reached.
func (m *Monitor) acc(s *driftStream, w *driftWindow, name string, k kind) *featureAcc {
	if a := w.feats[name]; a != nil {
		return a
	}
	p := s.profiles[name]
	if p == nil {
		if len(s.profiles) >= m.cfg.MaxFeatures {
			m.stats.DroppedFeatures++
			return nil
		}
		p = &profile{name: name, kind: k, refStart: w.start}
		s.profiles[name] = p
	}
	a := newFeatureAcc(p, &m.cfg)
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
		s := slices.Clone(a.sample.vals)
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

func (m *Monitor) performanceRow(model string, w *performanceWindow) PerformanceRow {
	r := w.acc.row()
	r.WindowStart = time.Unix(0, w.key.start).UTC()
	r.WindowEnd = time.Unix(0, w.key.start+m.timing.window).UTC()
	r.Model = model
	r.Version = w.key.version
	return r
}
