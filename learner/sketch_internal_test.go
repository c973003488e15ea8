package learner

import (
	"bytes"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/streamlearn/streamlearn/wire"
)

// vecOf is a vector of numeric features x0, x1, ... with values xs.
func vecOf(xs []float64) wire.Vector {
	v := make(wire.Vector, len(xs))
	for i, x := range xs {
		v[i] = wire.Feature{Name: "x" + string(rune('0'+i)), Value: x}
	}
	return v
}

// cutsOf sketches xs and returns the split candidates for bins.
func cutsOf(xs []float64, bins int) []float64 {
	var s kll
	for _, x := range xs {
		s.add(x)
	}
	return quantileCuts(nil, s.points(nil), bins)
}

// below counts the values of xs at most c.
func below(xs []float64, c float64) int {
	n := 0
	for _, x := range xs {
		if x <= c {
			n++
		}
	}
	return n
}

// TestQuantileCutsPointMasses: values exactly -1, 0 or 1 (as many of Ionosphere's features) get
// one cut between each two of them and no more; a point mass beside a continuous part gets a cut
// that leaves it whole on its side, and the continuous part gets the remaining cuts.
func TestQuantileCutsPointMasses(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var ternary []float64
	for range 5000 {
		ternary = append(ternary, float64(r.IntN(3)-1))
	}
	got := cutsOf(ternary, 10)
	if len(got) != 2 || below(ternary, got[0]) != below(ternary, -1) || below(ternary, got[1]) != below(ternary, 0) {
		t.Fatalf("cuts of {-1, 0, 1}: %v, want one between -1 and 0 and one between 0 and 1", got)
	}

	var mixed []float64 // half exactly 0, a fifth exactly 1, the rest uniform in (0, 1)
	for i := range 20000 {
		switch {
		case i%10 < 5:
			mixed = append(mixed, 0)
		case i%10 < 7:
			mixed = append(mixed, 1)
		default:
			mixed = append(mixed, 0.001+0.998*r.Float64())
		}
	}
	r.Shuffle(len(mixed), func(i, j int) { mixed[i], mixed[j] = mixed[j], mixed[i] })
	got = cutsOf(mixed, 10)
	if !slices.IsSorted(got) || len(slices.Compact(slices.Clone(got))) != len(got) {
		t.Fatalf("cuts %v: not increasing", got)
	}
	if n := below(mixed, got[0]); n != 10000 {
		t.Errorf("first cut %v has %d values at or below it, want the 10000 zeros alone", got[0], n)
	}
	if n := below(mixed, got[len(got)-1]); n != 16000 {
		t.Errorf("last cut %v has %d values at or below it, want all but the 4000 ones", got[len(got)-1], n)
	}
	if len(got) != 9 {
		t.Errorf("%d cuts, want all 9 of 10 bins used: %v", len(got), got)
	}
}

// TestQuantileCutsContinuous: on a continuous feature the cuts are its deciles, within the
// sketch's rank error, however skewed the feature.
func TestQuantileCutsContinuous(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	xs := make([]float64, 100000)
	for i := range xs {
		xs[i] = math.Exp(3 * r.NormFloat64()) // log-normal: far from a normal's quantiles
	}
	got := cutsOf(xs, 10)
	if len(got) != 9 {
		t.Fatalf("%d cuts, want 9: %v", len(got), got)
	}
	for j, c := range got {
		if rank := float64(below(xs, c)) / float64(len(xs)); math.Abs(rank-float64(j+1)/10) > 0.03 {
			t.Errorf("cut %d at rank %.3f, want %.1f", j, rank, float64(j+1)/10)
		}
	}
}

// TestSketchBoundedAndExact: a long stream keeps the sketch within its few hundred items, its weight
// exact, and the same stream gives the same sketch; it round trips through its encoding.
func TestSketchBoundedAndExact(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	var a, b kll
	const n = 1 << 20
	for range n {
		x := r.NormFloat64()
		a.add(x)
		b.add(x)
	}
	items := 0
	for _, lv := range a.levels {
		items += len(lv)
	}
	if items > maxSketchItems || len(a.levels) > 16 {
		t.Errorf("%d items in %d levels after %d values", items, len(a.levels), n)
	}
	if a.weight() != n {
		t.Errorf("weight %v, want %d", a.weight(), n)
	}
	ea, eb := &encoder{}, &encoder{}
	a.encode(ea)
	b.encode(eb)
	if !bytes.Equal(ea.b, eb.b) {
		t.Fatal("the same stream gave two sketches")
	}
	var c kll
	d := &decoder{b: ea.b}
	c.decode(d)
	if err := d.finish(); err != nil {
		t.Fatal(err)
	}
	ec := &encoder{}
	c.encode(ec)
	if !bytes.Equal(ec.b, ea.b) {
		t.Fatal("the sketch does not round trip")
	}
}

