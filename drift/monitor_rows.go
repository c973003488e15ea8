package drift

import (
	"math"
	"slices"
	"time"
)

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
