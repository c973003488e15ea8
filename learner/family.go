package learner

import (
	"errors"
	"fmt"
	"math"
)

// Model families a Spec can name. Linear is the original model (online.go); the others are
// non-linear and learn binary tasks: a factorization machine (fm.go), a small neural network
// (mlp.go), a Hoeffding tree (tree.go), an adaptive random forest (forest.go), and auto (auto.go),
// which learns several families side by side and serves the best. FM and MLP also train on a
// FamilyBackend (the GPU, family_device.go).
const (
	FamilyLinear = "linear"
	FamilyFM     = "fm"
	FamilyMLP    = "mlp"
	FamilyTree   = "tree"
	FamilyForest = "forest"
	FamilyAuto   = "auto"
)

// ErrFamilyDevice is returned when a family is asked to train on a backend it has no kernels for:
// linear runs on every Backend, FM and MLP on a FamilyBackend (the GPU's), tree, forest and auto on
// the CPU only.
var ErrFamilyDevice = errors.New("this family has no kernels on the backend: linear trains on every minibatch backend, fm and mlp on the GPU's too, tree, forest and auto on the CPU only")

// FMSpec holds a factorization machine's settings (Rendle 2010): a linear term plus pairwise
// interactions <v_i, v_j> x_i x_j through Factors latent factors per slot, learned with AdaGrad.
type FMSpec struct {
	// Factors is k, the latent factors per slot (default 8, at most 64).
	Factors int `yaml:"factors" json:"factors,omitempty"`
	// Bits: the model keeps 2^Bits slots, hashed features taken modulo that (default min(hash_bits, 16)).
	Bits int `yaml:"bits" json:"bits,omitempty"`
	// LearningRate is AdaGrad's step (default 0.05); L2 the weight decay (default 1e-4).
	LearningRate float64 `yaml:"learning_rate" json:"learning_rate,omitempty"`
	L2           float64 `yaml:"l2" json:"l2,omitempty"`
	// InitScale is the half-width of the uniform initial factors (default 0.05).
	InitScale float64 `yaml:"init_scale" json:"init_scale,omitempty"`
}

// MLPSpec holds a small multilayer perceptron's settings: 1 or 2 tanh hidden layers over the hashed
// inputs, learned with Adam (per example, or per minibatch through LearnBatch).
type MLPSpec struct {
	// Hidden are the widths of the hidden layers (default [32]; 1 or 2 layers of 1..256).
	Hidden []int `yaml:"hidden" json:"hidden,omitempty"`
	// Bits: the first layer has 2^Bits input rows (default min(hash_bits, 14)).
	Bits int `yaml:"bits" json:"bits,omitempty"`
	// LearningRate is Adam's step (default 0.003); L2 the weight decay (default 1e-5).
	LearningRate float64 `yaml:"learning_rate" json:"learning_rate,omitempty"`
	L2           float64 `yaml:"l2" json:"l2,omitempty"`
}

// TreeSpec holds the settings of the Hoeffding tree and of each tree of the forest.
type TreeSpec struct {
	// GracePeriod is the weight of examples a leaf sees between split attempts (default 50).
	GracePeriod int `yaml:"grace_period" json:"grace_period,omitempty"`
	// Delta is the Hoeffding bound's confidence (default 1e-5); Tau breaks ties between splits
	// whose gains differ by less than the bound once it falls under Tau (default 0.05).
	Delta float64 `yaml:"delta" json:"delta,omitempty"`
	Tau   float64 `yaml:"tau" json:"tau,omitempty"`
	// MaxDepth bounds a tree's depth (default 12).
	MaxDepth int `yaml:"max_depth" json:"max_depth,omitempty"`
	// Bins is the number of bins per numeric feature, split candidates + 1 (default 8): the
	// candidates are at quantiles of a sketch of the feature's values.
	Bins int `yaml:"bins" json:"bins,omitempty"`
	// Trees is the forest's size (default 10); Lambda its Poisson bagging rate (default 6);
	// Features the share of a leaf's features each split considers in a forest (default 0.6).
	Trees    int     `yaml:"trees" json:"trees,omitempty"`
	Lambda   float64 `yaml:"lambda" json:"lambda,omitempty"`
	Features float64 `yaml:"features" json:"features,omitempty"`
	// Seed seeds the forest's bagging and feature draws and the initial weights of FM and MLP.
	Seed uint64 `yaml:"seed" json:"seed,omitempty"`
}

// family returns the spec's family, "linear" for an empty one.
func (s Spec) family() string {
	if s.Family == "" {
		return FamilyLinear
	}
	return s.Family
}

