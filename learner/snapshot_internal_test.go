package learner

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/streamlearn/streamlearn/wire"
)

// fullScanSnapshot is the reference newSnapshot: it looks at every one of the dim slots,
// weight(slot*outputs+o) being a weight and the bias at slot dim.
func fullScanSnapshot(spec Spec, seen int64, target moments, dim int, weight func(int) float64, stats []moments) *Snapshot {
	out := spec.outputs()
	s := &Snapshot{spec: spec.clone(), seen: seen, target: target, out: out}
	for o := range out {
		s.bias = append(s.bias, weight(dim*out+o))
	}
	for slot := range dim {
		nonzero := false
		for o := range out {
			nonzero = nonzero || weight(slot*out+o) != 0
		}
		if !nonzero {
			continue
		}
		var mean, scale float64
		if stats != nil {
			mean, scale = stats[slot].mean, stats[slot].scale
		}
		s.slots = append(s.slots, uint32(slot))
		for o := range out {
			s.w = append(s.w, weight(slot*out+o))
		}
		s.mean = append(s.mean, mean)
		s.scale = append(s.scale, scale)
	}
	s.index()
	return s
}

func onlineReference(t *Online) *Snapshot {
	c := t.p.c
	return fullScanSnapshot(t.spec, t.seen, t.target, t.p.dim, func(i int) float64 { return c[i].w }, t.stats)
}

func engineReference(tb testing.TB, e *Engine, k int) *Snapshot {
	dim := 1 << uint(e.spec.HashBits)
	w := make([]float64, (dim+1)*e.spec.outputs())
	if err := e.models.Weights(k, w); err != nil {
		tb.Fatal(err)
	}
	spec := e.spec.clone()
	h := e.hyper[k]
	spec.Alpha, spec.Beta, spec.L1, spec.L2, spec.LearningRate = h.Alpha, h.Beta, h.L1, h.L2, h.LearningRate
	return fullScanSnapshot(spec, e.seen, e.target, dim, func(i int) float64 { return w[i] }, e.stats)
}

// snapshotStream returns n examples over 300 feature names, numeric and one-hot, some numeric values
// exactly zero, hashed with few bits so that slots collide; the labels are noise around a sparse
// rule, so that under L1 weights leave zero and go back to it.
func snapshotStream(task Task, n int, seed uint64) ([]wire.Vector, []Label) {
	r := rand.New(rand.NewPCG(seed, 7))
	classes := []string{"a", "b", "c"}
	vs, ys := make([]wire.Vector, n), make([]Label, n)
	for i := range n {
		seen := map[string]bool{}
		var v wire.Vector
		m := 0.0
		for range 1 + r.IntN(12) {
			var f wire.Feature
			if j := r.IntN(300); j%2 == 0 {
				f = wire.Feature{Name: fmt.Sprintf("n%d", j), Value: float64(r.IntN(3)) * r.NormFloat64() * 10}
			} else {
				f = wire.Feature{Name: fmt.Sprintf("c=%d", j), Value: 1}
			}
			if !seen[f.Name] {
				seen[f.Name] = true
				v = append(v, f)
				if len(f.Name)%3 == 0 {
					m += f.Value / 10
				}
			}
		}
		v.Sort()
		vs[i] = v
		m += r.NormFloat64()
		switch task {
		case Binary:
			if m > 0 {
				ys[i].Value = 1
			}
		case Regression:
			ys[i].Value = 100 + 20*m
		case Multiclass:
			ys[i].Class = classes[min(max(int(m+1.5), 0), 2)]
		}
	}
	return vs, ys
}

func snapshotSpec(task Task, optimizer string, standardize bool, l1 float64) Spec {
	s := DefaultSpec()
	s.Name = fmt.Sprintf("%s-%s-std%v-l1%v", task, optimizer, standardize, l1)
	s.Task, s.Optimizer, s.Standardize, s.HashBits, s.L1 = task, optimizer, standardize, 6, l1
	if task == Multiclass {
		s.Classes = []string{"a", "b", "c"}
	}
	return s
}

// sameSnapshot fails unless got encodes to the bytes of want and scores vs bit for bit as want.
func sameSnapshot(tb testing.TB, what string, got, want *Snapshot, vs []wire.Vector) {
	tb.Helper()
	g, err1 := got.MarshalBinary()
	w, err2 := want.MarshalBinary()
	if err1 != nil || err2 != nil {
		tb.Fatal(err1, err2)
	}
	if !bytes.Equal(g, w) {
		tb.Fatalf("%s: snapshot of %d slots encodes differently from the full scan's of %d", what, len(got.slots), len(want.slots))
	}
	for _, v := range vs {
		p, q := got.Predict(v), want.Predict(v)
		if math.Float64bits(p.Score) != math.Float64bits(q.Score) || p.Class != q.Class {
			tb.Fatalf("%s: predicts %+v, the full scan's %+v", what, p, q)
		}
	}
}

// TestSnapshotOfUsedSlotsEqualsFullScan checks that the trainers' snapshots, which read only the
// slots whose weights were ever written, equal a scan of every slot: Online, a BatchTrainer and a
// population Engine on the CPU backend, and each resumed from a checkpoint, as they learn.
func TestSnapshotOfUsedSlotsEqualsFullScan(t *testing.T) {
	filtered := false // some snapshot left out a written slot whose weights were all zero again
	for _, task := range []Task{Binary, Regression, Multiclass} {
		for _, opt := range []string{OptimizerFTRL, OptimizerAdaGrad} {
			for _, std := range []bool{false, true} {
				for _, l1 := range []float64{0, 3} {
					spec := snapshotSpec(task, opt, std, l1)
					t.Run(spec.Name, func(t *testing.T) {
						if snapshotCase(t, spec) {
							filtered = true
						}
					})
				}
			}
		}
	}
	if !filtered {
		t.Error("no case had a written slot with zero weights: the test does not exercise the filter")
	}
}

