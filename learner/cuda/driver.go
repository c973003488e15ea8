package cuda

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
	"unsafe"
)

// ErrUnavailable is wrapped by every error that means "no usable GPU here": no driver library, no
// device, or a driver too old. Callers fall back to the CPU on it.
var ErrUnavailable = errors.New("cuda unavailable")

// The driver API as functions loaded from libcuda.so.1 at run time: the build needs no CUDA headers
// and no cgo, and a machine without the driver gets an error instead of a link failure.
type driver struct {
	cuInit                    func(flags uint32) int32
	cuDriverGetVersion        func(version *int32) int32
	cuDeviceGetCount          func(count *int32) int32
	cuDeviceGet               func(dev *int32, ordinal int32) int32
	cuDeviceGetName           func(name *byte, n int32, dev int32) int32
	cuDeviceTotalMem          func(bytes *uint64, dev int32) int32
	cuDeviceGetAttribute      func(v *int32, attr int32, dev int32) int32
	cuDevicePrimaryCtxRetain  func(ctx *uintptr, dev int32) int32
	cuDevicePrimaryCtxRelease func(dev int32) int32
	cuCtxSetCurrent           func(ctx uintptr) int32
	cuModuleLoadData          func(mod *uintptr, image *byte) int32
	cuModuleUnload            func(mod uintptr) int32
	cuModuleGetFunction       func(fn *uintptr, mod uintptr, name *byte) int32
	cuMemAlloc                func(p *uint64, bytes uint64) int32
	cuMemFree                 func(p uint64) int32
	cuMemAllocHost            func(p *unsafe.Pointer, bytes uint64) int32
	cuMemFreeHost             func(p unsafe.Pointer) int32
	cuMemcpyHtoDAsync         func(dst uint64, src unsafe.Pointer, bytes uint64, s uintptr) int32
	cuMemcpyDtoHAsync         func(dst unsafe.Pointer, src uint64, bytes uint64, s uintptr) int32
	cuMemsetD8Async           func(dst uint64, v uint8, n uint64, s uintptr) int32
	cuMemGetInfo              func(free, total *uint64) int32
	cuStreamCreate            func(s *uintptr, flags uint32) int32
	cuStreamDestroy           func(s uintptr) int32
	cuStreamWaitEvent         func(s, e uintptr, flags uint32) int32
	cuEventCreate             func(e *uintptr, flags uint32) int32
	cuEventDestroy            func(e uintptr) int32
	cuEventRecord             func(e, s uintptr) int32
	cuEventSynchronize        func(e uintptr) int32
	cuLaunchKernel            func(fn uintptr, gx, gy, gz, bx, by, bz, shared uint32, s uintptr, params *unsafe.Pointer, extra *unsafe.Pointer) int32
	cuGetErrorName            func(res int32, name **byte) int32
}

// Device attributes and flags of the driver API (cuda.h).
const (
	attrMultiprocessors = 16
	attrCCMajor         = 75
	attrCCMinor         = 76
	streamNonBlocking   = 1
	eventDisableTiming  = 2
	minDriverVersion    = 11040 // CUDA 11.4: the _v2 entry points and sm_80+ PTX
)

var (
	loadOnce   sync.Once
	loaded     *driver
	loadFailed error
)

// loadDriver opens libcuda.so.1 and initializes the driver, once per process.
func loadDriver() (*driver, error) {
	loadOnce.Do(func() { loaded, loadFailed = openDriver() })
	return loaded, loadFailed
}