// withDefaults returns s with the zero settings of its family filled in.
func (s Spec) withDefaults() Spec {
	s = s.clone()
	f := &s.FM
	f.Factors = orInt(f.Factors, 8)
	f.Bits = orInt(f.Bits, min(s.HashBits, 16))
	f.LearningRate = orFloat(f.LearningRate, 0.05)
	f.L2 = orFloat(f.L2, 1e-4)
	f.InitScale = orFloat(f.InitScale, 0.05)
	m := &s.MLP
	if len(m.Hidden) == 0 {
		m.Hidden = []int{32}
	}
	m.Bits = orInt(m.Bits, min(s.HashBits, 14))
	m.LearningRate = orFloat(m.LearningRate, 0.003)
	m.L2 = orFloat(m.L2, 1e-5)
	t := &s.Tree
	t.GracePeriod = orInt(t.GracePeriod, 50)
	t.Delta = orFloat(t.Delta, 1e-5)
	t.Tau = orFloat(t.Tau, 0.05)
	t.MaxDepth = orInt(t.MaxDepth, 12)
	t.Bins = orInt(t.Bins, 8)
	t.Trees = orInt(t.Trees, 10)
	t.Lambda = orFloat(t.Lambda, 6)
	t.Features = orFloat(t.Features, 0.6)
	return s
}