// TestSketchExtremes: the largest finite values keep cuts finite and between the values.
func TestSketchExtremes(t *testing.T) {
	xs := []float64{math.MaxFloat64, -math.MaxFloat64, 1e200, -1e200, 5e-324, 0}
	var all []float64
	for range 50 {
		all = append(all, xs...)
	}
	got := cutsOf(all, 10)
	if len(got) != len(xs)-1 {
		t.Fatalf("cuts %v, want one between each two of the %d values", got, len(xs))
	}
	for _, c := range got {
		if !finite(c) {
			t.Fatalf("cuts %v", got)
		}
	}
}

// TestFamilyCheckpointVersion1: a tree checkpoint from before the sketches (format version 1)
// resumes, with no sketch, and scores as before.
func TestFamilyCheckpointVersion1(t *testing.T) {
	for _, f := range []string{FamilyTree, FamilyForest} {
		spec := DefaultSpec()
		spec.Family, spec.HashBits = f, 12
		tr, err := NewFamily(spec)
		if err != nil {
			t.Fatal(err)
		}
		r := rand.New(rand.NewPCG(7, 8))
		vec := func() []float64 { return []float64{r.NormFloat64(), float64(r.IntN(3))} }
		for range 500 {
			x := vec()
			y := 0.0
			if x[0]+x[1] > 1 {
				y = 1
			}
			tr.Learn(vecOf(x), Label{Value: y})
		}
		cp, err := tr.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		q := &encoder{}
		switch m := tr.m.(type) {
		case *treeModel:
			m.q.encode(q)
		case *forest:
			m.q.encode(q)
		}
		if len(q.b) < 100 {
			t.Fatalf("%s: sketches of %d bytes: nothing sketched", f, len(q.b))
		}
		old := slices.Clone(cp[:len(cp)-len(q.b)])
		old[len(familyCheckpointMagic)] = 1
		back, err := decodeFamily(old)
		if err != nil {
			t.Fatalf("%s: version 1: %v", f, err)
		}
		for range 50 {
			v := vecOf(vec())
			if a, b := tr.Predict(v).Score, back.Predict(v).Score; a != b {
				t.Fatalf("%s: resumed from version 1 scores %v, want %v", f, b, a)
			}
		}
	}
}

// TestSketchCounts: the counts kept as the sketch grows are those recounted from its levels.
func TestSketchCounts(t *testing.T) {
	var s kll
	r := rand.New(rand.NewPCG(9, 9))
	for i := range 100000 {
		s.add(r.Float64())
		if i%997 == 0 {
			items, room, w := s.items, s.room, s.w
			s.count()
			if items != s.items || room != s.room || w != s.w || w != float64(i+1) {
				t.Fatalf("after %d: items %d room %d weight %v kept, %d %d %v counted", i+1, items, room, w, s.items, s.room, s.w)
			}
		}
	}
}

// TestSketchFullLevelsDecode: a sketch of as many levels as it may have, each at its capacity (a
// feature seen some 2^50 times), round trips through its encoding.
func TestSketchFullLevelsDecode(t *testing.T) {
	var s kll
	for h := range maxSketchLevels {
		lv := make([]float64, capacity(h, maxSketchLevels))
		for i := range lv {
			lv[i] = float64(h*1000 + i)
		}
		s.levels = append(s.levels, lv)
	}
	s.levels[0] = append(s.levels[0], -1) // the value just added, before compaction
	s.count()
	if s.items != maxSketchItems {
		t.Fatalf("%d items, want maxSketchItems %d", s.items, maxSketchItems)
	}
	e := &encoder{}
	s.encode(e)
	var back kll
	d := &decoder{b: e.b}
	back.decode(d)
	if err := d.finish(); err != nil {
		t.Fatal(err)
	}
	if back.items != s.items || back.w != s.w {
		t.Fatalf("decoded %d items of weight %v, want %d of %v", back.items, back.w, s.items, s.w)
	}
	s.levels[0] = append(s.levels[0], -2)
	e = &encoder{}
	s.encode(e)
	d = &decoder{b: e.b}
	back.decode(d)
	if d.err == nil {
		t.Fatal("a sketch over maxSketchItems decoded")
	}
}
