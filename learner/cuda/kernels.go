package cuda

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"unsafe"
)

// The kernels' CUDA C source and, where `make ptx` was run on a machine with nvcc, the PTX built from
// it. The PTX's first line names the SHA-256 of the source it was built from; a stale PTX is ignored.
//
//go:embed kernels
var kernelFS embed.FS

const (
	kernelSource = "kernels/learner.cu"
	kernelPTX    = "kernels/learner.ptx"
	ptxHeader    = "// source sha256 "
)

// kernelCode returns PTX for a device of compute capability major.minor and says where it came from:
// the embedded nvcc build when it matches the source, else NVRTC compiling the source now.
func kernelCode(major, minor int) (ptx []byte, origin string, err error) {
	src, err := kernelFS.ReadFile(kernelSource)
	if err != nil {
		return nil, "", err
	}
	sum := sha256.Sum256(src)
	if built, err := kernelFS.ReadFile(kernelPTX); err == nil {
		if bytes.HasPrefix(built, []byte(ptxHeader+hex.EncodeToString(sum[:]))) {
			return built, "embedded PTX (nvcc)", nil
		}
	}
	nv, err := loadNVRTC()
	if err != nil {
		return nil, "", fmt.Errorf("no up-to-date embedded PTX and %w", err)
	}
	// An NVRTC older than the device does not know its architecture; PTX for an older one runs on
	// it too (the driver compiles it for the device), so fall back step by step.
	var errs []error
	for _, arch := range archesFor(major, minor) {
		ptx, err = nv.compile(src, "learner.cu", "--gpu-architecture="+arch, "--std=c++17")
		if err == nil {
			return ptx, fmt.Sprintf("NVRTC %s, %s", nv.version, arch), nil
		}
		errs = append(errs, err)
	}
	return nil, "", errors.Join(errs...)
}

// archesFor lists the virtual architectures to compile for, the device's own first, then older
// ones that still have double-precision atomicAdd (6.0 and up).
func archesFor(major, minor int) []string {
	arches := []string{fmt.Sprintf("compute_%d%d", major, minor)}
	for _, a := range []int{90, 80, 75, 70, 60} {
		if a < major*10+minor {
			arches = append(arches, fmt.Sprintf("compute_%d", a))
		}
	}
	return arches
}

// nvrtc is the runtime compiler, loaded like the driver. It ships with the CUDA toolkit (and the
// nvidia-cuda-nvrtc wheels), not with the driver, so it is optional when the PTX is embedded.
type nvrtc struct {
	version                string
	nvrtcVersion           func(major, minor *int32) int32
	nvrtcCreateProgram     func(prog *uintptr, src *byte, name *byte, nHeaders int32, headers, includes *unsafe.Pointer) int32
	nvrtcCompileProgram    func(prog uintptr, nOpts int32, opts *unsafe.Pointer) int32
	nvrtcGetPTXSize        func(prog uintptr, size *uint64) int32
	nvrtcGetPTX            func(prog uintptr, ptx *byte) int32
	nvrtcGetProgramLogSize func(prog uintptr, size *uint64) int32
	nvrtcGetProgramLog     func(prog uintptr, log *byte) int32
	nvrtcDestroyProgram    func(prog *uintptr) int32
}

// nvrtcNames are tried in order; STREAMLEARN_NVRTC names the library explicitly.
var nvrtcNames = []string{"libnvrtc.so", "libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2",
	"/usr/local/cuda/lib64/libnvrtc.so", "/usr/local/cuda/targets/x86_64-linux/lib/libnvrtc.so"}

func loadNVRTC() (n *nvrtc, err error) {
	names := nvrtcNames
	if p := os.Getenv("STREAMLEARN_NVRTC"); p != "" {
		names = []string{p}
	}
	var lib uintptr
	var errs []error
	for _, name := range names {
		if lib, err = dlopen(name); err == nil {
			break
		}
		errs = append(errs, err)
	}
	if lib == 0 {
		return nil, fmt.Errorf("no NVRTC library (tried %s; set STREAMLEARN_NVRTC): %w", filepath.Base(names[0]), errors.Join(errs...))
	}
	defer func() {
		if p := recover(); p != nil {
			n, err = nil, fmt.Errorf("NVRTC library lacks an entry point: %v", p)
		}
	}()
	n = &nvrtc{}
	for _, f := range []struct {
		fptr any
		name string
	}{
		{&n.nvrtcVersion, "nvrtcVersion"}, {&n.nvrtcCreateProgram, "nvrtcCreateProgram"},
		{&n.nvrtcCompileProgram, "nvrtcCompileProgram"}, {&n.nvrtcGetPTXSize, "nvrtcGetPTXSize"},
		{&n.nvrtcGetPTX, "nvrtcGetPTX"}, {&n.nvrtcGetProgramLogSize, "nvrtcGetProgramLogSize"},
		{&n.nvrtcGetProgramLog, "nvrtcGetProgramLog"}, {&n.nvrtcDestroyProgram, "nvrtcDestroyProgram"},
	} {
		bind(f.fptr, lib, f.name)
	}
	var major, minor int32
	if res := n.nvrtcVersion(&major, &minor); res != 0 {
		return nil, fmt.Errorf("nvrtcVersion: error %d", res)
	}
	n.version = fmt.Sprintf("%d.%d", major, minor)
	return n, nil
}

// compile turns CUDA C source into PTX, returning the compiler's log in the error when it fails.
func (n *nvrtc) compile(src []byte, name string, opts ...string) ([]byte, error) {
	var prog uintptr
	if res := n.nvrtcCreateProgram(&prog, cBytes(string(src)), cBytes(name), 0, nil, nil); res != 0 {
		return nil, fmt.Errorf("nvrtcCreateProgram: error %d", res)
	}
	defer n.nvrtcDestroyProgram(&prog)
	cOpts := make([]unsafe.Pointer, len(opts))
	for i, o := range opts {
		cOpts[i] = unsafe.Pointer(cBytes(o))
	}
	var optp *unsafe.Pointer
	if len(cOpts) > 0 {
		optp = &cOpts[0]
	}
	res := n.nvrtcCompileProgram(prog, int32(len(cOpts)), optp)
	runtime.KeepAlive(cOpts)
	if res != 0 {
		var size uint64
		log := ""
		if n.nvrtcGetProgramLogSize(prog, &size) == 0 && size > 1 {
			buf := make([]byte, size)
			if n.nvrtcGetProgramLog(prog, &buf[0]) == 0 {
				log = string(bytes.TrimRight(buf, "\x00"))
			}
		}
		return nil, fmt.Errorf("NVRTC could not compile %s (error %d):\n%s", name, res, log)
	}
	var size uint64
	if res := n.nvrtcGetPTXSize(prog, &size); res != 0 || size == 0 {
		return nil, fmt.Errorf("nvrtcGetPTXSize: error %d", res)
	}
	ptx := make([]byte, size)
	if res := n.nvrtcGetPTX(prog, &ptx[0]); res != 0 {
		return nil, fmt.Errorf("nvrtcGetPTX: error %d", res)
	}
	return bytes.TrimRight(ptx, "\x00"), nil
}
