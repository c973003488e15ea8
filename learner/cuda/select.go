package cuda

import (
	"errors"
	"fmt"

	"github.com/streamlearn/streamlearn/learner"
)

// Device modes of --device.
const (
	DeviceAuto = "auto" // the GPU where it is faster for the workload, else the CPU
	DeviceCPU  = "cpu"  // the CPU: learner.Online, one example at a time
	DeviceCUDA = "cuda" // the GPU, or an error
)

// Workload is what the choice between CPU and GPU depends on, besides the models' shape.
type Workload struct {
	Batch  int // rows per minibatch
	Active int // nonzero inputs per row: the width of dense rows, ~50 for hashed features
}

// crossoverWork is the work per minibatch (rows x active inputs x models x outputs) from which the GPU
// trains faster than the CPU backend. The GPU pays a fixed cost per step (kernel launches, a copy,
// a synchronization: tens of microseconds) that the CPU does not, and wins once the CPU needs longer
// than that for a step. The CPU backend does about 3e7 units of work per second on hashed sparse rows
// (bench/gpu on a 2-core EPYC, 2026-11-22: 1.2M ex/s at K=1 down to 4.3k ex/s at K=64, 50 inputs; dense
// rows go about 10x faster per unit), so with an assumed 50 us GPU step the crossover is near 1500.
// The GPU step time is NOT measured: bench/gpu measures the crossover on a GPU, and this constant is
// to be replaced by it.
const crossoverWork = 1 << 11

// Prefers reports whether --device auto puts models of shape on the GPU for workload w.
func Prefers(shape learner.Shape, w Workload) bool {
	return w.Batch*max(w.Active, 1)*shape.Models*shape.Outputs >= crossoverWork
}

// Selector carries out --device for the models of one process: it opens the GPU at most once and
// says, per set of models, whether they train there.
type Selector struct {
	mode   string
	w      Workload
	gpu    *Backend
	gpuErr error // why there is no GPU, for auto
}

// NewSelector checks mode and opens the GPU for auto and cuda. With cuda, no usable GPU is an error;
// with auto, it means the CPU.
func NewSelector(mode string, w Workload) (*Selector, error) {
	s := &Selector{mode: mode, w: w}
	switch mode {
	case DeviceCPU:
	case DeviceCUDA:
		if s.gpu, s.gpuErr = openTested(); s.gpuErr != nil {
			return nil, fmt.Errorf("--device cuda: %w", s.gpuErr)
		}
	case DeviceAuto:
		s.gpu, s.gpuErr = openTested()
	default:
		return nil, fmt.Errorf("--device %q: want auto, cpu or cuda", mode)
	}
	return s, nil
}

// openTested opens GPU 0 and runs SelfTest on it: a GPU that trains wrong is not used.
func openTested() (*Backend, error) {
	b, err := Open(0)
	if err != nil {
		return nil, err
	}
	if _, err := SelfTest(b); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

// For returns the backend for models of shape, nil meaning the CPU's per-example trainer, and why.
func (s *Selector) For(shape learner.Shape) (learner.Backend, string) {
	switch {
	case s.mode == DeviceCPU:
		return nil, "cpu: as asked"
	case s.gpu == nil && errors.Is(s.gpuErr, ErrUnavailable):
		return nil, "cpu: " + s.gpuErr.Error()
	case s.gpu == nil:
		return nil, "cpu: the GPU is present but failed: " + s.gpuErr.Error()
	case s.mode == DeviceCUDA:
		return s.gpu, fmt.Sprintf("cuda: %s, as asked; minibatches of %d", s.gpu.info.Name, s.w.Batch)
	case Prefers(shape, s.w):
		return s.gpu, fmt.Sprintf("cuda: %s; minibatches of %d x %d inputs x %d models x %d outputs reach the crossover %d",
			s.gpu.info.Name, s.w.Batch, s.w.Active, shape.Models, shape.Outputs, crossoverWork)
	}
	return nil, fmt.Sprintf("cpu: minibatches of %d x %d inputs x %d models x %d outputs are below the GPU's crossover %d",
		s.w.Batch, s.w.Active, shape.Models, shape.Outputs, crossoverWork)
}

// ForSpec returns the backend for the model of spec, nil meaning the CPU, and why: linear models as For
// places them; FM and MLP on the GPU with cuda, and with auto when the work of a minibatch reaches
// the same crossover as for linear models (FamilyWork units; not measured for these families); tree,
// forest and auto on the CPU, which alone has their code.
func (s *Selector) ForSpec(spec learner.Spec) (learner.Backend, string) {
	if spec.IsLinear() {
		return s.For(learner.ShapeOf(spec, 1))
	}
	fs, ok := learner.FamilyShapeOf(spec)
	switch {
	case !ok:
		return nil, "cpu: family " + spec.Family + " trains on the CPU only"
	case s.mode == DeviceCPU || s.gpu == nil:
		return s.For(learner.ShapeOf(spec, 1))
	case s.mode == DeviceCUDA:
		return s.gpu, fmt.Sprintf("cuda: %s, as asked; family %s, minibatches of %d", s.gpu.info.Name, fs.Family, s.w.Batch)
	}
	work := s.w.Batch * FamilyWork(fs, s.w.Active)
	if work >= crossoverWork {
		return s.gpu, fmt.Sprintf("cuda: %s; family %s: minibatches of %d x %d units of work reach the crossover %d",
			s.gpu.info.Name, fs.Family, s.w.Batch, FamilyWork(fs, s.w.Active), crossoverWork)
	}
	return nil, fmt.Sprintf("cpu: family %s: minibatches of %d x %d units of work are below the GPU's crossover %d",
		fs.Family, s.w.Batch, FamilyWork(fs, s.w.Active), crossoverWork)
}

// FamilyWork is the work of one row of an FM or MLP minibatch with active inputs, in the units of
// crossoverWork (multiply-adds): an FM reads 1+factors values per input; an MLP h1 per input, then
// its dense layers.
func FamilyWork(fs learner.FamilyShape, active int) int {
	active = max(active, 1)
	if fs.Family == learner.FamilyFM {
		return active * fs.Stride
	}
	h1, h2 := fs.Hidden[0], fs.Hidden[1]
	return active*h1 + h1*h2 + max(h2, h1)
}

// Close releases the GPU. The models trained on it must be closed first.
func (s *Selector) Close() error {
	if s.gpu == nil {
		return nil
	}
	return s.gpu.Close()
}
