package drift

import (
	"math"
	"time"

	"github.com/streamlearn/streamlearn/wire"
)

// openWindow advances the stream's watermark to ts (unless Advance sets
// it), closing the windows that became due, and returns the window of ts,
// or nil when it is late.
func (m *Monitor) openWindow(ms *modelState, kind Stream, s *driftStream, ts int64) *driftWindow {
	if _, ext := m.external[kind]; !ext {
		if due := s.due(ts, &m.timing); len(due) > 0 {
			m.closeWindows(ms, s, due, true)
			m.closePerformance(ms)
		}
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
		rows, tested := m.featureRows(ms.name, s, w, true)
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
		if a, ok := m.policy.FeatureWindow(featureWindow(ms.name, w, m.timing.window, rows, tested)); ok {
			m.alerts = append(m.alerts, a)
			s.rebase()
		}
	}
}

// featureWindow summarizes a closed window for the policy: only rows large
// enough to be tested count as compared.
func featureWindow(model string, w *driftWindow, length int64, rows []wire.FeatureDriftRow, tested int) FeatureWindow {
	fw := FeatureWindow{Model: model, Start: time.Unix(0, w.start).UTC(), End: time.Unix(0, w.start+length).UTC(), Events: w.events, Compared: tested}
	for _, r := range rows {
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
	ws := ms.perf.takeWindows(func(k perfKey) bool { return m.outTiming.closed(k.start, wm) }, &m.outTiming)
	m.finishPerformance(ms, ws, true)
	for start := range ms.closedCounts {
		if m.outTiming.closed(start, wm) {
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
