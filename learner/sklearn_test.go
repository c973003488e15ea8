package learner_test

import (
	"encoding/csv"
	"math"
	"os"
	"strconv"
	"testing"

	"github.com/streamlearn/streamlearn/learner"
	"github.com/streamlearn/streamlearn/wire"
)

// sklearnCoefficients reads testdata/logreg_sklearn.csv, written by make_logreg_reference.py: the
// coefficients of scikit-learn's unpenalized LogisticRegression on testdata/logreg.csv.
func sklearnCoefficients(t *testing.T) map[string]float64 {
	t.Helper()
	f, err := os.Open("testdata/logreg_sklearn.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{}
	for _, r := range rows[1:] {
		if want[r[0]], err = strconv.ParseFloat(r[1], 64); err != nil {
			t.Fatal(err)
		}
	}
	return want
}

// unpenalized is a binary spec with neither regularization nor standardization, whose optimum is the
// maximum likelihood estimate that scikit-learn computes.
func unpenalized(alpha float64) learner.Spec {
	s := learner.DefaultSpec()
	s.Alpha, s.Beta, s.L1, s.L2, s.Standardize = alpha, 1, 0, 0, false
	return s
}

// coefficients reads the intercept and the weights of x1..x5 out of a snapshot's explanation.
func coefficients(s *learner.Snapshot) map[string]float64 {
	v := wire.Vector{{Name: "x1", Value: 1}, {Name: "x2", Value: 1}, {Name: "x3", Value: 1}, {Name: "x4", Value: 1}, {Name: "x5", Value: 1}}
	got := map[string]float64{}
	for _, c := range s.Contributions(v) {
		if c.Feature == "(bias)" {
			got["intercept"] = c.Weight
		} else {
			got[c.Feature] = c.Weight
		}
	}
	return got
}

func compareCoefficients(t *testing.T, got, want map[string]float64, tol float64) {
	t.Helper()
	for name, w := range want {
		if math.Abs(got[name]-w) > tol {
			t.Errorf("%s: got %.5f, want %.5f (scikit-learn) within %v", name, got[name], w, tol)
		}
	}
}

func TestConvergesToSklearnFullBatch(t *testing.T) {
	stream := loadCSV(t, "logreg")
	vs, ys := split(stream)
	e := newEngine(t, unpenalized(1), nil)
	for range 3000 {
		if _, err := e.Learn(vs, ys); err != nil {
			t.Fatal(err)
		}
	}
	snap, err := e.Snapshot(0)
	if err != nil {
		t.Fatal(err)
	}
	compareCoefficients(t, coefficients(snap), sklearnCoefficients(t), 1e-4)
}

func TestConvergesToSklearnOnline(t *testing.T) {
	stream := loadCSV(t, "logreg")
	tr := newTrainer(t, unpenalized(0.1))
	for range 50 {
		for _, ex := range stream {
			tr.Learn(ex.v, ex.y)
		}
	}
	// One example at a time the weights keep moving with each example; they stay close to the optimum.
	compareCoefficients(t, coefficients(tr.Snapshot()), sklearnCoefficients(t), 0.02)
}
