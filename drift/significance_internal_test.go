package drift

import (
	"fmt"
	"testing"

	"github.com/streamlearn/streamlearn/wire"
)

func TestFlagDriftBonferroni(t *testing.T) {
	sig := func(p float64) driftTest { return driftTest{eligible: true, informative: true, large: true, p: p} }
	small := driftTest{eligible: true, informative: true, p: 1e-9} // significant, below the PSI threshold
	dull := driftTest{eligible: true, p: 1}                        // a table with one column
	tests := []struct {
		name       string
		tests      []rowTests
		want       string // Drifted per row
		wantTested int
	}{
		{"one test below alpha", []rowTests{{dist: sig(0.009)}}, "[true]", 1},
		{"one test above alpha", []rowTests{{dist: sig(0.011)}}, "[false]", 1},
		{"four tests share alpha", []rowTests{{dist: sig(0.002)}, {dist: sig(0.003)}, {dist: sig(0.5)}, {dist: sig(0.5)}}, "[true false false false]", 4},
		{"missing-rate tests count too", []rowTests{{dist: sig(0.006), missing: sig(0.5)}}, "[false]", 1},
		{"a missing-rate flag", []rowTests{{dist: sig(0.5), missing: sig(0.001)}}, "[true]", 1},
		{"small effect never flags", []rowTests{{dist: small}}, "[false]", 1},
		{"uninformative tests do not count", []rowTests{{dist: sig(0.009), missing: dull}, {dist: dull}}, "[true false]", 2},
		{"too few values: no test", []rowTests{{dist: driftTest{informative: true, large: true, p: 1e-9}}, {}}, "[false false]", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows := make([]wire.FeatureDriftRow, len(tt.tests))
			gotTested := flagDrift(rows, tt.tests, 0.01)
			var got []bool
			for _, r := range rows {
				got = append(got, r.Drifted)
			}
			if fmt.Sprint(got) != tt.want || gotTested != tt.wantTested {
				t.Errorf("flags %v tested %d, want %s and %d", got, gotTested, tt.want, tt.wantTested)
			}
		})
	}
}

// TestEstimateRefCounts covers profiles restored from snapshots written
// before the reference counts were kept.
func TestEstimateRefCounts(t *testing.T) {
	tests := []struct {
		name          string
		p             profile
		wantN, wantEv int64
	}{
		{"no missing", profile{refBins: []float64{300, 200, 500}}, 1000, 1000},
		{"20% missing", profile{refBins: []float64{300, 500}, refMissing: 0.2}, 800, 1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.p.estimateRefCounts()
			if tt.p.refN != tt.wantN || tt.p.refEvents != tt.wantEv {
				t.Errorf("refN %d refEvents %d, want %d and %d", tt.p.refN, tt.p.refEvents, tt.wantN, tt.wantEv)
			}
		})
	}
}
