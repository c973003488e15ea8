package drift

import (
	"math"
	"slices"
)

// aucHistogramBins is the resolution of the AUC fallback beyond
// MaxExactOutcomes: ties inside one of these bins count 1/2, so the error
// is at most half the share of (positive, negative) pairs that share a bin.
const aucHistogramBins = 1 << 16

// performanceAcc accumulates joined outcomes of one model version in one
// window. Log loss, Brier and ECE are kept as running sums and are exact on
// any stream; AUC is exact while the window holds at most maxExact outcomes.
type performanceAcc struct {
	n, positives     int64
	sumLogLoss       float64
	sumBrier         float64
	cal              *calibration
	maxExact         int
	posScores        []float64
	negScores        []float64
	histPos, histNeg []float64 // non-nil once past maxExact
}

func newPerformanceAcc(cfg *MonitorConfig) *performanceAcc {
	return &performanceAcc{cal: newCalibration(cfg.ECEBins), maxExact: cfg.MaxExactOutcomes}
}

// add records one outcome; label must be 0 or 1.
func (p *performanceAcc) add(score, label float64) {
	p.n++
	p.sumLogLoss += logLoss(score, label)
	d := score - label
	p.sumBrier += d * d
	p.cal.add(score, label)
	positive := label == 1
	if positive {
		p.positives++
	}
	if p.histPos != nil {
		p.addHistogram(score, positive)
		return
	}
	if positive {
		p.posScores = append(p.posScores, score)
	} else {
		p.negScores = append(p.negScores, score)
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
		return aucSorted(p.posScores, p.negScores)
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

func (p *performanceAcc) row() PerformanceRow {
	r := PerformanceRow{N: p.n, Positives: p.positives, AUC: p.auc()}
	if p.n == 0 {
		r.LogLoss, r.Brier, r.ECE = math.NaN(), math.NaN(), math.NaN()
		return r
	}
	r.LogLoss = p.sumLogLoss / float64(p.n)
	r.Brier = p.sumBrier / float64(p.n)
	r.ECE = p.cal.ece()
	return r
}
