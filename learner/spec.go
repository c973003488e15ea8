package learner

import (
	"errors"
	"fmt"
	"math"
)

// Task is what a model predicts.
type Task string

// The tasks a model can learn.
const (
	Binary     Task = "binary"     // P(label = 1), logistic loss
	Regression Task = "regression" // a number, squared or Huber loss
	Multiclass Task = "multiclass" // one of Spec.Classes, softmax cross-entropy
)

// Optimizers and regression losses a Spec can name.
const (
	OptimizerFTRL    = "ftrl"
	OptimizerAdaGrad = "adagrad"
	LossSquared      = "squared"
	LossHuber        = "huber"
)

// MaxHashBits bounds Spec.HashBits, and also 2^HashBits times the number of classes: the trainer keeps
// dense state of 2^HashBits slots per output.
const MaxHashBits = 28

// Spec is one model's definition. It is read from the YAML config and stored with every version.
type Spec struct {
	Name string `yaml:"name" json:"name"`
	Task Task   `yaml:"task" json:"task"`
	// Optimizer is "ftrl" (FTRL-Proximal, McMahan et al. 2013; the default) or "adagrad".
	Optimizer string `yaml:"optimizer" json:"optimizer"`
	// HashBits: features are hashed into 2^HashBits slots (default 20).
	HashBits int `yaml:"hash_bits" json:"hash_bits"`

	// FTRL-Proximal: per-coordinate rate Alpha/(Beta+sqrt(sum g^2)); L1 and L2 as in the paper, applied
	// once to the cumulative objective (not per example). The bias is never regularized.
	Alpha float64 `yaml:"alpha" json:"alpha"`
	Beta  float64 `yaml:"beta" json:"beta"`
	L1    float64 `yaml:"l1" json:"l1"`
	L2    float64 `yaml:"l2" json:"l2"`
	// LearningRate is AdaGrad's step size. AdaGrad gives L1 and L2 the same meaning as FTRL: each of the
	// t examples seen so far carries 1/t of them.
	LearningRate float64 `yaml:"learning_rate" json:"learning_rate"`

	// Loss is for regression: "squared" (default) or "huber" with HuberDelta (in standardized target
	// units when Standardize is on).
	Loss       string  `yaml:"loss" json:"loss"`
	HuberDelta float64 `yaml:"huber_delta" json:"huber_delta"`

	// Classes are the labels of a multiclass model, in the order of Prediction.Probs.
	Classes []string `yaml:"classes" json:"classes,omitempty"`

	// Standardize scales numeric inputs (names without '=') by a running mean and variance, and a
	// regression target likewise, so raw scales need no tuning. One-hot categoricals are left alone.
	Standardize bool `yaml:"standardize" json:"standardize"`

	// Crosses are pairs of feature names; a categorical side names its prefix ("country" matches
	// "country=DE"). Each pair present in a vector adds a feature with the product of the two values.
	Crosses [][2]string `yaml:"crosses" json:"crosses,omitempty"`

	// Family is the kind of model (family.go): "linear" (the default when empty), "fm", "mlp",
	// "tree", "forest" or "auto" (several families side by side, serving the best). FM, MLP and Tree
	// hold the settings of the non-linear families; their zero fields take the defaults.
	Family string   `yaml:"family" json:"family,omitempty"`
	FM     FMSpec   `yaml:"fm" json:"fm,omitzero"`
	MLP    MLPSpec  `yaml:"mlp" json:"mlp,omitzero"`
	Tree   TreeSpec `yaml:"tree" json:"tree,omitzero"`
}

// DefaultSpec returns a binary FTRL model whose settings work on an unseen tabular stream without tuning:
// chosen on four real tabular sets and a wide synthetic stream (docs/BENCHMARKS.md, "Learner (CPU)").
func DefaultSpec() Spec {
	return Spec{
		Name:         "default",
		Task:         Binary,
		Optimizer:    OptimizerFTRL,
		HashBits:     20,
		Alpha:        0.3,
		Beta:         1,
		L1:           0.1,
		L2:           1,
		LearningRate: 0.3,
		Loss:         LossSquared,
		HuberDelta:   1,
		Standardize:  true,
	}
}

