package cuda

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/streamlearn/streamlearn/internal/testenv"
)

// gpuTests are the tests with a "gpu" subtest (or that need a GPU), run by TestDriverBindings.
const gpuTests = "TestModelsMatchCPU|TestGradientsAccumulate|TestStepOverlaps|TestStateRoundTrip|TestEngineOnDevice|" +
	"TestModelsRejectBadInput|TestCheckpointMovesBetweenDevices|TestSelfTest|TestSelectorOnGPU|TestFakeDriverProbe|" +
	"TestFamilyMatchesCPU|TestFamilyCheckpointMoves|TestFamilyEngineMatchesCPU"

// TestDriverBindings runs this package's GPU tests again in a child process whose loader finds the
// fake driver (emulator/fake_driver.cpp) as libcuda.so.1 and libnvrtc.so: there the "gpu" subtests
// run instead of skipping, through the real bindings of driver.go and kernels.go (dlopen, each entry
// point's signature, out-parameters, the launch parameter array, error names, NVRTC and its log).
// It proves the binding layer, not a GPU: the fake runs the kernels on the CPU.
func TestDriverBindings(t *testing.T) {
	if os.Getenv("STREAMLEARN_FAKE_CUDA_CHILD") != "" {
		t.Skip("in the child")
	}
	dir := testenv.FakeCUDA(t)
	cmd := exec.Command(os.Args[0], "-test.run=^("+gpuTests+")$/^gpu$", "-test.v", "-test.count=1")
	cmd.Env = append(append(os.Environ(), testenv.FakeCUDAEnv(dir)...), "STREAMLEARN_FAKE_CUDA_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the GPU tests on the fake driver failed: %v\n%s", err, out)
	}
	passed := regexp.MustCompile(`(?m)^\s*--- PASS: \S+/gpu \(`).FindAll(out, -1)
	if skipped := regexp.MustCompile(`(?m)^\s*--- SKIP: \S+/gpu `).FindAll(out, -1); len(skipped) > 0 || len(passed) < 8 {
		t.Fatalf("%d gpu subtests passed and %d skipped on the fake driver, want >= 8 and 0:\n%s", len(passed), len(skipped), out)
	}
	for _, want := range []string{"--- PASS: TestFakeDriverProbe", "--- PASS: TestSelectorOnGPU"} {
		if !strings.Contains(string(out), want) {
			t.Fatalf("no %q in the child's output:\n%s", want, out)
		}
	}
	t.Logf("%d gpu subtests passed through the driver bindings", len(passed))
}

// TestFakeDriverProbe checks what Probe and Open read through the bindings; it runs only in the
// child of TestDriverBindings.
func TestFakeDriverProbe(t *testing.T) {
	if os.Getenv("STREAMLEARN_FAKE_CUDA_CHILD") == "" {
		t.Skip("run by TestDriverBindings with the fake driver")
	}
	r := Probe()
	if !r.Available || r.Driver != "13.0" || len(r.Devices) != 1 || !strings.HasPrefix(r.SelfTest, "passed") {
		t.Fatalf("probe: %+v", r)
	}
	d := r.Devices[0]
	if d.Name != "Fake GPU (CPU emulator)" || d.ComputeCapability != "9.0" || d.Multiprocessors != 4 ||
		d.MemoryTotal != 1<<34 || d.MemoryFree == 0 || d.MemoryFree > d.MemoryTotal {
		t.Fatalf("device: %+v", d)
	}
	if r.Kernels != "NVRTC 13.0, compute_90" {
		t.Fatalf("kernels from %q", r.Kernels)
	}
	if _, err := Open(1); err == nil || !strings.Contains(err.Error(), "no GPU 1 (1 found)") {
		t.Fatalf("Open(1): %v", err)
	}
	// A driver error comes back with its name, read through cuGetErrorName.
	b, err := Open(0)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	err = b.dev.launch("no_such_kernel", dim3{1, 1, 1}, dim3{1, 1, 1}, 0)
	if err == nil || !strings.Contains(err.Error(), "CUDA_ERROR_NOT_FOUND") {
		t.Fatalf("launch of a missing kernel: %v", err)
	}
	if _, err := b.dev.alloc(1 << 50); err == nil || !strings.Contains(err.Error(), "CUDA_ERROR_OUT_OF_MEMORY") {
		t.Fatalf("alloc of 1 PiB: %v", err)
	}
}
