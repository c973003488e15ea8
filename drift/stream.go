package drift

import (
	"cmp"
	"math"
	"slices"
)

// driftStream is the window state of one observation stream of one model
// (its events, or its prediction scores), with a watermark of its own: the
// largest event time it has seen.
type driftStream struct {
	kind      string // row Kind override for the score stream, "" for events
	watermark int64
	nextClose int64 // earliest end+lateness of an open window
	windows   map[int64]*driftWindow
	profiles  map[string]*profile
	last      *driftWindow // most recently used window, a cheap cache
}

type driftWindow struct {
	start  int64
	events int64
	feats  map[string]*featureAcc
	dirty  bool
	// Denominators of label coverage: predictions per version (score
	// stream) and events per segment (event stream, when segments are set).
	versions map[int64]int64
	segments map[string]int64
}

func newDriftStream(kind string) *driftStream {
	return &driftStream{
		kind:      kind,
		watermark: math.MinInt64,
		nextClose: math.MaxInt64,
		windows:   make(map[int64]*driftWindow),
		profiles:  make(map[string]*profile),
	}
}

// window returns the open window holding ts, creating it, or nil when that
// window has already closed.
func (s *driftStream) window(ts int64, t *timing) *driftWindow {
	start := t.start(ts)
	if s.last != nil && s.last.start == start {
		return s.last
	}
	if t.closed(start, s.watermark) {
		return nil
	}
	w := s.windows[start]
	if w == nil {
		w = &driftWindow{start: start, feats: make(map[string]*featureAcc)}
		s.windows[start] = w
		s.nextClose = min(s.nextClose, t.closeAt(start))
	}
	s.last = w
	return w
}

// due advances the watermark to ts and removes and returns, oldest first,
// the windows that closed.
func (s *driftStream) due(ts int64, t *timing) []*driftWindow {
	if ts <= s.watermark {
		return nil
	}
	s.watermark = ts
	if ts < s.nextClose {
		return nil
	}
	return s.takeWindows(func(start int64) bool { return t.closed(start, ts) }, t)
}

// takeWindows removes the windows whose start satisfies closed and returns
// them oldest first.
func (s *driftStream) takeWindows(closed func(int64) bool, t *timing) []*driftWindow {
	var out []*driftWindow
	s.nextClose = math.MaxInt64
	for start, w := range s.windows {
		if closed(start) {
			out = append(out, w)
			delete(s.windows, start)
			if s.last == w {
				s.last = nil
			}
		} else {
			s.nextClose = min(s.nextClose, t.closeAt(start))
		}
	}
	slices.SortFunc(out, func(a, b *driftWindow) int { return cmp.Compare(a.start, b.start) })
	return out
}

// openWindows returns the open windows oldest first.
func (s *driftStream) openWindows() []*driftWindow {
	out := make([]*driftWindow, 0, len(s.windows))
	for _, w := range s.windows {
		out = append(out, w)
	}
	slices.SortFunc(out, func(a, b *driftWindow) int { return cmp.Compare(a.start, b.start) })
	return out
}

// oldest returns the start of the oldest open window.
func (s *driftStream) oldest() (int64, bool) {
	if len(s.windows) == 0 {
		return 0, false
	}
	o := int64(math.MaxInt64)
	for start := range s.windows {
		o = min(o, start)
	}
	return o, true
}

// pinReferences closes the profiles whose reference window is w; the
// still-open windows are scored against them from now on.
func (s *driftStream) pinReferences(w *driftWindow, cfg *MonitorConfig) {
	pinned := false
	for name, p := range s.profiles {
		if p.closed || p.refStart != w.start {
			continue
		}
		p.close(w.feats[name], w.events, cfg)
		pinned = true
	}
	if pinned {
		for _, o := range s.windows {
			o.dirty = true
		}
	}
}

// rebase drops every reference: each feature's new reference is the
// earliest open window that has a value of it, or else the first window to
// get one.
func (s *driftStream) rebase() {
	s.profiles = make(map[string]*profile, len(s.profiles))
	for _, w := range s.openWindows() {
		for name, a := range w.feats {
			p := s.profiles[name]
			if p == nil {
				p = &profile{name: name, kind: a.prof.kind, refStart: w.start}
				s.profiles[name] = p
			}
			a.prof = p
		}
		w.dirty = true
	}
}

// timing turns event times (Unix nanoseconds) into windows.
type timing struct {
	window, lateness int64
}

func (t *timing) start(ts int64) int64 {
	r := ts % t.window
	if r < 0 {
		r += t.window
	}
	return ts - r
}

func (t *timing) closeAt(start int64) int64 { return start + t.window + t.lateness }

func (t *timing) closed(start, watermark int64) bool {
	return watermark >= t.closeAt(start)
}
