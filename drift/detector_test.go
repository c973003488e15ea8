package drift_test

import (
	"math/rand/v2"
	"testing"

	"github.com/streamlearn/streamlearn/drift"
)

type detector interface{ Add(float64) bool }

// bernoulli returns a 0/1 error stream with rate p0 for change values and
// p1 after.
func bernoulli(seed uint64, n, change int, p0, p1 float64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 42))
	out := make([]float64, n)
	for i := range out {
		p := p0
		if i >= change {
			p = p1
		}
		if rng.Float64() < p {
			out[i] = 1
		}
	}
	return out
}

func TestDetectorsFindAbruptChange(t *testing.T) {
	for _, c := range []struct {
		name  string
		new   func() detector
		p0    float64
		p1    float64
		bound int
	}{
		{"ADWIN 0.2->0.6", func() detector { return drift.NewADWIN(0.002) }, 0.2, 0.6, 200},
		{"ADWIN 0.1->0.3", func() detector { return drift.NewADWIN(0.002) }, 0.1, 0.3, 1000},
		{"PageHinkley 0.2->0.6", func() detector { return drift.NewPageHinkley(0.05, 50) }, 0.2, 0.6, 400},
		{"PageHinkley 0.1->0.3", func() detector { return drift.NewPageHinkley(0.05, 50) }, 0.1, 0.3, 1500},
	} {
		for seed := uint64(1); seed <= 20; seed++ {
			const change = 5000
			d := c.new()
			detected := -1
			for i, x := range bernoulli(seed, change+5000, change, c.p0, c.p1) {
				if d.Add(x) {
					if i < change {
						t.Errorf("%s seed %d: false alarm at %d", c.name, seed, i)
						continue
					}
					detected = i
					break
				}
			}
			if detected < 0 || detected-change > c.bound {
				t.Errorf("%s seed %d: detected at %d, want within %d of %d", c.name, seed, detected, c.bound, change)
			}
		}
	}
}

func TestDetectorsQuietOnStableStream(t *testing.T) {
	for _, c := range []struct {
		name string
		new  func() detector
	}{
		{"ADWIN", func() detector { return drift.NewADWIN(0.002) }},
		{"PageHinkley", func() detector { return drift.NewPageHinkley(0.05, 50) }},
	} {
		for seed := uint64(1); seed <= 5; seed++ {
			d := c.new()
			for i, x := range bernoulli(seed, 200000, 200000, 0.2, 0.2) {
				if d.Add(x) {
					t.Errorf("%s seed %d: false alarm at %d", c.name, seed, i)
					break
				}
			}
		}
	}
}

func TestADWINWindowShrinksAfterChange(t *testing.T) {
	a := drift.NewADWIN(0.002)
	for _, x := range bernoulli(9, 10000, 5000, 0.1, 0.9) {
		a.Add(x)
	}
	if a.Width() >= 5000 || a.Width() < 100 {
		t.Errorf("Width = %d, want the post-change part only", a.Width())
	}
	if m := a.Mean(); m < 0.8 {
		t.Errorf("Mean = %v, want about 0.9", m)
	}
	if a.Changes() < 1 {
		t.Error("no change counted")
	}
}
