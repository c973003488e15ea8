package learner

import (
	"errors"
	"math"
)

var errBadTree = errors.New("malformed tree")

// forest is the "forest" family: an adaptive random forest (Gomes et al. 2017) of Hoeffding trees.
// Each tree learns an example Poisson(Lambda) times (online bagging), each leaf considers a random
// share of the features, and each tree has its own Page-Hinkley detector on its error that
// replaces it on drift: by the background tree it started at a warning (half the drift threshold)
// and has grown since, or by a fresh tree. The score is the mean of the trees' probabilities.
//
// Unlike the paper, the detector is Page-Hinkley rather than ADWIN, one detector gives both the
// warning and the drift, and trees are not weighted by accuracy.
type forest struct {
	cfg    htConfig
	lambda float64
	seed   uint64
	trees  []*htree
	ph     []pageHinkley
	bg     []*htree  // background trees, started at a warning; nil where none
	q      *sketches // the numeric features' sketches, shared by the trees
	r      rng
	drifts int64
	// probs are the trees' probabilities for the input of the last margin call, which learn
	// reuses when it gets the same input (Family.Learn scores, then learns).
	probs []float64
	last  *input
}

func newForest(spec Spec) *forest {
	cfg := htConfigOf(spec, spec.Tree.Features)
	f := &forest{cfg: cfg, lambda: spec.Tree.Lambda, seed: spec.Tree.Seed, r: rng{s: splitmix(spec.Tree.Seed)}, q: newSketches(cfg.bins)}
	for i := range spec.Tree.Trees {
		f.trees = append(f.trees, newHTree(cfg, splitmix(spec.Tree.Seed+uint64(i)+1), f.q))
	}
	f.ph, f.bg = make([]pageHinkley, len(f.trees)), make([]*htree, len(f.trees))
	return f
}

func (f *forest) margin(in *input) float64 {
	f.probs = f.probs[:0]
	var s float64
	for _, t := range f.trees {
		p := t.prob(in)
		f.probs = append(f.probs, p)
		s += p
	}
	f.last = in
	return logit(s / float64(len(f.trees)))
}

func (f *forest) learn(in *input, y float64) {
	if f.last != in || len(f.probs) != len(f.trees) {
		f.margin(in)
	}
	f.last = nil
	for i, t := range f.trees {
		switch {
		case f.ph[i].add(math.Abs(y - f.probs[i])):
			f.drifts++
			if t = f.bg[i]; t == nil {
				t = newHTree(f.cfg, f.r.next(), f.q)
			}
			f.trees[i], f.bg[i] = t, nil
		case f.bg[i] == nil && f.ph[i].warning():
			f.bg[i] = newHTree(f.cfg, f.r.next(), f.q)
		}
		if k := f.r.poisson(f.lambda); k > 0 {
			t.learn(in, y, float64(k))
		}
		if b := f.bg[i]; b != nil {
			if k := f.r.poisson(f.lambda); k > 0 {
				b.learn(in, y, float64(k))
			}
		}
	}
	f.q.observe(in)
}

func (f *forest) skipped() int64 { return 0 }

func (f *forest) encode(e *encoder) {
	e.u64(f.r.s)
	e.u64(uint64(f.drifts))
	e.u32(uint32(len(f.trees)))
	for i, t := range f.trees {
		f.ph[i].encode(e)
		t.encode(e)
		if f.bg[i] == nil {
			e.u32(0)
			continue
		}
		e.u32(1)
		f.bg[i].encode(e)
	}
	f.q.encode(e)
}

func (f *forest) decode(d *decoder) {
	f.r.s = d.u64()
	f.drifts = int64(d.u64())
	if n := d.bounded(100); d.err == nil && n != len(f.trees) {
		d.fail(errors.New("forest size differs from the spec"))
	}
	for i, t := range f.trees {
		if d.err != nil {
			return
		}
		f.ph[i].decode(d)
		t.decode(d)
		switch d.u32() {
		case 0:
		case 1:
			f.bg[i] = newHTree(f.cfg, 0, f.q)
			f.bg[i].decode(d)
		default:
			d.fail(errBadTree)
		}
	}
	decodeSketches(d, f.q)
}

// forestScorer serves the forest.
type forestScorer struct{ trees []*htree }

func (f *forest) scorer([]moments) familyScorer {
	s := &forestScorer{}
	for _, t := range f.trees {
		s.trees = append(s.trees, t.clone())
	}
	return s
}

func (s *forestScorer) inputs(in *input) { in.x = append(in.x[:0], in.raw...) }

func (s *forestScorer) margin(in *input) float64 {
	var p float64
	for i := range s.trees {
		p += s.trees[i].prob(in)
	}
	return logit(p / float64(len(s.trees)))
}

func (s *forestScorer) encode(e *encoder) {
	e.u32(uint32(len(s.trees)))
	for i := range s.trees {
		s.trees[i].encode(e)
	}
}

func decodeForestScorer(spec Spec, d *decoder) familyScorer {
	s := &forestScorer{}
	n := d.bounded(100)
	if d.err == nil && n != spec.Tree.Trees {
		d.fail(errors.New("forest size differs from the spec"))
	}
	for range n {
		if d.err != nil {
			break
		}
		t := newHTree(htConfigOf(spec, spec.Tree.Features), 0, nil)
		t.decode(d)
		s.trees = append(s.trees, t)
	}
	return s
}
