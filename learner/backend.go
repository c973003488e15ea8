package learner

import (
	"errors"
	"fmt"
)

// Backend runs the minibatch math of linear models: K models of one shape trained at once on the same
// batches, their state kept in the backend's memory (host memory for the CPU, device memory for CUDA).
// A step is Forward, then Gradient, then Update. Buffers are flat and row-major so that a backend can
// copy them to a device as they are. A Backend's Models are used by one goroutine at a time.
type Backend interface {
	// Name identifies the backend ("cpu", "cuda").
	Name() string
	// NewModels allocates zeroed state for shape.Models models, model k with settings hyper[k].
	NewModels(shape Shape, hyper []Hyper) (Models, error)
}

// Models is the state of the K models of one Backend.NewModels call.
type Models interface {
	// Shape returns the shape the models were made with.
	Shape() Shape
	// Forward writes each model's outputs for every row of b into out, at (k*b.Rows+r)*Outputs+o:
	// probabilities for Logistic and Softmax, the margin for Squared and Huber.
	Forward(b *Batch, out []float64) error
	// Gradient turns the outputs of Forward and b.Labels into loss gradients and adds them, per
	// coordinate, to each model's pending gradient; out is overwritten.
	Gradient(b *Batch, out []float64) error
	// Update applies and clears the pending gradients with each model's optimizer.
	Update() error
	// Weights copies model k's weights into dst, (Dim+1)*Outputs values indexed slot*Outputs+o,
	// the bias last.
	Weights(k int, dst []float64) error
	// Close releases the state.
	Close() error
}

// StatefulModels is implemented by Models whose optimizer state can be read and replaced: minibatch
// training checkpoints through it, in Online's format, so that either resumes from the other.
type StatefulModels interface {
	Models
	// State copies model k's optimizer state into z (FTRL's z; zeros for AdaGrad), s (the square
	// root of the sum of squared gradients) and w, each indexed as Weights.
	State(k int, z, s, w []float64) error
	// SetState replaces model k's state and the count of examples applied; nothing may be pending.
	SetState(k int, z, s, w []float64, seen int64) error
}

// RowWeighter is implemented by Models that can copy the weights of some columns only, so that a
// snapshot of a model that uses few of its columns costs in proportion to those.
type RowWeighter interface {
	// RowWeights copies model k's weights of the given columns into dst, (len(cols)+1)*Outputs
	// values indexed i*Outputs+o for cols[i], the bias last.
	RowWeights(k int, cols []uint32, dst []float64) error
}

// Stepper is implemented by Models that can run Forward, Gradient and Update of a batch as one step
// without waiting for it: wait blocks until out holds the outputs from before the update. A device
// backend copies the next batch while the current one computes when Step is called again before wait.
type Stepper interface {
	Step(b *Batch, out []float64) (wait func() error, err error)
}

// Objective is a model's link and loss.
type Objective uint8

// The objectives a backend implements.
const (
	Logistic Objective = iota // binary: sigmoid, log loss; label 0..1
	Squared                   // regression: identity, squared loss
	Huber                     // regression: identity, Huber loss with Shape.HuberDelta
	Softmax                   // multiclass: softmax, cross-entropy; label is the class index
)

// Shape describes the K models of one Backend.NewModels call.
type Shape struct {
	Models     int // K
	Dim        int // input columns (hashed slots); the bias is an extra one
	Outputs    int // 1, or the number of classes for Softmax
	Objective  Objective
	Optimizer  string // "ftrl" or "adagrad"
	HuberDelta float64
}

// Validate checks the shape and the settings of its models.
func (s Shape) Validate(hyper []Hyper) error {
	switch {
	case s.Models < 1 || len(hyper) != s.Models:
		return fmt.Errorf("shape: %d models with %d settings", s.Models, len(hyper))
	case s.Dim < 1:
		return fmt.Errorf("shape: dim %d", s.Dim)
	case s.Objective > Softmax:
		return fmt.Errorf("shape: objective %d", s.Objective)
	case s.Objective == Softmax && s.Outputs < 2, s.Objective != Softmax && s.Outputs != 1:
		return fmt.Errorf("shape: %d outputs for objective %d", s.Outputs, s.Objective)
	case s.Optimizer != OptimizerFTRL && s.Optimizer != OptimizerAdaGrad:
		return fmt.Errorf("shape: optimizer %q", s.Optimizer)
	case s.Objective == Huber && !(s.HuberDelta > 0):
		return fmt.Errorf("shape: huber delta %v", s.HuberDelta)
	}
	for k, h := range hyper {
		if !(h.Alpha > 0) && s.Optimizer == OptimizerFTRL || !(h.LearningRate > 0) && s.Optimizer == OptimizerAdaGrad ||
			!(h.Beta >= 0 && h.L1 >= 0 && h.L2 >= 0) {
			return fmt.Errorf("shape: model %d: invalid settings %+v", k, h)
		}
	}
	return nil
}

// Batch is a minibatch of Rows examples, sparse (CSR) or dense. Sparse: the entries of row r are
// Cols[RowPtr[r]:RowPtr[r+1]] with values Vals at the same positions. Dense, when Width > 0: row r
// is Dense[r*Width:(r+1)*Width], column j being input j. Labels has one value per row (the class
// index for Softmax).
type Batch struct {
	Rows   int
	RowPtr []int32
	Cols   []int32
	Vals   []float64
	Width  int
	Dense  []float64
	Labels []float64
}

// Reset empties b for sparse rows, keeping its memory.
func (b *Batch) Reset() {
	b.Rows, b.Width = 0, 0
	b.RowPtr = append(b.RowPtr[:0], 0)
	b.Cols, b.Vals, b.Dense, b.Labels = b.Cols[:0], b.Vals[:0], b.Dense[:0], b.Labels[:0]
}

// AddRow appends a sparse row.
func (b *Batch) AddRow(cols []int32, vals []float64, label float64) {
	if len(b.RowPtr) == 0 {
		b.RowPtr = append(b.RowPtr, 0)
	}
	b.Cols = append(b.Cols, cols...)
	b.Vals = append(b.Vals, vals...)
	b.RowPtr = append(b.RowPtr, int32(len(b.Cols)))
	b.Labels = append(b.Labels, label)
	b.Rows++
}

// Check verifies that b is well formed for models of shape s and that out can hold their outputs.
func (b *Batch) Check(s Shape, out []float64) error {
	if len(b.Labels) != b.Rows || len(out) < s.Models*b.Rows*s.Outputs {
		return fmt.Errorf("batch: %d rows, %d labels, %d outputs", b.Rows, len(b.Labels), len(out))
	}
	if b.Width > 0 {
		if b.Width > s.Dim || len(b.Dense) != b.Rows*b.Width {
			return fmt.Errorf("batch: dense %d x %d in %d values for dim %d", b.Rows, b.Width, len(b.Dense), s.Dim)
		}
		return nil
	}
	if len(b.RowPtr) != b.Rows+1 || b.RowPtr[0] != 0 || int(b.RowPtr[b.Rows]) != len(b.Cols) || len(b.Vals) != len(b.Cols) {
		return errors.New("batch: malformed CSR")
	}
	for r := range b.Rows {
		if b.RowPtr[r] > b.RowPtr[r+1] {
			return errors.New("batch: malformed CSR")
		}
	}
	for _, c := range b.Cols {
		if c < 0 || int(c) >= s.Dim {
			return fmt.Errorf("batch: column %d out of range", c)
		}
	}
	return nil
}