func orInt(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

func orFloat(v, def float64) float64 {
	if v == 0 {
		return def
	}
	return v
}

// validateFamily reports the invalid family settings of s through bad.
func (s Spec) validateFamily(bad func(field, format string, args ...any)) {
	switch s.family() {
	case FamilyLinear:
		return
	case FamilyFM, FamilyMLP, FamilyTree, FamilyForest, FamilyAuto:
	default:
		bad("family", "must be linear, fm, mlp, tree, forest or auto, got %q", s.Family)
		return
	}
	if s.Task != Binary && s.Family != FamilyAuto {
		bad("family", "%s learns binary tasks only, got task %q", s.Family, s.Task)
	}
	rng := func(field string, v, lo, hi float64) {
		if !(v >= lo && v <= hi) {
			bad(field, "must be in %v..%v, got %v", lo, hi, v)
		}
	}
	f, m, t := s.FM, s.MLP, s.Tree
	rng("fm.factors", float64(f.Factors), 0, 64)
	rng("fm.bits", float64(f.Bits), 0, float64(min(s.HashBits, 20)))
	rng("fm.learning_rate", f.LearningRate, 0, 10)
	rng("fm.l2", f.L2, 0, 10)
	rng("fm.init_scale", f.InitScale, 0, 1)
	if len(m.Hidden) > 2 {
		bad("mlp.hidden", "1 or 2 hidden layers, got %d", len(m.Hidden))
	}
	for i, w := range m.Hidden {
		rng(fmt.Sprintf("mlp.hidden[%d]", i), float64(w), 1, 256)
	}
	rng("mlp.bits", float64(m.Bits), 0, float64(min(s.HashBits, 18)))
	rng("mlp.learning_rate", m.LearningRate, 0, 1)
	rng("mlp.l2", m.L2, 0, 1)
	rng("tree.grace_period", float64(t.GracePeriod), 0, 1e6)
	rng("tree.delta", t.Delta, 0, 0.5)
	rng("tree.tau", t.Tau, 0, 1)
	rng("tree.max_depth", float64(t.MaxDepth), 0, 30)
	if t.Bins == 1 {
		bad("tree.bins", "must be 0 (default) or 2..64, got 1")
	}
	rng("tree.bins", float64(t.Bins), 0, 64)
	rng("tree.trees", float64(t.Trees), 0, 100)
	rng("tree.lambda", t.Lambda, 0, 100)
	rng("tree.features", t.Features, 0, 1)
	if d := s.withDefaults(); d.HashBits >= 1 && d.HashBits <= MaxHashBits {
		if (d.FM.Factors+1)<<uint(d.FM.Bits) > 1<<22 {
			bad("fm.bits", "(factors+1) * 2^bits must be at most 2^22")
		}
		if len(d.MLP.Hidden) > 0 && d.MLP.Hidden[0]<<uint(d.MLP.Bits) > 1<<22 {
			bad("mlp.bits", "hidden[0] * 2^bits must be at most 2^22")
		}
	}
}

// maxTreeBits bounds the slots the trees tell apart (and keep statistics for): 2^20.
const maxTreeBits = 20

// maxFamilyInput bounds an input of a non-linear model, so that products and squares of inputs
// and weights stay finite.
const maxFamilyInput = 1e6

// input is one example as a non-linear model sees it: per hashed feature, the slot (modulo
// 2^HashBits), the raw value, whether it is numeric, and the model input x (standardized when the
// spec asks). stats are the trainer's running statistics per slot (nil in a snapshot).
type input struct {
	slots   []uint32
	raw     []float64
	x       []float64
	numeric []bool
	stats   []moments
}

func (in *input) reset() {
	in.slots, in.raw, in.x, in.numeric = in.slots[:0], in.raw[:0], in.x[:0], in.numeric[:0]
}

// fill sets in from h; x is left for the caller.
func (in *input) fill(h *Hashed, mask uint32) {
	in.reset()
	for i, s := range h.Slots {
		v := h.Values[i]
		if !finite(v) {
			v = 0
		}
		in.slots = append(in.slots, s&mask)
		in.raw = append(in.raw, clampAbs(v, maxFamilyInput))
		in.numeric = append(in.numeric, h.Numeric[i])
	}
}

// familyModel is the learning state of a non-linear model of one spec.
type familyModel interface {
	// margin scores in with the current state, in log-odds.
	margin(in *input) float64
	// learn learns one example with label y in [0, 1] (p - y is the log-loss gradient of the margin).
	learn(in *input, y float64)
	// scorer returns an immutable copy for serving; stats are the trainer's per-slot statistics.
	scorer(stats []moments) familyScorer
	// encode appends the full state; decode reads it into a fresh model of the same spec.
	encode(e *encoder)
	decode(d *decoder)
	// skipped counts updates left out because they would have made the state non-finite.
	skipped() int64
}

// batchModel is a familyModel that learns a minibatch in one step (FM and MLP): the gradients of
// all examples at the state from before the batch, applied once.
type batchModel interface {
	learnBatch(ins []*input, ys []float64)
}

// familyScorer is the serving side of a non-linear model: safe for concurrent use.
type familyScorer interface {
	// inputs sets in.x from in.raw as the trainer would have.
	inputs(in *input)
	margin(in *input) float64
	encode(e *encoder)
}

// explainer is a familyScorer that can split a margin into per-feature shares.
type explainer interface {
	contributions(in *input, names func(i int) string) []Contribution
}

// newFamilyModel returns a fresh model of spec (with defaults filled in).
func newFamilyModel(spec Spec) (familyModel, error) {
	switch spec.Family {
	case FamilyFM:
		return newFM(spec), nil
	case FamilyMLP:
		return newMLP(spec), nil
	case FamilyTree:
		return newTreeModel(spec), nil
	case FamilyForest:
		return newForest(spec), nil
	}
	return nil, fmt.Errorf("no model for family %q", spec.Family)
}

// decodeScorer reads the serving state of a family written by familyScorer.encode.
func decodeScorer(spec Spec, d *decoder) familyScorer {
	switch spec.Family {
	case FamilyFM:
		return decodeFMScorer(spec, d)
	case FamilyMLP:
		return decodeMLPScorer(spec, d)
	case FamilyTree:
		return decodeTreeScorer(spec, d)
	case FamilyForest:
		return decodeForestScorer(spec, d)
	}
	d.fail(fmt.Errorf("no scorer for family %q", spec.Family))
	return nil
}

// logit is the log-odds of p, p first kept within (1e-12, 1-1e-12) so that it is finite.
func logit(p float64) float64 {
	p = min(max(p, 1e-12), 1-1e-12)
	return math.Log(p / (1 - p))
}

// saneMargin keeps a margin a number: NaN becomes 0 (a score of 0.5).
func saneMargin(m float64) float64 {
	if m != m {
		return 0
	}
	return m
}

// splitmix is the SplitMix64 mixer: a deterministic, well spread hash of x.
func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// noise is a deterministic uniform number in [-1, 1) for (seed, a, b): initial weights that a
// restored model recomputes instead of storing.
func noise(seed uint64, a uint32, b int) float64 {
	z := splitmix(splitmix(seed+uint64(a)) + uint64(b))
	return float64(z>>11)/(1<<52) - 1
}

// rng is a SplitMix64 generator whose whole state is one number, so that checkpoints carry it.
type rng struct{ s uint64 }

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// float is uniform in [0, 1).
func (r *rng) float() float64 { return float64(r.next()>>11) / (1 << 53) }

// poisson draws from Poisson(lambda) by Knuth's method (lambda is small).
func (r *rng) poisson(lambda float64) int {
	l, k, p := math.Exp(-lambda), 0, 1.0
	for {
		p *= r.float()
		if p <= l || k > 100 {
			return k
		}
		k++
	}
}

var (
	errSlotRange    = errors.New("slot out of range")
	errRepeatedSlot = errors.New("repeated slot")
)
