package drift_test

import (
	"math"
	"slices"
	"strconv"
	"testing"

	"github.com/streamlearn/streamlearn/drift"
	"github.com/streamlearn/streamlearn/eval"
)

func TestBinnedAgainstScipy(t *testing.T) {
	for _, c := range loadReference(t).Binned {
		t.Run(c.Name, func(t *testing.T) {
			ref, cur := floats(c.Ref), floats(c.Cur)
			keepRef, keepCur := slices.Clone(ref), slices.Clone(cur)
			checkClose(t, "PSI", drift.PSI(ref, cur), float64(c.PSI), 1e-12)
			checkClose(t, "JensenShannon", drift.JensenShannon(ref, cur), float64(c.JS), 1e-12)
			checkClose(t, "LInf", drift.LInf(ref, cur), float64(c.LInf), 1e-12)
			stat, p := drift.ChiSquare(ref, cur)
			checkClose(t, "ChiSquare stat", stat, float64(c.Chi2), 1e-10)
			checkClose(t, "ChiSquare p", p, float64(c.Chi2P), 1e-8)
			if !slices.Equal(ref, keepRef) || !slices.Equal(cur, keepCur) {
				t.Error("inputs mutated")
			}
		})
	}
}

func TestLabelledAgainstSklearn(t *testing.T) {
	for _, c := range loadReference(t).Labelled {
		t.Run(c.Name, func(t *testing.T) {
			s, y := floats(c.Scores), floats(c.Labels)
			keepS, keepY := slices.Clone(s), slices.Clone(y)
			checkClose(t, "AUC", eval.AUC(s, y), float64(c.AUC), 1e-12)
			checkClose(t, "LogLoss", eval.LogLoss(s, y), float64(c.LogLoss), 1e-12)
			checkClose(t, "Brier", eval.Brier(s, y), float64(c.Brier), 1e-12)
			for binsStr, want := range c.ECE {
				bins, _ := strconv.Atoi(binsStr)
				ece, rel := drift.ECE(s, y, bins)
				checkClose(t, "ECE/"+binsStr, ece, float64(want.ECE), 1e-12)
				if len(rel) != bins {
					t.Fatalf("ECE/%d: %d bins", bins, len(rel))
				}
				var nonEmpty []drift.ReliabilityBin
				for i, b := range rel {
					if b.N != want.Counts[i] {
						t.Errorf("ECE/%d bin %d: N = %d, want %d", bins, i, b.N, want.Counts[i])
					}
					if b.N > 0 {
						nonEmpty = append(nonEmpty, b)
					}
				}
				if want.ProbTrue == nil {
					continue
				}
				if len(nonEmpty) != len(want.ProbTrue) {
					t.Fatalf("ECE/%d: %d non-empty bins, calibration_curve has %d", bins, len(nonEmpty), len(want.ProbTrue))
				}
				for i, b := range nonEmpty {
					checkClose(t, "FracPositive", b.FracPositive, float64(want.ProbTrue[i]), 1e-12)
					checkClose(t, "MeanScore", b.MeanScore, float64(want.ProbPred[i]), 1e-12)
				}
			}
			if !slices.Equal(s, keepS) || !slices.Equal(y, keepY) {
				t.Error("inputs mutated")
			}
		})
	}
}

func TestSamplesAgainstScipy(t *testing.T) {
	methods := map[string]drift.KSMethod{"auto": drift.KSAuto, "exact": drift.KSExact, "asymp": drift.KSAsymp}
	for _, c := range loadReference(t).Samples {
		t.Run(c.Name, func(t *testing.T) {
			a, b := floats(c.A), floats(c.B)
			keepA, keepB := slices.Clone(a), slices.Clone(b)
			checkClose(t, "Wasserstein", drift.Wasserstein(a, b), float64(c.Wasserstein), 1e-10)
			if c.WassersteinNorm != nil {
				checkClose(t, "WassersteinNormalized", drift.WassersteinNormalized(a, b), float64(*c.WassersteinNorm), 1e-10)
			}
			for name, want := range c.KS {
				stat, p := drift.KSWithMethod(a, b, methods[name])
				checkClose(t, "KS stat "+name, stat, float64(want.Stat), 1e-12)
				checkClose(t, "KS p "+name, p, float64(want.P), 1e-8)
				if name == "auto" {
					s2, p2 := drift.KS(a, b)
					if s2 != stat || p2 != p {
						t.Errorf("KS differs from KSWithMethod(KSAuto)")
					}
				}
			}
			if !slices.Equal(a, keepA) || !slices.Equal(b, keepB) {
				t.Error("inputs mutated")
			}
		})
	}
}

