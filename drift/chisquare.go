package drift

import (
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// ChiSquare tests whether refCounts and curCounts come from the same
// categorical distribution: Pearson's chi-square test of homogeneity on the
// 2×K contingency table [refCounts; curCounts], without Yates' correction.
// It matches scipy.stats.chi2_contingency([ref, cur], correction=False)
// after dropping the bins that are empty on both sides (scipy rejects
// them). The degrees of freedom are the number of kept bins minus one; with
// a single kept bin the statistic is 0 and the p-value 1. It returns NaN,
// NaN when the lengths differ, a count is negative or not finite, or either
// side sums to 0.
func ChiSquare(refCounts, curCounts []float64) (stat, pvalue float64) {
	nan := math.NaN()
	if len(refCounts) != len(curCounts) || len(refCounts) == 0 {
		return nan, nan
	}
	var rowRef, rowCur float64
	for i := range refCounts {
		r, c := refCounts[i], curCounts[i]
		if !validCount(r) || !validCount(c) {
			return nan, nan
		}
		rowRef += r
		rowCur += c
	}
	if rowRef <= 0 || rowCur <= 0 {
		return nan, nan
	}
	total := rowRef + rowCur
	kept := 0
	for i := range refCounts {
		col := refCounts[i] + curCounts[i]
		if col == 0 {
			continue
		}
		kept++
		eRef := rowRef * col / total
		eCur := rowCur * col / total
		dRef := refCounts[i] - eRef
		dCur := curCounts[i] - eCur
		stat += dRef*dRef/eRef + dCur*dCur/eCur
	}
	if kept < 2 {
		return 0, 1
	}
	return stat, distuv.ChiSquared{K: float64(kept - 1)}.Survival(stat)
}

func validCount(x float64) bool {
	return x >= 0 && !math.IsInf(x, 0) && !math.IsNaN(x)
}
