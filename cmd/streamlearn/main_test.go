package main_test

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/streamlearn/streamlearn/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func build(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "streamlearn")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestServeEndToEndWithKcatAndSIGTERM runs the real binary with the embedded broker, talks to it
// with kcat (librdkafka), and stops it with SIGTERM: it must flush, commit and exit 0.
func TestServeEndToEndWithKcatAndSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := build(t)
	kafkaAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	httpAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	cfgFile := filepath.Join(t.TempDir(), "streamlearn.yaml")
	cfg := fmt.Sprintf("redis:\n  key_prefix: \"cmdtest:%d:\"\nclickhouse:\n  database: cmdtest_%d\n", time.Now().UnixNano(), time.Now().UnixNano()%1e9)
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(bin, "serve", "--config", cfgFile, "--embedded-kafka", kafkaAddr,
		"--redis", testenv.Redis(t), "--clickhouse", testenv.ClickHouse(t), "--http", httpAddr)
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + httpAddr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready after 60s; stderr:\n%s", stderr.String())
		}
		time.Sleep(200 * time.Millisecond)
	}

	t.Logf("ready after %s", time.Since(deadline.Add(-60*time.Second)))
	if kcat, err := exec.LookPath("kcat"); err == nil {
		var in strings.Builder
		for i := range 5 {
			fmt.Fprintf(&in, "u-%d:{\"id\": \"kcat-%d\", \"entity\": \"u-%d\", \"fields\": {\"amount\": %d}}\n", i, i, i, 10*i)
		}
		produce := exec.Command(kcat, "-P", "-b", kafkaAddr, "-t", "events", "-K:")
		produce.Stdin = strings.NewReader(in.String())
		if out, err := produce.CombinedOutput(); err != nil {
			t.Fatalf("kcat produce: %v\n%s", err, out)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// -c 5 and no -e: kcat waits for the five predictions (until ctx ends), rather than leaving at
		// the first moment every partition is read to its end, which may come before the last is made.
		out, err := exec.CommandContext(ctx, kcat, "-C", "-b", kafkaAddr, "-t", "predictions", "-o", "beginning", "-c", "5", "-f", "%k\n").Output()
		if err != nil {
			t.Fatalf("kcat consume: %v\n%s", err, out)
		}
		for i := range 5 {
			if !strings.Contains(string(out), fmt.Sprintf("kcat-%d", i)) {
				t.Errorf("no prediction for kcat-%d in %q", i, out)
			}
		}
	} else if testenv.InCI() {
		t.Fatal("kcat is not installed (CI installs it)")
	} else {
		t.Log("kcat not installed: librdkafka interop not checked")
	}

	t.Logf("kcat done after %s", time.Since(deadline.Add(-60*time.Second)))
	// The metrics say where the model trains: the CPU here, without a GPU.
	resp, err := http.Get("http://" + httpAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(metrics), `streamlearn_learner_device{device="cpu",model="default"} 1`) &&
		!strings.Contains(string(metrics), `streamlearn_learner_device{device="cuda:`) {
		t.Errorf("no streamlearn_learner_device in /metrics")
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v; stderr:\n%s", err, stderr.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("still running 60s after SIGTERM; stderr:\n%s", stderr.String())
	}
	if !strings.Contains(stderr.String(), "stopped cleanly") {
		t.Errorf("no clean-stop line in the log:\n%s", stderr.String())
	}
}

func TestVersion(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	out, err := exec.Command(build(t), "version").Output()
	if err != nil || !strings.HasPrefix(string(out), "streamlearn ") {
		t.Fatalf("version = %q, %v", out, err)
	}
}

func TestBadConfigIsAClearError(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	cfgFile := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(cfgFile, []byte("redis:\n  db: 99\nlog:\n  level: loud\n"), 0o600)
	out, err := exec.Command(build(t), "serve", "--config", cfgFile).CombinedOutput()
	if err == nil {
		t.Fatal("serve accepted a bad config")
	}
	for _, want := range []string{"redis.db", "log.level"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("error does not name %s: %s", want, out)
		}
	}
}

