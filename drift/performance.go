package drift

import (
	"cmp"
	"math"
	"slices"

	"github.com/streamlearn/streamlearn/eval"
	"github.com/streamlearn/streamlearn/wire"
)

// aucHistogramBins is the resolution of the AUC fallback beyond
// MaxExactOutcomes: ties inside one of these bins count 1/2, so the error
// is at most half the share of (positive, negative) pairs that share a bin.
const aucHistogramBins = 1 << 16

// performanceAcc accumulates joined examples of one performance row (one
// model version or all of them, one segment or all traffic) in one window.
// Log loss, Brier, ECE, precision, recall, MAE, RMSE, coverage and delay
// are running sums and exact on any stream; AUC is exact while the window
// holds at most maxExact outcomes.
type performanceAcc struct {
	regression bool
	threshold  float64

	n, positives     int64
	observed         int64   // labels observed, not implied: label coverage
	delays           int64   // of those, with a known outcome time
	sumDelay         float64 // seconds
	predPos, truePos int64
	sumAbs, sumSq    float64
	sumLogLoss       float64
	cal              *calibration
	maxExact         int
	posScores        []float64
	negScores        []float64
	histPos, histNeg []float64 // non-nil once past maxExact
	maxVersion       int64
	errs             *bottomK[timedError] // the detectors' input; all-versions, all-traffic rows only
}

// timedError is one example's error at its event time, for the detectors.
type timedError struct {
	ts  int64
	err float64
}

func newPerformanceAcc(cfg *MonitorConfig, withErrors bool) *performanceAcc {
	p := &performanceAcc{regression: cfg.Regression, threshold: cfg.Threshold, maxExact: cfg.MaxExactOutcomes, maxVersion: math.MinInt64}
	if !cfg.Regression {
		p.cal = newCalibration(cfg.ECEBins)
	}
	if withErrors {
		e := newBottomK[timedError](cfg.MaxExactOutcomes)
		p.errs = &e
	}
	return p
}

// add records one example; a binary label must be 0 or 1.
func (p *performanceAcc) add(o *outcomeObs) {
	p.n++
	if !o.implicit {
		p.observed++
		if o.hasDelay {
			p.delays++
			p.sumDelay += o.delay
		}
	}
	p.maxVersion = max(p.maxVersion, o.version)
	d := o.score - o.label
	p.sumAbs += math.Abs(d)
	p.sumSq += d * d
	if p.errs != nil {
		p.errs.add(timedError{o.ts, o.err}, o.pri)
	}
	if p.regression {
		return
	}
	positive := o.label == 1
	if o.score >= p.threshold {
		p.predPos++
		if positive {
			p.truePos++
		}
	}
	p.sumLogLoss += eval.PointLogLoss(o.score, o.label)
	p.cal.add(o.score, o.label)
	if positive {
		p.positives++
	}
	if p.histPos != nil {
		p.addHistogram(o.score, positive)
		return
	}
	if positive {
		p.posScores = append(p.posScores, o.score)
	} else {
		p.negScores = append(p.negScores, o.score)
	}
	if len(p.posScores)+len(p.negScores) > p.maxExact {
		p.histPos = make([]float64, aucHistogramBins)
		p.histNeg = make([]float64, aucHistogramBins)
		for _, s := range p.posScores {
			p.addHistogram(s, true)
		}
		for _, s := range p.negScores {
			p.addHistogram(s, false)
		}
		p.posScores, p.negScores = nil, nil
	}
}

func (p *performanceAcc) addHistogram(score float64, positive bool) {
	b := int(math.Min(math.Max(score, 0), 1) * aucHistogramBins)
	b = min(b, aucHistogramBins-1)
	if positive {
		p.histPos[b]++
	} else {
		p.histNeg[b]++
	}
}

func (p *performanceAcc) auc() float64 {
	if p.histPos == nil {
		// Sorting in place is fine: the stored scores are a multiset.
		slices.Sort(p.posScores)
		slices.Sort(p.negScores)
		return eval.AUCSorted(p.posScores, p.negScores)
	}
	var below, twiceU, pos, neg float64
	for b := range p.histPos {
		twiceU += p.histPos[b] * (2*below + p.histNeg[b])
		below += p.histNeg[b]
		pos += p.histPos[b]
		neg += p.histNeg[b]
	}
	if pos == 0 || neg == 0 {
		return math.NaN()
	}
	return twiceU / (2 * pos * neg)
}

// row returns the metrics; predictions is the number of predictions the
// row's examples could have joined (0: unknown, coverage NaN).
func (p *performanceAcc) row(predictions int64) wire.PerformanceRow {
	nan := math.NaN()
	r := wire.PerformanceRow{N: p.n, Positives: p.positives, LabelCoverage: nan, MeanDelaySeconds: nan}
	if predictions > 0 {
		r.LabelCoverage = float64(p.observed) / float64(predictions)
	}
	if p.delays > 0 {
		r.MeanDelaySeconds = p.sumDelay / float64(p.delays)
	}
	r.AUC, r.LogLoss, r.Brier, r.ECE, r.Precision, r.Recall, r.MAE, r.RMSE = nan, nan, nan, nan, nan, nan, nan, nan
	if p.n == 0 {
		return r
	}
	n := float64(p.n)
	r.MAE = p.sumAbs / n
	r.RMSE = math.Sqrt(p.sumSq / n)
	if p.regression {
		return r
	}
	r.AUC = p.auc()
	r.LogLoss = p.sumLogLoss / n
	r.Brier = p.sumSq / n
	r.ECE = p.cal.ece()
	if p.predPos > 0 {
		r.Precision = float64(p.truePos) / float64(p.predPos)
	}
	if p.positives > 0 {
		r.Recall = float64(p.truePos) / float64(p.positives)
	}
	return r
}

// errors returns the sampled errors in event-time order (ties broken by
// priority, so that the order does not depend on arrival).
func (p *performanceAcc) errors() []prioritized[timedError] {
	p.errs.trim()
	es := p.errs.items
	slices.SortFunc(es, func(a, b prioritized[timedError]) int {
		return cmp.Or(cmp.Compare(a.v.ts, b.v.ts), cmp.Compare(a.pri, b.pri))
	})
	return es
}
