package drift

import (
	"math"
	"time"
)

// Event is an event as the Monitor sees it.
type Event struct {
	Model string
	// ID is the event's id. It decides, independently of arrival order,
	// which values a window's sample keeps; without it the arrival order
	// does.
	ID     string
	Time   time.Time
	Fields map[string]any
}

// Prediction is a score given to an event.
type Prediction struct {
	Model, ID string
	Version   int64
	Time      time.Time // the event's time
	Score     float64
}

// Outcome is a prediction joined with its label: an example.
type Outcome struct {
	Model, ID string
	Version   int64
	// Time is the scored event's time; it decides the window.
	Time time.Time
	// OutcomeTime is when the label was observed; zero when unknown. The
	// label delay is OutcomeTime − Time (negative delays count as 0).
	OutcomeTime  time.Time
	Score, Label float64
	// Implicit says the label was assumed, not observed: it counts in the
	// metrics but not in label coverage or delay.
	Implicit bool
	// Segments holds the example's value of each MonitorConfig.Segments
	// field, in that order (see SegmentValue and FeatureSegmentValue); ""
	// and absent entries mean missing.
	Segments []string
}

// outcomeObs is an Outcome reduced to what performanceAcc needs.
type outcomeObs struct {
	ts, version              int64
	score, label, err, delay float64
	implicit, hasDelay       bool
	pri                      uint64
}

// ObserveEvent records an event's raw fields for feature drift: numbers
// (float64, float32, int, int32, int64, uint32, uint64, json.Number) are
// numeric, strings categorical, booleans the categories "true" and "false".
// nil, NaN, ±Inf, other types and values of a feature's other kind count as
// missing. It is AddEvent without an id.
func (m *Monitor) ObserveEvent(model string, t time.Time, fields map[string]any) {
	m.AddEvent(Event{Model: model, Time: t, Fields: fields})
}

// ObservePrediction is AddPrediction without an id.
func (m *Monitor) ObservePrediction(model string, version int64, t time.Time, score float64) {
	m.AddPrediction(Prediction{Model: model, Version: version, Time: t, Score: score})
}

// ObserveOutcome is AddOutcome without an id, outcome time or segments.
func (m *Monitor) ObserveOutcome(model string, version int64, t time.Time, score, label float64) {
	m.AddOutcome(Outcome{Model: model, Version: version, Time: t, Score: score, Label: label})
}

// AddEvent records an event's fields for feature drift (see ObserveEvent)
// and its segments for label coverage.
func (m *Monitor) AddEvent(e Event) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ts, ok := m.timestamp(e.Time)
	if !ok {
		return
	}
	ms := m.model(e.Model)
	w := m.openWindow(ms, StreamEvents, ms.events, ts)
	if w == nil {
		return
	}
	w.events++
	w.dirty = true
	if len(m.cfg.Segments) > 0 {
		if w.segments == nil {
			w.segments = make(map[string]int64)
		}
		for i, field := range m.cfg.Segments {
			w.segments[m.segmentKey(ms, i, SegmentValue(e.Fields[field]))]++
		}
	}
	pri := m.priority(e.ID)
	for name, v := range e.Fields {
		k, x, s, ok := parseValue(v)
		if !ok {
			continue
		}
		a := m.acc(ms.events, w, name, k)
		if a == nil || a.prof.kind != k {
			continue
		}
		if k == kindNumeric {
			a.addNumber(x, pri)
		} else {
			a.addString(s, m.cfg.MaxTrackedCategories)
		}
	}
}

// AddPrediction records a score for prediction drift, reported as the
// feature ScoreFeature of kind "score" (all versions of a model share it;
// a non-finite score counts as missing), and counts it for label coverage.
func (m *Monitor) AddPrediction(p Prediction) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ts, ok := m.timestamp(p.Time)
	if !ok {
		return
	}
	ms := m.model(p.Model)
	w := m.openWindow(ms, StreamPredictions, ms.scores, ts)
	if w == nil {
		return
	}
	w.events++
	w.dirty = true
	if w.versions == nil {
		w.versions = make(map[int64]int64)
	}
	w.versions[p.Version]++
	if !finite(p.Score) {
		return
	}
	if a := m.acc(ms.scores, w, ScoreFeature, kindNumeric); a != nil {
		a.addNumber(p.Score, m.priority(p.ID))
	}
}

// AddOutcome records a joined example in the rows of its version and of
// all versions (all traffic and its segments). Examples with a non-finite
// score or label, a binary label other than 0 or 1, or a negative version
// are dropped and counted in Stats.
func (m *Monitor) AddOutcome(o Outcome) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ts, ok := m.timestamp(o.Time)
	if !ok {
		return
	}
	if !finite(o.Score) || !finite(o.Label) || (!m.cfg.Regression && o.Label != 0 && o.Label != 1) || o.Version < 0 {
		m.stats.BadOutcomes++
		return
	}
	ms := m.model(o.Model)
	if _, ext := m.external[StreamOutcomes]; !ext && ts > ms.perf.watermark {
		ms.perf.watermark = ts
		m.closePerformance(ms)
	}
	start := m.outTiming.start(ts)
	if m.outTiming.closed(start, m.outcomeWatermark(ms)) {
		m.stats.Late++
		return
	}
	obs := outcomeObs{ts: ts, version: o.Version, score: o.Score, label: o.Label, implicit: o.Implicit, pri: m.priority(o.ID)}
	if !o.OutcomeTime.IsZero() {
		obs.delay, obs.hasDelay = math.Max(o.OutcomeTime.Sub(o.Time).Seconds(), 0), true
	}
	if m.cfg.Regression {
		obs.err = math.Abs(o.Score - o.Label)
	} else if (o.Score >= m.cfg.Threshold) != (o.Label == 1) {
		obs.err = 1
	}
	add := func(k perfKey) {
		w := ms.perf.window(k, &m.outTiming, &m.cfg)
		w.acc.add(&obs)
		w.dirty = true
	}
	add(perfKey{version: o.Version, start: start})
	add(perfKey{version: AllVersions, start: start})
	for i := range m.cfg.Segments {
		var v string
		if i < len(o.Segments) {
			v = o.Segments[i]
		}
		add(perfKey{version: AllVersions, segment: m.segmentKey(ms, i, v), start: start})
	}
}