// TestDoctor runs `streamlearn doctor` as a user would: on a machine without the NVIDIA driver it
// says so, with the reason, and puts the learner on the CPU; --device cuda and --require-gpu then
// fail; --json is machine-readable. Where there is a GPU it must be reported as available.
func TestDoctor(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := build(t)
	out, err := exec.Command(bin, "doctor").CombinedOutput()
	if err != nil {
		t.Fatalf("doctor: %v\n%s", err, out)
	}
	var r struct {
		GPU struct {
			Available bool   `json:"available"`
			Reason    string `json:"reason"`
		} `json:"gpu"`
		Learner struct {
			Device   string            `json:"device"`
			Models   map[string]string `json:"models"`
			Families map[string]string `json:"families"`
		} `json:"learner"`
	}
	js, err := exec.Command(bin, "doctor", "--json").Output()
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(js, &r); err != nil {
		t.Fatalf("doctor --json: %v\n%s", err, js)
	}
	if r.Learner.Device != "auto" || len(r.Learner.Models) == 0 || len(r.Learner.Families) != 6 {
		t.Fatalf("learner: %+v", r.Learner)
	}
	for _, f := range []string{"tree", "forest", "auto"} {
		if why := r.Learner.Families[f]; why != "cpu: family "+f+" trains on the CPU only" {
			t.Errorf("family %s: %q", f, why)
		}
	}
	if r.GPU.Available {
		if !strings.Contains(string(out), "available  yes") || !strings.Contains(string(out), "compute capability") {
			t.Fatalf("doctor on a GPU machine:\n%s", out)
		}
		return
	}
	for _, want := range []string{"available  no", "libcuda.so.1", "cpu: cuda unavailable"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("doctor output lacks %q:\n%s", want, out)
		}
	}
	if out, err := exec.Command(bin, "doctor", "--device", "cuda").CombinedOutput(); err == nil || !strings.Contains(string(out), "--device cuda: cuda unavailable") {
		t.Errorf("doctor --device cuda without a GPU: %v\n%s", err, out)
	}
	if out, err := exec.Command(bin, "doctor", "--require-gpu").CombinedOutput(); err == nil || !strings.Contains(string(out), "no usable GPU") {
		t.Errorf("doctor --require-gpu without a GPU: %v\n%s", err, out)
	}
	if out, err := exec.Command(bin, "serve", "--device", "tpu").CombinedOutput(); err == nil || !strings.Contains(string(out), "learner.device") {
		t.Errorf("serve --device tpu: %v\n%s", err, out)
	}
}

// TestStaticBuildWithoutCUDA: -tags nocuda gives a binary with no dynamic loader (for scratch
// containers), which says in doctor why it has no GPU.
func TestStaticBuildWithoutCUDA(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "streamlearn-static")
	cmd := exec.Command("go", "build", "-tags", "nocuda", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatal("the nocuda build asks for a dynamic loader")
		}
	}
	out, err := exec.Command(bin, "doctor").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "built with -tags nocuda") {
		t.Fatalf("doctor: %v\n%s", err, out)
	}
}

// TestDemoCtrlCLeavesServicesUp runs what `make demo` runs (scripts/services.sh start, then the
// demo) in one process group, as a terminal does, and sends the group SIGINT as Ctrl-C does: the
// demo must flush every row and exit 0, and its ClickHouse and Redis must still answer for the
// queries it prints.
func TestDemoCtrlCLeavesServicesUp(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary and the demo's services")
	}
	bin := build(t)
	dir := t.TempDir()
	redisPort, chPort := testenv.FreePort(t), testenv.FreePort(t)
	env := append(os.Environ(), "STREAMLEARN_DEMO_DIR="+dir,
		fmt.Sprintf("STREAMLEARN_DEMO_REDIS_PORT=%d", redisPort), fmt.Sprintf("STREAMLEARN_DEMO_CLICKHOUSE_PORT=%d", chPort))
	services := filepath.Join("..", "..", "scripts", "services.sh")
	t.Cleanup(func() {
		stop := exec.Command(services, "stop")
		stop.Env = env
		_ = stop.Run()
	})
	script := fmt.Sprintf("%s start && exec %s demo --redis 127.0.0.1:%d --clickhouse 127.0.0.1:%d --rate 1000",
		services, bin, redisPort, chPort)
	cmd := exec.Command("bash", "-c", script)
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })

	deadline := time.Now().Add(90 * time.Second)
	for strings.Count(out.String(), "\n") < 7 { // services, the banner, the header and a few progress lines
		if time.Now().After(deadline) {
			t.Fatalf("demo not running after 90s:\n%s", out.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGINT); err != nil { // Ctrl-C reaches the whole group
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("demo exited with %v after Ctrl-C:\n%s", err, out.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("demo still running 60s after Ctrl-C:\n%s", out.String())
	}
	text := out.String()
	if strings.Contains(text, "not written") || strings.Contains(text, "dropped") || !strings.Contains(text, "stopped. Query the tables") {
		t.Errorf("demo did not stop cleanly:\n%s", text)
	}
	for name, port := range map[string]int{"redis": redisPort, "clickhouse": chPort} {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err != nil {
			t.Errorf("%s is down after Ctrl-C: %v", name, err)
			continue
		}
		c.Close()
	}
	if cli, err := exec.LookPath("clickhouse-client"); err == nil {
		q := exec.Command(cli, "--port", fmt.Sprint(chPort), "-q", "SELECT count() FROM streamlearn.predictions FINAL")
		b, err := q.CombinedOutput()
		if n, _ := strconv.Atoi(strings.TrimSpace(string(b))); err != nil || n == 0 {
			t.Errorf("the printed query finds no predictions: %v %s", err, b)
		}
	}
}
