package testenv

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

// fakeCUDA is the directory of the fake driver, built once per test binary.
var fakeCUDA struct {
	once     sync.Once
	dir, why string
	err      error
}

// FakeCUDA returns a directory holding libcuda.so.1 and libnvrtc.so built from
// learner/cuda/emulator/fake_driver.cpp: the real kernels on the CPU behind the driver API, so that
// the CUDA backend's bindings run without a GPU. Run a process with FakeCUDAEnv(dir) to use them. It
// skips the test where g++ is missing (outside CI).
func FakeCUDA(t testing.TB) string {
	t.Helper()
	fakeCUDA.once.Do(buildFakeCUDA)
	if fakeCUDA.why != "" {
		unavailable(t, "%s", fakeCUDA.why)
	}
	if fakeCUDA.err != nil {
		t.Fatal(fakeCUDA.err)
	}
	return fakeCUDA.dir
}

// FakeCUDAEnv is the environment that makes a process load the fake driver of dir.
func FakeCUDAEnv(dir string) []string {
	return []string{"LD_LIBRARY_PATH=" + dir, "STREAMLEARN_NVRTC=" + filepath.Join(dir, "libnvrtc.so")}
}

func buildFakeCUDA() {
	gxx, err := exec.LookPath("g++")
	if err != nil {
		fakeCUDA.why = "g++ not found: the fake CUDA driver cannot be built"
		return
	}
	_, file, _, _ := runtime.Caller(0)
	src := filepath.Join(filepath.Dir(file), "..", "..", "learner", "cuda", "emulator")
	h := sha256.New()
	for _, f := range []string{"fake_driver.cpp", "main.cpp", "cuda_emu.h", "../kernels/learner.cu"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			fakeCUDA.err = fmt.Errorf("fake cuda: %v", err)
			return
		}
		h.Write(b)
	}
	dir := filepath.Join(os.TempDir(), "streamlearn-fake-cuda-"+hex.EncodeToString(h.Sum(nil))[:16])
	lib := filepath.Join(dir, "libcuda.so.1")
	if _, err := os.Stat(lib); err != nil {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			fakeCUDA.err = err
			return
		}
		tmp := lib + fmt.Sprintf(".%d", os.Getpid())
		cmd := exec.Command(gxx, "-std=c++20", "-O2", "-pthread", "-fPIC", "-shared", "-Wno-unknown-pragmas",
			"-I", src, "-o", tmp, filepath.Join(src, "fake_driver.cpp"))
		if out, err := cmd.CombinedOutput(); err != nil {
			fakeCUDA.err = fmt.Errorf("fake cuda: g++: %v\n%s", err, out)
			return
		}
		if err := os.Rename(tmp, lib); err != nil {
			fakeCUDA.err = err
			return
		}
	}
	nvrtc := filepath.Join(dir, "libnvrtc.so")
	if _, err := os.Lstat(nvrtc); err != nil {
		if err := os.Symlink("libcuda.so.1", nvrtc); err != nil && !os.IsExist(err) {
			fakeCUDA.err = err
			return
		}
	}
	fakeCUDA.dir = dir
}
