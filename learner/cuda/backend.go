// Package cuda is the learner's GPU backend: learner.Models (linear populations) and
// learner.FamilyModel (FM and MLP, family.go) whose state lives in the memory of an NVIDIA GPU,
// trained with the kernels in kernels/learner.cu. It loads the CUDA driver (and NVRTC,
// when the PTX is not embedded) at run time with purego, so the default CGO_ENABLED=0 build runs
// everywhere and a machine without a GPU gets ErrUnavailable and the CPU backend.
package cuda

import (
	"errors"
	"fmt"
	"sync"

	"github.com/streamlearn/streamlearn/learner"
)

// Backend trains learner.Models and learner.FamilyModel on one GPU. It is safe for concurrent use; each Models it makes is
// used by one goroutine at a time, as the interface says.
type Backend struct {
	dev     device
	info    DeviceInfo
	kernels string // where the kernels came from

	mu     sync.Mutex
	live   int // Models not yet closed
	closed bool
}

var _ learner.Backend = (*Backend)(nil)

// Open loads the driver and the kernels on GPU ordinal. The error wraps ErrUnavailable when there is
// no driver or no such device.
func Open(ordinal int) (*Backend, error) {
	d, err := loadDriver()
	if err != nil {
		return nil, err
	}
	var count int32
	if err := d.check("cuDeviceGetCount", d.cuDeviceGetCount(&count)); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	if ordinal < 0 || ordinal >= int(count) {
		return nil, fmt.Errorf("%w: no GPU %d (%d found)", ErrUnavailable, ordinal, count)
	}
	info, _, err := d.deviceInfo(ordinal)
	if err != nil {
		return nil, err
	}
	if info.major < 6 {
		return nil, fmt.Errorf("%w: %s has compute capability %s; 6.0 or newer is needed (double-precision atomics)", ErrUnavailable, info.Name, info.ComputeCapability)
	}
	ptx, origin, err := kernelCode(info.major, info.minor)
	if err != nil {
		return nil, fmt.Errorf("cuda kernels: %w", err)
	}
	dev, err := openDevice(d, ordinal, ptx)
	if err != nil {
		return nil, err
	}
	return newBackend(dev, info, origin), nil
}

func newBackend(dev device, info DeviceInfo, kernels string) *Backend {
	return &Backend{dev: dev, info: info, kernels: kernels}
}

// Name returns "cuda".
func (b *Backend) Name() string { return "cuda" }

// Device describes the GPU, with its free memory now.
func (b *Backend) Device() DeviceInfo {
	info := b.info
	if free, _, err := b.dev.memInfo(); err == nil {
		info.MemoryFree = free
	}
	return info
}

// Kernels says where the kernels came from: the embedded PTX or NVRTC.
func (b *Backend) Kernels() string { return b.kernels }

// NewModels allocates the state of shape.Models models in device memory, zeroed.
func (b *Backend) NewModels(shape learner.Shape, hyper []learner.Hyper) (learner.Models, error) {
	if err := shape.Validate(hyper); err != nil {
		return nil, fmt.Errorf("cuda backend: %w", err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, errors.New("cuda backend: closed")
	}
	m, err := newModels(b.dev, shape, hyper)
	if err != nil {
		return nil, fmt.Errorf("cuda backend: %w", err)
	}
	b.live++
	m.onClose = func() {
		b.mu.Lock()
		b.live--
		b.mu.Unlock()
	}
	return m, nil
}

// Close releases the device. Models still open are an error: their memory would leak.
func (b *Backend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	if b.live > 0 {
		return fmt.Errorf("cuda backend: %d models still open", b.live)
	}
	b.closed = true
	return b.dev.close()
}

// Report is what Probe found: enough for `streamlearn doctor` and for deciding on --device auto.
type Report struct {
	Available bool         `json:"available"`
	Reason    string       `json:"reason,omitempty"` // why not, when not available
	Driver    string       `json:"driver,omitempty"` // CUDA version the driver supports
	Devices   []DeviceInfo `json:"devices,omitempty"`
	Kernels   string       `json:"kernels,omitempty"` // where the kernels came from, on device 0
	SelfTest  string       `json:"self_test,omitempty"`
}

// Probe looks for the driver and the GPUs and, when there is one, loads the kernels on the first and
// runs SelfTest there. It never fails: what is missing or wrong is in Reason.
func Probe() Report {
	d, err := loadDriver()
	if err != nil {
		return Report{Reason: err.Error()}
	}
	var r Report
	var v, count int32
	if d.cuDriverGetVersion(&v) == 0 {
		r.Driver = versionString(v)
	}
	if err := d.check("cuDeviceGetCount", d.cuDeviceGetCount(&count)); err != nil {
		r.Reason = err.Error()
		return r
	}
	for i := range int(count) {
		info, _, err := d.deviceInfo(i)
		if err != nil {
			r.Reason = err.Error()
			return r
		}
		r.Devices = append(r.Devices, info)
	}
	if count == 0 {
		r.Reason = "the driver found no GPU"
		return r
	}
	b, err := Open(0)
	if err != nil {
		r.Reason = err.Error()
		return r
	}
	defer b.Close()
	r.Kernels, r.Devices[0] = b.Kernels(), b.Device()
	diff, err := SelfTest(b)
	if err != nil {
		r.Reason, r.SelfTest = err.Error(), "failed"
		return r
	}
	r.Available = true
	r.SelfTest = fmt.Sprintf("passed: training on the GPU matches the CPU backend within %.1e (relative)", diff)
	return r
}