// Validate reports every invalid field, each error naming it as in the config ("model.hash_bits: ...").
func (s Spec) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("model.%s: "+format, append([]any{field}, args...)...))
	}
	if err := validName(s.Name); err != nil {
		bad("name", "%v", err)
	}
	switch s.Task {
	case Binary, Regression, Multiclass:
	default:
		bad("task", "must be binary, regression or multiclass, got %q", s.Task)
	}
	switch s.Optimizer {
	case "", OptimizerFTRL:
		if !(s.Alpha > 0) || math.IsInf(s.Alpha, 0) {
			bad("alpha", "must be a positive number, got %v", s.Alpha)
		}
	case OptimizerAdaGrad:
		if !(s.LearningRate > 0) || math.IsInf(s.LearningRate, 0) {
			bad("learning_rate", "must be a positive number, got %v", s.LearningRate)
		}
	default:
		bad("optimizer", "must be ftrl or adagrad, got %q", s.Optimizer)
	}
	if s.HashBits < 1 || s.HashBits > MaxHashBits {
		bad("hash_bits", "must be in 1..%d, got %d", MaxHashBits, s.HashBits)
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"beta", s.Beta}, {"l1", s.L1}, {"l2", s.L2}} {
		if !(f.v >= 0) || math.IsInf(f.v, 0) {
			bad(f.name, "must be a finite number >= 0, got %v", f.v)
		}
	}
	switch {
	case s.Task == Regression && (s.Loss == "" || s.Loss == LossSquared):
	case s.Task == Regression && s.Loss == LossHuber:
		if !(s.HuberDelta > 0) || math.IsInf(s.HuberDelta, 0) {
			bad("huber_delta", "must be a positive number, got %v", s.HuberDelta)
		}
	case s.Task == Regression:
		bad("loss", "must be squared or huber, got %q", s.Loss)
	}
	if s.Task == Multiclass {
		if len(s.Classes) < 2 {
			bad("classes", "a multiclass model needs at least 2 classes, got %d", len(s.Classes))
		}
		seen := make(map[string]bool, len(s.Classes))
		for i, c := range s.Classes {
			if c == "" || seen[c] {
				bad(fmt.Sprintf("classes[%d]", i), "must be non-empty and unique, got %q", c)
			}
			seen[c] = true
		}
	} else if len(s.Classes) > 0 {
		bad("classes", "only a multiclass model has classes")
	}
	if s.HashBits >= 1 && s.HashBits <= MaxHashBits && s.outputs()<<uint(s.HashBits) > 1<<MaxHashBits {
		bad("hash_bits", "2^hash_bits times the number of classes must be at most 2^%d", MaxHashBits)
	}
	for i, c := range s.Crosses {
		if c[0] == "" || c[1] == "" || c[0] == c[1] {
			bad(fmt.Sprintf("crosses[%d]", i), "must name two different features, got %q", c)
		}
	}
	s.validateFamily(bad)
	return errors.Join(errs...)
}

func validName(name string) error {
	if name == "" {
		return errors.New("must not be empty")
	}
	for _, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.'
		if !ok {
			return fmt.Errorf("may hold only letters, digits, '_', '-' and '.', got %q", name)
		}
	}
	return nil
}

// outputs is the number of weight vectors the model keeps: one per class for multiclass.
func (s Spec) outputs() int {
	if s.Task == Multiclass {
		return len(s.Classes)
	}
	return 1
}

// classIndex returns the position of class in s.Classes, or -1.
func (s Spec) classIndex(class string) int {
	for i, c := range s.Classes {
		if c == class {
			return i
		}
	}
	return -1
}

// clone returns a deep copy of s.
func (s Spec) clone() Spec {
	s.Classes = append([]string(nil), s.Classes...)
	s.Crosses = append([][2]string(nil), s.Crosses...)
	s.MLP.Hidden = append([]int(nil), s.MLP.Hidden...)
	return s
}