func openDriver() (d *driver, err error) {
	lib, err := dlopen("libcuda.so.1")
	if err != nil {
		return nil, fmt.Errorf("%w: no NVIDIA driver: %v", ErrUnavailable, err)
	}
	// RegisterLibFunc panics on a missing symbol; a driver that old is reported, not crashed on.
	defer func() {
		if p := recover(); p != nil {
			d, err = nil, fmt.Errorf("%w: driver library lacks an entry point: %v", ErrUnavailable, p)
		}
	}()
	d = &driver{}
	reg := func(fptr any, name string) { bind(fptr, lib, name) }
	reg(&d.cuInit, "cuInit")
	reg(&d.cuDriverGetVersion, "cuDriverGetVersion")
	reg(&d.cuDeviceGetCount, "cuDeviceGetCount")
	reg(&d.cuDeviceGet, "cuDeviceGet")
	reg(&d.cuDeviceGetName, "cuDeviceGetName")
	reg(&d.cuDeviceTotalMem, "cuDeviceTotalMem_v2")
	reg(&d.cuDeviceGetAttribute, "cuDeviceGetAttribute")
	reg(&d.cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain")
	reg(&d.cuDevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2")
	reg(&d.cuCtxSetCurrent, "cuCtxSetCurrent")
	reg(&d.cuModuleLoadData, "cuModuleLoadData")
	reg(&d.cuModuleUnload, "cuModuleUnload")
	reg(&d.cuModuleGetFunction, "cuModuleGetFunction")
	reg(&d.cuMemAlloc, "cuMemAlloc_v2")
	reg(&d.cuMemFree, "cuMemFree_v2")
	reg(&d.cuMemAllocHost, "cuMemAllocHost_v2")
	reg(&d.cuMemFreeHost, "cuMemFreeHost")
	reg(&d.cuMemcpyHtoDAsync, "cuMemcpyHtoDAsync_v2")
	reg(&d.cuMemcpyDtoHAsync, "cuMemcpyDtoHAsync_v2")
	reg(&d.cuMemsetD8Async, "cuMemsetD8Async")
	reg(&d.cuMemGetInfo, "cuMemGetInfo_v2")
	reg(&d.cuStreamCreate, "cuStreamCreate")
	reg(&d.cuStreamDestroy, "cuStreamDestroy_v2")
	reg(&d.cuStreamWaitEvent, "cuStreamWaitEvent")
	reg(&d.cuEventCreate, "cuEventCreate")
	reg(&d.cuEventDestroy, "cuEventDestroy_v2")
	reg(&d.cuEventRecord, "cuEventRecord")
	reg(&d.cuEventSynchronize, "cuEventSynchronize")
	reg(&d.cuLaunchKernel, "cuLaunchKernel")
	reg(&d.cuGetErrorName, "cuGetErrorName")
	if err := d.check("cuInit", d.cuInit(0)); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	var v int32
	if err := d.check("cuDriverGetVersion", d.cuDriverGetVersion(&v)); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	if v < minDriverVersion {
		return nil, fmt.Errorf("%w: driver supports CUDA %s, %s or newer is needed", ErrUnavailable, versionString(v), versionString(minDriverVersion))
	}
	return d, nil
}

// versionString renders a CUDA version number (1000*major + 10*minor).
func versionString(v int32) string { return fmt.Sprintf("%d.%d", v/1000, v%1000/10) }

// Error is a failed driver call.
type Error struct {
	Op   string
	Code int32
	Name string
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s (%d)", e.Op, e.Name, e.Code) }

// check turns a CUresult into an error.
func (d *driver) check(op string, res int32) error {
	if res == 0 {
		return nil
	}
	name := "CUDA_ERROR_UNKNOWN"
	var p *byte
	if d.cuGetErrorName != nil && d.cuGetErrorName(res, &p) == 0 && p != nil {
		name = cString(p)
	}
	return &Error{Op: op, Code: res, Name: name}
}

// cString copies a NUL-terminated string the driver owns.
func cString(p *byte) string {
	var b []byte
	for ; *p != 0 && len(b) < 4096; p = (*byte)(unsafe.Add(unsafe.Pointer(p), 1)) {
		b = append(b, *p)
	}
	return string(b)
}

// cBytes returns s as a NUL-terminated byte string for the driver to read.
func cBytes(s string) *byte {
	b := append([]byte(s), 0)
	return &b[0]
}

// DeviceInfo describes one GPU.
type DeviceInfo struct {
	Ordinal           int    `json:"ordinal"`
	Name              string `json:"name"`
	ComputeCapability string `json:"compute_capability"` // "9.0"
	Multiprocessors   int    `json:"multiprocessors"`
	MemoryTotal       uint64 `json:"memory_total_bytes"`
	MemoryFree        uint64 `json:"memory_free_bytes,omitempty"`
	major, minor      int
}

// deviceInfo reads the properties of device ordinal.
func (d *driver) deviceInfo(ordinal int) (DeviceInfo, int32, error) {
	var dev int32
	if err := d.check("cuDeviceGet", d.cuDeviceGet(&dev, int32(ordinal))); err != nil {
		return DeviceInfo{}, 0, err
	}
	info := DeviceInfo{Ordinal: ordinal}
	name := make([]byte, 256)
	if err := d.check("cuDeviceGetName", d.cuDeviceGetName(&name[0], int32(len(name)), dev)); err != nil {
		return info, dev, err
	}
	info.Name = cString(&name[0])
	if err := d.check("cuDeviceTotalMem", d.cuDeviceTotalMem(&info.MemoryTotal, dev)); err != nil {
		return info, dev, err
	}
	var major, minor, sms int32
	for _, a := range []struct {
		attr int32
		v    *int32
	}{{attrCCMajor, &major}, {attrCCMinor, &minor}, {attrMultiprocessors, &sms}} {
		if err := d.check("cuDeviceGetAttribute", d.cuDeviceGetAttribute(a.v, a.attr, dev)); err != nil {
			return info, dev, err
		}
	}
	info.major, info.minor, info.Multiprocessors = int(major), int(minor), int(sms)
	info.ComputeCapability = fmt.Sprintf("%d.%d", major, minor)
	return info, dev, nil
}

// driverDevice is the device interface on one GPU through the driver API. The driver binds a context
// to an OS thread, and goroutines move between threads, so every call pins its goroutine and makes
// the context current first; that costs well under a microsecond.
type driverDevice struct {
	d       *driver
	dev     int32
	ctx     uintptr
	module  uintptr
	mu      sync.Mutex // guards funcs
	funcs   map[string]uintptr
	streams []uintptr
	events  []uintptr
}

var _ device = (*driverDevice)(nil)

// openDevice makes device ordinal's primary context current-capable and loads the kernels' PTX.
func openDevice(d *driver, ordinal int, ptx []byte) (*driverDevice, error) {
	_, dev, err := d.deviceInfo(ordinal)
	if err != nil {
		return nil, err
	}
	g := &driverDevice{d: d, dev: dev, funcs: map[string]uintptr{}}
	if err := d.check("cuDevicePrimaryCtxRetain", d.cuDevicePrimaryCtxRetain(&g.ctx, dev)); err != nil {
		return nil, err
	}
	err = g.do(func() error {
		image := append(append([]byte(nil), ptx...), 0)
		return d.check("cuModuleLoadData", d.cuModuleLoadData(&g.module, &image[0]))
	})
	if err != nil {
		d.cuDevicePrimaryCtxRelease(dev)
		return nil, fmt.Errorf("load kernels: %w", err)
	}
	return g, nil
}

// do runs f with the device's context current on this goroutine's thread.
func (g *driverDevice) do(f func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := g.d.check("cuCtxSetCurrent", g.d.cuCtxSetCurrent(g.ctx)); err != nil {
		return err
	}
	return f()
}

func (g *driverDevice) alloc(bytes int) (devPtr, error) {
	var p uint64
	err := g.do(func() error { return g.d.check("cuMemAlloc", g.d.cuMemAlloc(&p, uint64(max(bytes, 1)))) })
	return devPtr(p), err
}

func (g *driverDevice) free(p devPtr) error {
	return g.do(func() error { return g.d.check("cuMemFree", g.d.cuMemFree(uint64(p))) })
}

func (g *driverDevice) allocHost(bytes int) ([]byte, error) {
	var p unsafe.Pointer
	err := g.do(func() error { return g.d.check("cuMemAllocHost", g.d.cuMemAllocHost(&p, uint64(max(bytes, 1)))) })
	if err != nil {
		return nil, err
	}
	return unsafe.Slice((*byte)(p), bytes), nil
}

func (g *driverDevice) freeHost(b []byte) error {
	if cap(b) == 0 {
		return nil
	}
	return g.do(func() error {
		return g.d.check("cuMemFreeHost", g.d.cuMemFreeHost(unsafe.Pointer(unsafe.SliceData(b))))
	})
}

func (g *driverDevice) upload(dst devPtr, src []byte, s stream) error {
	if len(src) == 0 {
		return nil
	}
	return g.do(func() error {
		return g.d.check("cuMemcpyHtoDAsync", g.d.cuMemcpyHtoDAsync(uint64(dst), unsafe.Pointer(&src[0]), uint64(len(src)), uintptr(s)))
	})
}

func (g *driverDevice) download(dst []byte, src devPtr, s stream) error {
	if len(dst) == 0 {
		return nil
	}
	return g.do(func() error {
		return g.d.check("cuMemcpyDtoHAsync", g.d.cuMemcpyDtoHAsync(unsafe.Pointer(&dst[0]), uint64(src), uint64(len(dst)), uintptr(s)))
	})
}

func (g *driverDevice) zero(dst devPtr, bytes int, s stream) error {
	return g.do(func() error {
		return g.d.check("cuMemsetD8Async", g.d.cuMemsetD8Async(uint64(dst), 0, uint64(bytes), uintptr(s)))
	})
}

func (g *driverDevice) function(name string) (uintptr, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if f, ok := g.funcs[name]; ok {
		return f, nil
	}
	var f uintptr
	if err := g.d.check("cuModuleGetFunction "+name, g.d.cuModuleGetFunction(&f, g.module, cBytes(name))); err != nil {
		return 0, err
	}
	g.funcs[name] = f
	return f, nil
}

func (g *driverDevice) launch(name string, grid, block dim3, s stream, args ...any) error {
	f, err := g.function(name)
	if err != nil {
		return err
	}
	// The driver reads each parameter through a pointer when the launch is queued, so the values
	// live in one heap array for the duration of the call.
	vals := make([]uint64, len(args))
	ptrs := make([]unsafe.Pointer, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case devPtr:
			vals[i] = uint64(v)
		case int32:
			vals[i] = uint64(uint32(v)) // little-endian: the driver reads the low 4 bytes
		case int:
			vals[i] = uint64(uint32(int32(v)))
		case int64:
			vals[i] = uint64(v)
		case float64:
			vals[i] = math.Float64bits(v)
		default:
			return fmt.Errorf("launch %s: argument %d has type %T", name, i, a)
		}
		ptrs[i] = unsafe.Pointer(&vals[i])
	}
	var params *unsafe.Pointer
	if len(ptrs) > 0 {
		params = &ptrs[0]
	}
	err = g.do(func() error {
		return g.d.check("cuLaunchKernel "+name, g.d.cuLaunchKernel(f, grid.x, grid.y, grid.z, block.x, block.y, block.z, 0, uintptr(s), params, nil))
	})
	runtime.KeepAlive(vals)
	runtime.KeepAlive(ptrs)
	return err
}

func (g *driverDevice) newStream() (stream, error) {
	var s uintptr
	err := g.do(func() error { return g.d.check("cuStreamCreate", g.d.cuStreamCreate(&s, streamNonBlocking)) })
	if err == nil {
		g.mu.Lock()
		g.streams = append(g.streams, s)
		g.mu.Unlock()
	}
	return stream(s), err
}

func (g *driverDevice) newEvent() (event, error) {
	var e uintptr
	err := g.do(func() error { return g.d.check("cuEventCreate", g.d.cuEventCreate(&e, eventDisableTiming)) })
	if err == nil {
		g.mu.Lock()
		g.events = append(g.events, e)
		g.mu.Unlock()
	}
	return event(e), err
}

func (g *driverDevice) record(e event, s stream) error {
	return g.do(func() error { return g.d.check("cuEventRecord", g.d.cuEventRecord(uintptr(e), uintptr(s))) })
}

func (g *driverDevice) wait(s stream, e event) error {
	return g.do(func() error { return g.d.check("cuStreamWaitEvent", g.d.cuStreamWaitEvent(uintptr(s), uintptr(e), 0)) })
}

func (g *driverDevice) synchronize(e event) error {
	return g.do(func() error { return g.d.check("cuEventSynchronize", g.d.cuEventSynchronize(uintptr(e))) })
}

func (g *driverDevice) memInfo() (free, total uint64, err error) {
	err = g.do(func() error { return g.d.check("cuMemGetInfo", g.d.cuMemGetInfo(&free, &total)) })
	return free, total, err
}

// close releases streams, events, the module and the context reference. Memory must be freed first.
func (g *driverDevice) close() error {
	return g.do(func() error {
		var errs []error
		g.mu.Lock()
		defer g.mu.Unlock()
		for _, e := range g.events {
			errs = append(errs, g.d.check("cuEventDestroy", g.d.cuEventDestroy(e)))
		}
		for _, s := range g.streams {
			errs = append(errs, g.d.check("cuStreamDestroy", g.d.cuStreamDestroy(s)))
		}
		g.events, g.streams = nil, nil
		if g.module != 0 {
			errs = append(errs, g.d.check("cuModuleUnload", g.d.cuModuleUnload(g.module)))
			g.module = 0
		}
		errs = append(errs, g.d.check("cuDevicePrimaryCtxRelease", g.d.cuDevicePrimaryCtxRelease(g.dev)))
		return errors.Join(errs...)
	})
}
