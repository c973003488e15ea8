// Package eval holds the evaluation metrics that the learner (progressive validation, retrain
// shadow phases) and the drift stage (performance windows) both compute, so that neither stage
// imports the other for them. It imports only the standard library.
package eval

import (
	"math"
	"slices"
)

// LogLossEpsilon is the clipping bound of LogLoss: probabilities are clipped
// to [LogLossEpsilon, 1-LogLossEpsilon], as sklearn.metrics.log_loss does
// with eps=1e-15.
const LogLossEpsilon = 1e-15

// AUC returns the exact area under the ROC curve of scores for binary
// labels: the Mann-Whitney statistic U/(n₊·n₋), where each (positive,
// negative) pair counts 1 when the positive scores higher and 1/2 on a tie.
// This equals sklearn.metrics.roc_auc_score. A label counts as positive
// when it is ≥ 0.5 (labels are expected to be 0 or 1). It returns NaN when
// the lengths differ, a score or label is NaN, or one class is missing.
func AUC(scores, labels []float64) float64 {
	if len(scores) != len(labels) {
		return math.NaN()
	}
	var pos, neg []float64
	for i, s := range scores {
		y := labels[i]
		if math.IsNaN(s) || math.IsNaN(y) {
			return math.NaN()
		}
		if y >= 0.5 {
			pos = append(pos, s)
		} else {
			neg = append(neg, s)
		}
	}
	slices.Sort(pos)
	slices.Sort(neg)
	return AUCSorted(pos, neg)
}

// AUCSorted computes the Mann-Whitney AUC from the sorted scores of the
// positives and of the negatives in one merge pass. The pair count is kept
// as an integer (twice U) so that the result is exact up to the final
// division.
func AUCSorted(pos, neg []float64) float64 {
	if len(pos) == 0 || len(neg) == 0 {
		return math.NaN()
	}
	var twiceU uint64
	lo, hi := 0, 0 // neg[:lo] < s, neg[:hi] <= s
	for _, s := range pos {
		for lo < len(neg) && neg[lo] < s {
			lo++
		}
		if hi < lo {
			hi = lo
		}
		for hi < len(neg) && neg[hi] <= s {
			hi++
		}
		twiceU += uint64(2*lo + (hi - lo))
	}
	return float64(twiceU) / (2 * float64(len(pos)) * float64(len(neg)))
}

// LogLoss returns the mean binary cross-entropy
// -[y·ln p + (1-y)·ln(1-p)] with p clipped to
// [LogLossEpsilon, 1-LogLossEpsilon], matching sklearn.metrics.log_loss
// with labels=[0, 1] and eps=1e-15. It returns NaN when the lengths differ,
// the slices are empty or a value is NaN.
func LogLoss(scores, labels []float64) float64 {
	if len(scores) != len(labels) || len(scores) == 0 {
		return math.NaN()
	}
	var sum float64
	for i, p := range scores {
		sum += PointLogLoss(p, labels[i])
	}
	return sum / float64(len(scores))
}

// PointLogLoss is the log loss of one score p for label y, clipped as LogLoss clips it.
func PointLogLoss(p, y float64) float64 {
	p = math.Min(math.Max(p, LogLossEpsilon), 1-LogLossEpsilon)
	return -(y*math.Log(p) + (1-y)*math.Log(1-p))
}

// Brier returns the mean squared difference between scores and labels, the
// value of sklearn.metrics.brier_score_loss. Scores are not clipped. It
// returns NaN when the lengths differ, the slices are empty or a value is
// NaN.
func Brier(scores, labels []float64) float64 {
	if len(scores) != len(labels) || len(scores) == 0 {
		return math.NaN()
	}
	var sum float64
	for i, p := range scores {
		d := p - labels[i]
		sum += d * d
	}
	return sum / float64(len(scores))
}
