package learner

import (
	"math"
	"testing"
)

func TestMomentsBound(t *testing.T) {
	warm := func(xs ...float64) moments {
		var m moments
		for _, x := range xs {
			m.observe(x)
		}
		return m
	}
	tests := []struct {
		name string
		m    moments
		x    float64
		want float64
	}{
		{"first value, huge", moments{}, 1e200, maxStat},
		{"first value, ordinary", moments{}, 5, 5},
		{"no spread yet, unit 1", warm(0, 0), 1e200, clipSD},
		{"no spread yet, unit |mean|", warm(-100), -1e308, -100 - clipSD*100},
		{"within spread", warm(1, 3), 4, 4},
		{"past spread", warm(1, 3), 1e200, 2 + clipSD},
		{"below spread", warm(1, 3), -math.MaxFloat64, 2 - clipSD},
		{"denormal", warm(1, 3), 5e-324, 5e-324},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.m.bound(tt.x); got != tt.want {
				t.Errorf("bound(%v) = %v, want %v", tt.x, got, tt.want)
			}
		})
	}
}

// TestCheckpointWithNonFiniteStateResumesFinite reads a checkpoint written before the state was
// guarded, with an overflowed variance and an infinite weight, and resumes with those reset.
func TestCheckpointWithNonFiniteStateResumesFinite(t *testing.T) {
	spec := DefaultSpec()
	spec.HashBits = 4
	spec.Task = Regression
	tr, err := NewOnline(spec)
	if err != nil {
		t.Fatal(err)
	}
	tr.stats[3] = moments{n: 10, mean: 1e199, m2: math.Inf(1)}
	tr.target = moments{n: 10, mean: math.NaN(), m2: 1}
	tr.p.c[5] = coord{z: math.Inf(-1), s: 1, w: math.NaN()}
	tr.p.c[6] = coord{z: 1, s: 2, w: 0.5}
	b, err := tr.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	back, err := decodeCheckpoint(b)
	if err != nil {
		t.Fatal(err)
	}
	if got := back.stats[3]; got != (moments{}) {
		t.Errorf("stats = %+v, want reset", got)
	}
	if got := back.target; got != (moments{}) {
		t.Errorf("target = %+v, want reset", got)
	}
	if got, want := back.p.c[5], (coord{}); got != want {
		t.Errorf("coordinate 5 = %+v, want %+v", got, want)
	}
	if got, want := back.p.c[6], (coord{z: 1, s: 2, w: 0.5}); got != want {
		t.Errorf("coordinate 6 = %+v, want %+v", got, want)
	}
}