// snapshotCase runs one spec, and reports whether a snapshot left out a written slot.
func snapshotCase(t *testing.T, spec Spec) bool {
	vs, ys := snapshotStream(spec.Task, 1200, uint64(len(spec.Name)))
	probe := vs[:50]
	on, err := NewOnline(spec)
	if err != nil {
		t.Fatal(err)
	}
	bt, err := NewBatchTrainer(CPUBackend{}, spec)
	if err != nil {
		t.Fatal(err)
	}
	h := hyperOf(spec)
	strong := h
	strong.L1, strong.L2 = h.L1+1, 0.5
	pop, err := NewEngine(CPUBackend{}, spec, []Hyper{h, strong})
	if err != nil {
		t.Fatal(err)
	}
	fallback, err := NewEngine(weightsOnly{}, spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	filtered := false
	check := func(stage string, on *Online, bt *BatchTrainer) {
		s := on.Snapshot()
		sameSnapshot(t, stage+": online", s, onlineReference(on), probe)
		filtered = filtered || len(on.used.appendTo(nil)) > len(s.slots)
		sameSnapshot(t, stage+": batch trainer", bt.Snapshot(), engineReference(t, bt.e, 0), probe)
	}
	r := rand.New(rand.NewPCG(uint64(len(vs)), 3))
	for i := 0; i < 800; {
		n := min(1+r.IntN(40), 800-i)
		for j := i; j < i+n; j++ {
			on.Learn(vs[j], ys[j])
		}
		if _, err := bt.LearnBatch(vs[i:i+n], ys[i:i+n]); err != nil {
			t.Fatal(err)
		}
		if _, err := pop.Learn(vs[i:i+n], ys[i:i+n]); err != nil {
			t.Fatal(err)
		}
		if _, err := fallback.Learn(vs[i:i+n], ys[i:i+n]); err != nil {
			t.Fatal(err)
		}
		i += n
		check(fmt.Sprintf("after %d", i), on, bt)
		s, err := fallback.Snapshot(0)
		if err != nil {
			t.Fatal(err)
		}
		sameSnapshot(t, fmt.Sprintf("after %d: engine copying all weights", i), s, engineReference(t, fallback, 0), probe)
		for k := range 2 {
			s, err := pop.Snapshot(k)
			if err != nil {
				t.Fatal(err)
			}
			sameSnapshot(t, fmt.Sprintf("after %d: population model %d", i, k), s, engineReference(t, pop, k), probe)
		}
	}
	on2, bt2 := resumeBoth(t, on, bt)
	for i := 800; i < len(vs); i += 50 {
		for _, tr := range []Trainer{on, on2} {
			for j := i; j < i+50; j++ {
				tr.Learn(vs[j], ys[j])
			}
		}
		for _, b := range []*BatchTrainer{bt, bt2} {
			if _, err := b.LearnBatch(vs[i:i+50], ys[i:i+50]); err != nil {
				t.Fatal(err)
			}
		}
		check(fmt.Sprintf("resumed, after %d", i+50), on2, bt2)
		sameSnapshot(t, "resumed online against the uninterrupted one", on2.Snapshot(), on.Snapshot(), probe)
		sameSnapshot(t, "resumed batch trainer against the uninterrupted one", bt2.Snapshot(), bt.Snapshot(), probe)
	}
	return filtered
}

// weightsOnly is the CPU backend with Models that only have the methods every backend has, as
// the CUDA backend's lack RowWeights: Engine.Snapshot then copies all the weights.
type weightsOnly struct{}

func (weightsOnly) Name() string { return "weights-only" }

func (weightsOnly) NewModels(shape Shape, hyper []Hyper) (Models, error) {
	m, err := CPUBackend{}.NewModels(shape, hyper)
	return struct{ Models }{m}, err
}

// resumeBoth resumes copies of on and bt from their checkpoints, and checks their first snapshots.
func resumeBoth(t *testing.T, on *Online, bt *BatchTrainer) (*Online, *BatchTrainer) {
	cp, err := on.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	tr, err := UnmarshalTrainer(cp)
	if err != nil {
		t.Fatal(err)
	}
	on2 := tr.(*Online)
	sameSnapshot(t, "online resumed", on2.Snapshot(), on.Snapshot(), nil)
	cp, err = bt.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	bt2, err := ResumeBatchTrainer(CPUBackend{}, cp)
	if err != nil {
		t.Fatal(err)
	}
	sameSnapshot(t, "batch trainer resumed", bt2.Snapshot(), bt.Snapshot(), nil)
	return on2, bt2
}

func TestSlotSetListsMembersAscending(t *testing.T) {
	for _, dim := range []int{1, 63, 64, 65, 4096, 4097, 1 << 20} {
		s := newSlotSet(dim)
		want := map[uint32]bool{}
		r := rand.New(rand.NewPCG(uint64(dim), 1))
		for range 300 {
			x := uint32(r.IntN(dim))
			s.add(x)
			want[x] = true
		}
		s.add(uint32(dim - 1))
		want[uint32(dim-1)] = true
		got := s.appendTo(nil)
		if len(got) != len(want) {
			t.Fatalf("dim %d: %d members listed, %d added", dim, len(got), len(want))
		}
		for i, x := range got {
			if !want[x] || (i > 0 && got[i-1] >= x) {
				t.Fatalf("dim %d: member %d is %d: not added or out of order", dim, i, x)
			}
		}
	}
}
