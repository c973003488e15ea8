package drift

import (
	"math"
	"slices"
	"time"

	"github.com/streamlearn/streamlearn/wire"
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
// final ones. It also returns how many rows were large enough to test.
func (m *Monitor) featureRows(model string, s *driftStream, w *driftWindow, final bool) ([]wire.FeatureDriftRow, int) {
	names := make([]string, 0, len(s.profiles))
	for name, p := range s.profiles {
		if w.feats[name] != nil || p.refStart <= w.start {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	rows := make([]wire.FeatureDriftRow, 0, len(names))
	tests := make([]rowTests, 0, len(names))
	for _, name := range names {
		p := s.profiles[name]
		isRef := p.refStart == w.start
		if !isRef && !p.closed && !final {
			continue
		}
		r := wire.FeatureDriftRow{
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
		var t rowTests
		switch {
		case isRef:
			r.KSPValue, r.Chi2PValue = 1, 1
			if p.closed {
				r.Bins, r.ReferenceShares = p.binLabels(), shares(p.refBins)
				r.WindowShares = r.ReferenceShares
			}
			if p.kind != kindNumeric {
				r.KS, r.KSPValue, r.Wasserstein = math.NaN(), math.NaN(), math.NaN()
			}
		case !p.closed || n == 0:
			setNaN(&r)
			if p.closed {
				t.missing = m.missingTest(r.MissingRate, w.events, n, p)
			}
		default:
			t = m.compare(&r, p, a, w.events)
		}
		rows = append(rows, r)
		tests = append(tests, t)
	}
	return rows, flagDrift(rows, tests, m.cfg.Alpha)
}

// ksExactMaxPairs bounds n·m for the exact KS p-value in rows; larger
// sample pairs use the asymptotic distribution, which is far cheaper.
const ksExactMaxPairs = 1 << 20

// compare fills the statistics of a row and returns its drift tests.
func (m *Monitor) compare(r *wire.FeatureDriftRow, p *profile, a *featureAcc, events int64) rowTests {
	cur := a.binned()
	r.Bins, r.ReferenceShares, r.WindowShares = p.binLabels(), shares(p.refBins), shares(cur)
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
	minN := m.cfg.MinWindowValues
	return rowTests{
		dist: driftTest{
			eligible:    a.n >= minN && p.refN >= minN && !math.IsNaN(r.Chi2PValue),
			informative: informative(p.refBins, cur),
			p:           r.Chi2PValue,
			large:       r.PSI > m.cfg.PSIThreshold,
		},
		missing: m.missingTest(r.MissingRate, events, a.n, p),
	}
}

// missingTest tests the change of a feature's missing rate: chi-square on
// the 2×2 table of present and missing counts (the two-proportion z-test).
func (m *Monitor) missingTest(rate float64, events, n int64, p *profile) driftTest {
	minN := m.cfg.MinWindowValues
	if m.cfg.MissingRateThreshold < 0 || events < minN || p.refEvents < minN {
		return driftTest{}
	}
	ref := []float64{float64(p.refN), float64(p.refEvents - p.refN)}
	cur := []float64{float64(n), float64(events - n)}
	_, pv := ChiSquare(ref, cur)
	return driftTest{
		eligible:    !math.IsNaN(pv),
		informative: informative(ref, cur),
		p:           pv,
		large:       math.Abs(rate-p.refMissing) > m.cfg.MissingRateThreshold,
	}
}

// driftTest is one significance test of a row. eligible: both sides hold
// MinWindowValues; informative: its table has two non-empty columns (a
// test that cannot reject does not count against the others); large: the
// effect exceeds its threshold.
type driftTest struct {
	eligible, informative, large bool
	p                            float64
}

// rowTests are a row's tests: its binned distribution and its missing rate.
type rowTests struct{ dist, missing driftTest }

func (t driftTest) counts() bool { return t.eligible && t.informative }

// flags reports a drift: a large effect, significant at bound.
func (t driftTest) flags(bound float64) bool { return t.counts() && t.large && t.p < bound }

// flagDrift sets Drifted on the rows whose tests flag at Alpha/k, k being the
// number of tests that count in the window (Bonferroni), and returns how
// many rows had an eligible test.
func flagDrift(rows []wire.FeatureDriftRow, tests []rowTests, alpha float64) int {
	var k, tested int
	for _, t := range tests {
		if t.dist.eligible || t.missing.eligible {
			tested++
		}
		for _, c := range []bool{t.dist.counts(), t.missing.counts()} {
			if c {
				k++
			}
		}
	}
	bound := alpha / float64(max(k, 1))
	for i, t := range tests {
		rows[i].Drifted = t.dist.flags(bound) || t.missing.flags(bound)
	}
	return tested
}

// informative reports whether a 2×K table [ref; cur] has two non-empty
// columns.
func informative(ref, cur []float64) bool {
	k := 0
	for i := range ref {
		if ref[i]+cur[i] > 0 {
			k++
		}
	}
	return k >= 2
}

func setNaN(r *wire.FeatureDriftRow) {
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

func (m *Monitor) performanceRow(ms *modelState, w *performanceWindow) wire.PerformanceRow {
	r := w.acc.row(ms.predictions(w.key))
	r.WindowStart = time.Unix(0, w.key.start).UTC()
	r.WindowEnd = time.Unix(0, w.key.start+m.timing.window).UTC()
	r.Model = ms.name
	r.Version = w.key.version
	r.Segment = w.key.segment
	return r
}
