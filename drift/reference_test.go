package drift_test

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sync"
	"testing"
)

// jfloat decodes the numbers of testdata/reference.json, where NaN and the
// infinities are the strings "NaN", "+Inf" and "-Inf".
type jfloat float64

func (f *jfloat) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		switch s {
		case "NaN":
			*f = jfloat(math.NaN())
		case "+Inf":
			*f = jfloat(math.Inf(1))
		case "-Inf":
			*f = jfloat(math.Inf(-1))
		default:
			return fmt.Errorf("bad float %q", s)
		}
		return nil
	}
	var v float64
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*f = jfloat(v)
	return nil
}

func floats(x []jfloat) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}

type reference struct {
	Binned []struct {
		Name          string
		Ref, Cur      []jfloat
		PSI, JS, LInf jfloat
		Chi2          jfloat
		Chi2P         jfloat `json:"chi2_p"`
	}
	Labelled []struct {
		Name                string
		Scores, Labels      []jfloat
		AUC, LogLoss, Brier jfloat
		ECE                 map[string]struct {
			ECE      jfloat
			Counts   []int64
			ProbTrue []jfloat `json:"prob_true"`
			ProbPred []jfloat `json:"prob_pred"`
		}
		MAE, RMSE   jfloat
		AtThreshold map[string]struct{ Precision, Recall jfloat } `json:"at_threshold"`
	}
	Samples []struct {
		Name            string
		A, B            []jfloat
		Wasserstein     jfloat
		WassersteinNorm *jfloat `json:"wasserstein_norm"`
		KS              map[string]struct{ Stat, P jfloat }
	}
	KStwoSF []struct {
		N     int
		X, SF jfloat
	} `json:"kstwo_sf"`
}

var (
	refOnce sync.Once
	refData reference
	refErr  error
)

func loadReference(t *testing.T) *reference {
	t.Helper()
	refOnce.Do(func() {
		b, err := os.ReadFile("testdata/reference.json")
		if err != nil {
			refErr = err
			return
		}
		refErr = json.Unmarshal(b, &refData)
	})
	if refErr != nil {
		t.Fatalf("load reference: %v", refErr)
	}
	return &refData
}

// close reports whether got matches want within a relative tolerance (an
// absolute one near 0); NaN matches NaN and infinities must be equal.
func close(got, want, tol float64) bool {
	switch {
	case math.IsNaN(want) || math.IsNaN(got):
		return math.IsNaN(want) && math.IsNaN(got)
	case math.IsInf(want, 0) || math.IsInf(got, 0):
		return got == want
	}
	return math.Abs(got-want) <= tol*math.Max(1, math.Abs(want))
}

func checkClose(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if !close(got, want, tol) {
		t.Errorf("%s = %.17g, want %.17g (tol %g)", what, got, want, tol)
	}
}
