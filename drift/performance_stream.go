package drift

import (
	"cmp"
	"math"
	"slices"
)

// performanceStream holds the outcome windows of one model, one per
// (version, segment, window start) under one watermark: the largest event
// time of the model's outcomes. Its windows close by the model's outcome
// watermark (see Monitor.outcomeWatermark), which also waits for the
// predictions and events that give label coverage its denominators.
type performanceStream struct {
	watermark int64
	nextClose int64
	windows   map[perfKey]*performanceWindow
}

type perfKey struct {
	version int64 // AllVersions for the rows over every version
	segment string
	start   int64
}

type performanceWindow struct {
	key   perfKey
	acc   *performanceAcc
	dirty bool
}

func newPerformanceStream() *performanceStream {
	return &performanceStream{
		watermark: math.MinInt64,
		nextClose: math.MaxInt64,
		windows:   make(map[perfKey]*performanceWindow),
	}
}

// window returns the open window of k, creating it.
func (s *performanceStream) window(k perfKey, t *timing, cfg *MonitorConfig) *performanceWindow {
	w := s.windows[k]
	if w == nil {
		withErrors := k.version == AllVersions && k.segment == ""
		w = &performanceWindow{key: k, acc: newPerformanceAcc(cfg, withErrors)}
		s.windows[k] = w
		s.nextClose = min(s.nextClose, t.closeAt(k.start))
	}
	return w
}

func (s *performanceStream) takeWindows(closed func(perfKey) bool, t *timing) []*performanceWindow {
	var out []*performanceWindow
	s.nextClose = math.MaxInt64
	for k, w := range s.windows {
		if closed(k) {
			out = append(out, w)
			delete(s.windows, k)
		} else {
			s.nextClose = min(s.nextClose, t.closeAt(k.start))
		}
	}
	sortPerformanceWindows(out)
	return out
}

func (s *performanceStream) openWindows() []*performanceWindow {
	out := make([]*performanceWindow, 0, len(s.windows))
	for _, w := range s.windows {
		out = append(out, w)
	}
	sortPerformanceWindows(out)
	return out
}

func (s *performanceStream) oldest() (int64, bool) {
	if len(s.windows) == 0 {
		return 0, false
	}
	o := int64(math.MaxInt64)
	for k := range s.windows {
		o = min(o, k.start)
	}
	return o, true
}

func sortPerformanceWindows(ws []*performanceWindow) {
	slices.SortFunc(ws, func(a, b *performanceWindow) int {
		return cmp.Or(cmp.Compare(a.key.start, b.key.start), cmp.Compare(a.key.version, b.key.version),
			cmp.Compare(a.key.segment, b.key.segment))
	})
}
