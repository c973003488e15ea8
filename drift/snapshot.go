package drift

import (
	"bytes"
	"cmp"
	"encoding/gob"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/streamlearn/streamlearn/wire"
)

// snapshotFormat is the version of the Snapshot encoding.
const snapshotFormat = 1

// Snapshot encodes the state of the Monitor that outlives open windows:
// watermarks, pinned references, label-coverage counts of closed windows,
// segment values, the detectors and the trigger policy's state, and rows
// and alerts not yet taken. Open windows are left out: after Restore,
// observing again every observation of the windows that Oldest reported at
// snapshot time (and any later one) rebuilds them; observations of earlier
// windows are dropped as late. Callers save a snapshot when Generation has
// changed, after writing the rows and alerts taken before it.
func (m *Monitor) Snapshot() ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := snapshot{
		Format: snapshotFormat, Window: m.cfg.Window, Lateness: m.cfg.AllowedLateness, OutcomeLateness: m.cfg.OutcomeLateness,
		Segments: m.cfg.Segments,
		Seq:      m.seq, Stats: m.stats, Features: m.closedFeatures, Performance: m.closedPerformance, Alerts: m.alerts,
		Policy: m.policy.models, External: m.external,
	}
	for _, ms := range m.sortedModels() {
		s.Models = append(s.Models, snapshotModel(ms))
	}
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(&s); err != nil {
		return nil, fmt.Errorf("drift: encode snapshot: %w", err)
	}
	return buf.Bytes(), nil
}

// Restore loads a Snapshot into a Monitor that has observed nothing yet.
// The snapshot must come from a Monitor with the same Window, lateness and
// Segments.
func (m *Monitor) Restore(b []byte) error {
	var s snapshot
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&s); err != nil {
		return fmt.Errorf("drift: decode snapshot: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case len(m.models) > 0:
		return errors.New("drift: restore: the monitor has observed data already")
	case s.Format != snapshotFormat:
		return fmt.Errorf("drift: restore: snapshot format %d, want %d", s.Format, snapshotFormat)
	case s.Window != m.cfg.Window || s.Lateness != m.cfg.AllowedLateness || s.OutcomeLateness != m.cfg.OutcomeLateness ||
		!slices.Equal(s.Segments, m.cfg.Segments):
		return fmt.Errorf("drift: restore: snapshot of windows %s (lateness %s and %s, segments %v), configured %s (%s and %s, %v)",
			s.Window, s.Lateness, s.OutcomeLateness, s.Segments, m.cfg.Window, m.cfg.AllowedLateness, m.cfg.OutcomeLateness, m.cfg.Segments)
	}
	m.seq, m.stats = s.Seq, s.Stats
	m.closedFeatures, m.closedPerformance, m.alerts = s.Features, s.Performance, s.Alerts
	if s.Policy != nil {
		m.policy.models = s.Policy
	}
	for k, w := range s.External {
		m.external[k] = w
	}
	for _, sm := range s.Models {
		ms := m.model(sm.Name)
		sm.restoreStream(ms.events, &sm.Events)
		sm.restoreStream(ms.scores, &sm.Scores)
		ms.perf.watermark = sm.OutcomeWatermark
		for _, c := range sm.Counts {
			ms.closedCounts[c.Start] = &windowCounts{predictions: c.Predictions, versions: c.Versions, segments: c.Segments}
		}
		for i, vals := range sm.SegmentValues {
			if i < len(ms.segments) {
				for _, v := range vals {
					ms.segments[i].known[v] = true
				}
			}
		}
		ms.concept.adwin = sm.ADWIN.adwin()
		ph := sm.PageHinkley
		ms.concept.ph = &PageHinkley{Delta: ph.Delta, Threshold: ph.Threshold, Alpha: ph.Alpha, MinInstances: ph.MinInstances,
			n: ph.N, mean: ph.Mean, sum: ph.Sum, minSum: ph.MinSum}
	}
	m.gen++
	return nil
}

type snapshot struct {
	Format          int
	Window          time.Duration
	Lateness        time.Duration
	OutcomeLateness time.Duration
	Segments        []string
	Seq             uint64
	Stats           MonitorStats
	Features        []wire.FeatureDriftRow
	Performance     []wire.PerformanceRow
	Alerts          []Alert
	Policy          map[string]*policyState
	External        map[Stream]int64
	Models          []modelSnapshot
}

type modelSnapshot struct {
	Name             string
	Events, Scores   streamSnapshot
	OutcomeWatermark int64
	Counts           []countsSnapshot
	SegmentValues    [][]string
	ADWIN            adwinSnapshot
	PageHinkley      pageHinkleySnapshot
}