func TestKolmogorovSFAgainstScipy(t *testing.T) {
	for _, c := range loadReference(t).KStwoSF {
		got := drift.KolmogorovSF(c.N, float64(c.X))
		// Absolute tolerance: the p-values that matter are not tiny.
		if !close(got, float64(c.SF), 1e-9) && math.Abs(got-float64(c.SF)) > 1e-12 {
			t.Errorf("KolmogorovSF(%d, %g) = %.17g, want %.17g", c.N, float64(c.X), got, float64(c.SF))
		}
	}
}

func TestStatisticsEdgeCases(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	isNaN := func(t *testing.T, name string, v float64) {
		t.Helper()
		if !math.IsNaN(v) {
			t.Errorf("%s = %v, want NaN", name, v)
		}
	}
	for _, c := range []struct {
		name     string
		ref, cur []float64
	}{
		{"empty", nil, nil},
		{"length mismatch", []float64{1, 2}, []float64{1}},
		{"zero sum", []float64{0, 0}, []float64{1, 1}},
		{"negative", []float64{-1, 2}, []float64{1, 1}},
		{"nan", []float64{nan, 2}, []float64{1, 1}},
		{"inf", []float64{inf, 2}, []float64{1, 1}},
	} {
		isNaN(t, "PSI/"+c.name, drift.PSI(c.ref, c.cur))
		isNaN(t, "JS/"+c.name, drift.JensenShannon(c.ref, c.cur))
		isNaN(t, "LInf/"+c.name, drift.LInf(c.ref, c.cur))
		s, p := drift.ChiSquare(c.ref, c.cur)
		isNaN(t, "Chi2/"+c.name, s)
		isNaN(t, "Chi2p/"+c.name, p)
	}
	for _, c := range []struct {
		name string
		s, y []float64
	}{
		{"empty", nil, nil},
		{"mismatch", []float64{0.1}, []float64{1, 0}},
		{"nan score", []float64{nan, 0.2}, []float64{1, 0}},
		{"nan label", []float64{0.1, 0.2}, []float64{nan, 0}},
	} {
		isNaN(t, "AUC/"+c.name, eval.AUC(c.s, c.y))
		if len(c.s) != len(c.y) || len(c.s) == 0 {
			isNaN(t, "LogLoss/"+c.name, eval.LogLoss(c.s, c.y))
			isNaN(t, "Brier/"+c.name, eval.Brier(c.s, c.y))
			e, rel := drift.ECE(c.s, c.y, 10)
			isNaN(t, "ECE/"+c.name, e)
			if rel != nil {
				t.Errorf("ECE/%s reliability = %v, want nil", c.name, rel)
			}
		}
	}
	if e, _ := drift.ECE([]float64{0.5}, []float64{1}, 0); !math.IsNaN(e) {
		t.Errorf("ECE with 0 bins = %v, want NaN", e)
	}
	for _, c := range []struct {
		name string
		a, b []float64
	}{
		{"empty a", nil, []float64{1}},
		{"empty b", []float64{1}, nil},
		{"nan", []float64{nan, 1}, []float64{1}},
	} {
		s, p := drift.KS(c.a, c.b)
		isNaN(t, "KS/"+c.name, s)
		isNaN(t, "KSp/"+c.name, p)
		isNaN(t, "Wasserstein/"+c.name, drift.Wasserstein(c.a, c.b))
		isNaN(t, "WassersteinNormalized/"+c.name, drift.WassersteinNormalized(c.a, c.b))
	}
	if got := drift.WassersteinNormalized([]float64{1, 1}, []float64{1}); got != 0 {
		t.Errorf("WassersteinNormalized(constant, same) = %v, want 0", got)
	}
	if got := drift.WassersteinNormalized([]float64{1, 1}, []float64{2}); !math.IsInf(got, 1) {
		t.Errorf("WassersteinNormalized(constant, other) = %v, want +Inf", got)
	}
}
