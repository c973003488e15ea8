package drift

import (
	"cmp"
	"math"
	"slices"
)

// performanceStream holds the outcome windows of one model, one per
// (version, window start), under one watermark.
type performanceStream struct {
	watermark int64
	nextClose int64
	windows   map[perfKey]*performanceWindow
}

type perfKey struct {
	version int64
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

func (s *performanceStream) window(version, ts int64, t *timing, cfg *MonitorConfig) *performanceWindow {
	start := t.start(ts)
	if t.closed(start, s.watermark) {
		return nil
	}
	k := perfKey{version: version, start: start}
	w := s.windows[k]
	if w == nil {
		w = &performanceWindow{key: k, acc: newPerformanceAcc(cfg)}
		s.windows[k] = w
		s.nextClose = min(s.nextClose, t.closeAt(start))
	}
	return w
}

func (s *performanceStream) due(ts int64, t *timing) []*performanceWindow {
	if ts <= s.watermark {
		return nil
	}
	s.watermark = ts
	if ts < s.nextClose {
		return nil
	}
	return s.takeWindows(func(k perfKey) bool { return t.closed(k.start, ts) }, t)
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

func sortPerformanceWindows(ws []*performanceWindow) {
	slices.SortFunc(ws, func(a, b *performanceWindow) int {
		return cmp.Or(cmp.Compare(a.key.start, b.key.start), cmp.Compare(a.key.version, b.key.version))
	})
}
