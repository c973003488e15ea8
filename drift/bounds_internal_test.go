package drift

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// TestMemoryStaysBounded streams many windows of high-cardinality values
// and checks the bounds documented on Monitor.
func TestMemoryStaysBounded(t *testing.T) {
	cfg := MonitorConfig{Window: time.Minute, SampleSize: 64, MaxTrackedCategories: 50, MaxFeatures: 3, MaxExactOutcomes: 100}
	m := NewMonitor(cfg)
	start := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 200000; i++ {
		ts := start.Add(time.Duration(i) * 30 * time.Millisecond) // 2000 per window, 100 windows
		m.ObserveEvent("m", ts, map[string]any{
			"x": float64(i), "c": fmt.Sprint(i), fmt.Sprint("f", i%10): 1.0,
		})
		m.ObservePrediction("m", 1, ts, 0.5)
		m.ObserveOutcome("m", int64(i%2), ts, float64(i%7)/7, float64(i%2))
		if i%5000 == 0 {
			m.Rows(ts)
		}
	}
	ms := m.models["m"]
	maxOpen := int(m.cfg.AllowedLateness/m.cfg.Window) + 2
	for _, s := range []*driftStream{ms.events, ms.scores} {
		if len(s.windows) > maxOpen {
			t.Errorf("%d open windows, want ≤ %d", len(s.windows), maxOpen)
		}
		if len(s.profiles) > cfg.MaxFeatures {
			t.Errorf("%d features, want ≤ %d", len(s.profiles), cfg.MaxFeatures)
		}
		for _, w := range s.windows {
			for name, a := range w.feats {
				if len(a.sample.items) > 2*cfg.SampleSize || len(a.cats) > cfg.MaxTrackedCategories {
					t.Errorf("%s: %d sampled, %d categories", name, len(a.sample.items), len(a.cats))
				}
			}
		}
	}
	// Versions 0 and 1, plus all versions.
	if len(ms.perf.windows) > 3*maxOpen {
		t.Errorf("%d open performance windows", len(ms.perf.windows))
	}
	for _, w := range ms.perf.windows {
		if len(w.acc.posScores)+len(w.acc.negScores) > cfg.MaxExactOutcomes {
			t.Errorf("performance window keeps %d scores", len(w.acc.posScores)+len(w.acc.negScores))
		}
		if w.acc.errs != nil && len(w.acc.errs.items) > 2*cfg.MaxExactOutcomes {
			t.Errorf("performance window keeps %d errors", len(w.acc.errs.items))
		}
	}
	if got := m.Stats().DroppedFeatures; got == 0 {
		t.Error("no feature dropped beyond MaxFeatures")
	}
}

func TestBottomKKeepsSmallestPriorities(t *testing.T) {
	for _, capacity := range []int{1, 2, 7, 64} {
		b := newBottomK[int](capacity)
		var all []uint64
		for i := 0; i < 5000; i++ {
			p := mix64(uint64(i)) % 1000 // many ties
			all = append(all, p)
			b.add(i, p)
		}
		b.trim()
		slices.Sort(all)
		var got []uint64
		for _, it := range b.items {
			got = append(got, it.pri)
		}
		slices.Sort(got)
		if !slices.Equal(got, all[:capacity]) {
			t.Errorf("cap %d: kept priorities %v, want the smallest %v", capacity, got, all[:capacity])
		}
	}
}