type streamSnapshot struct {
	Watermark int64
	Profiles  []profileSnapshot // pinned ones only
}

type profileSnapshot struct {
	Name       string
	Kind       kind
	RefStart   int64
	RefBins    []float64
	RefMissing float64
	// RefN and RefEvents are 0 in snapshots written before they existed.
	RefN, RefEvents int64
	Edges           []float64
	RefSample       []float64
	RefStd          float64
	CatIndex        map[string]int
}

type countsSnapshot struct {
	Start       int64
	Predictions int64
	Versions    map[int64]int64
	Segments    map[string]int64
}

type adwinSnapshot struct {
	Delta, Total, Variance float64
	Rows                   [][][2]float64 // (sum, variance) per bucket
	Width, Time, Changes   int64
}

type pageHinkleySnapshot struct {
	Delta, Threshold, Alpha float64
	MinInstances, N         int64
	Mean, Sum, MinSum       float64
}

func snapshotModel(ms *modelState) modelSnapshot {
	sm := modelSnapshot{
		Name: ms.name, Events: snapshotStream(ms.events), Scores: snapshotStream(ms.scores),
		OutcomeWatermark: ms.perf.watermark,
	}
	a, ph := ms.concept.adwin, ms.concept.ph
	sm.ADWIN = adwinSnapshot{Delta: a.delta, Total: a.total, Variance: a.variance, Width: a.width, Time: a.time, Changes: a.changes}
	for _, row := range a.rows {
		r := make([][2]float64, len(row))
		for i, b := range row {
			r[i] = [2]float64{b.sum, b.variance}
		}
		sm.ADWIN.Rows = append(sm.ADWIN.Rows, r)
	}
	sm.PageHinkley = pageHinkleySnapshot{Delta: ph.Delta, Threshold: ph.Threshold, Alpha: ph.Alpha,
		MinInstances: ph.MinInstances, N: ph.n, Mean: ph.mean, Sum: ph.sum, MinSum: ph.minSum}
	for start, c := range ms.closedCounts {
		sm.Counts = append(sm.Counts, countsSnapshot{Start: start, Predictions: c.predictions, Versions: c.versions, Segments: c.segments})
	}
	slices.SortFunc(sm.Counts, func(a, b countsSnapshot) int { return cmp.Compare(a.Start, b.Start) })
	for _, sv := range ms.segments {
		vals := make([]string, 0, len(sv.known))
		for v := range sv.known {
			vals = append(vals, v)
		}
		slices.Sort(vals)
		sm.SegmentValues = append(sm.SegmentValues, vals)
	}
	return sm
}

func snapshotStream(s *driftStream) streamSnapshot {
	ss := streamSnapshot{Watermark: s.watermark}
	for _, p := range s.profiles {
		if p.closed {
			ss.Profiles = append(ss.Profiles, profileSnapshot{
				Name: p.name, Kind: p.kind, RefStart: p.refStart, RefBins: p.refBins, RefMissing: p.refMissing,
				RefN: p.refN, RefEvents: p.refEvents, Edges: p.edges, RefSample: p.refSample, RefStd: p.refStd, CatIndex: p.catIndex,
			})
		}
	}
	slices.SortFunc(ss.Profiles, func(a, b profileSnapshot) int { return cmp.Compare(a.Name, b.Name) })
	return ss
}

func (sm *modelSnapshot) restoreStream(s *driftStream, ss *streamSnapshot) {
	s.watermark = ss.Watermark
	for _, p := range ss.Profiles {
		s.profiles[p.Name] = &profile{
			name: p.Name, kind: p.Kind, refStart: p.RefStart, closed: true, refBins: p.RefBins, refMissing: p.RefMissing,
			refN: p.RefN, refEvents: p.RefEvents, edges: p.Edges, refSample: p.RefSample, refStd: p.RefStd, catIndex: p.CatIndex,
		}
		if p.RefEvents == 0 {
			s.profiles[p.Name].estimateRefCounts()
		}
	}
}

func (a adwinSnapshot) adwin() *ADWIN {
	d := &ADWIN{delta: a.Delta, width: a.Width, total: a.Total, variance: a.Variance, time: a.Time, changes: a.Changes}
	for _, row := range a.Rows {
		r := make([]adwinBucket, len(row))
		for i, b := range row {
			r[i] = adwinBucket{sum: b[0], variance: b[1]}
		}
		d.rows = append(d.rows, r)
	}
	return d
}
