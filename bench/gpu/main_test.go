package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/streamlearn/streamlearn/learner"
	"github.com/streamlearn/streamlearn/learner/cuda"
)

// tableRows returns the data rows of the markdown table in out, split into trimmed cells.
func tableRows(t *testing.T, out string) [][]string {
	t.Helper()
	var rows [][]string
	header := false
	for line := range strings.SplitSeq(out, "\n") {
		if !strings.HasPrefix(line, "|") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		switch {
		case cells[0] == "width":
			header = true
			want := []string{"width", "K", "batch", "CPU ex/s", "GPU ex/s", "GPU/CPU", "GPU MiB"}
			if fmt.Sprint(cells) != fmt.Sprint(want) {
				t.Fatalf("table header %q, want %q", cells, want)
			}
		case strings.HasPrefix(cells[0], "---"):
		default:
			if len(cells) != 7 {
				t.Fatalf("table row %q: %d cells, want 7", line, len(cells))
			}
			rows = append(rows, cells)
		}
	}
	if !header {
		t.Fatalf("no table in the output:\n%s", out)
	}
	return rows
}

// linesAfter returns the "- " lines of the block that follows the line starting with head.
func linesAfter(out, head string) []string {
	var lines []string
	in := false
	for line := range strings.SplitSeq(out, "\n") {
		switch {
		case strings.HasPrefix(line, head):
			in = true
		case in && strings.HasPrefix(line, "- "):
			lines = append(lines, line)
		case in:
			return lines
		}
	}
	return lines
}

// TestQuickCPUOnly runs the benchmark as `-quick -gpu=false` does, on a grid narrowed further so that
// it takes a few seconds, and checks the table, the crossover and target lines and the JSON.
func TestQuickCPUOnly(t *testing.T) {
	jsonPath := filepath.Join(t.TempDir(), "results.json")
	var stderr bytes.Buffer
	cfg, err := parseFlags([]string{"-quick", "-gpu=false", "-k", "1,4", "-min-time", "100ms", "-json", jsonPath}, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	began := time.Now()
	rep, err := run(cfg, &stdout, &stderr)
	t.Logf("took %v; stderr:\n%s", time.Since(began), stderr.String())
	if err != nil {
		t.Fatalf("run: %v\n%s", err, stdout.String())
	}
	out := stdout.String()
	t.Logf("stdout:\n%s", out)

	for _, want := range []string{
		"CPU backend: pure Go, one goroutine",
		"- GPU: unavailable: not measured (-gpu=false)",
		"runtime.NumCPU ", "GOMAXPROCS ", "- Date: ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the header lacks %q", want)
		}
	}

	// Rows: every width × K × batch of the quick grid, in table order, with a positive CPU rate.
	var want []string
	for _, w := range []string{"dense 784", "sparse 2^20"} {
		for _, k := range []int{1, 4} {
			for _, b := range []int{64, 1024} {
				want = append(want, fmt.Sprintf("%s|%d|%d", w, k, b))
			}
		}
	}
	rows := tableRows(t, out)
	if len(rows) != len(want) {
		t.Fatalf("%d table rows, want %d", len(rows), len(want))
	}
	rates := map[string]float64{}
	for i, r := range rows {
		key := strings.Join(r[:3], "|")
		if key != want[i] {
			t.Errorf("row %d is %s, want %s", i, key, want[i])
		}
		rate, err := strconv.ParseFloat(r[3], 64)
		if err != nil || !(rate > 0) {
			t.Errorf("row %s: CPU ex/s %q is not a positive number", key, r[3])
		}
		rates[key] = rate
		if r[4] != "n/a (GPU unavailable)" || r[5] != "—" || r[6] != "—" {
			t.Errorf("row %s: GPU cells %q, want n/a (GPU unavailable), —, —", key, r[4:])
		}
	}

	cross := linesAfter(out, "Crossover")
	if len(cross) != 4 {
		t.Errorf("%d crossover lines, want 4 (2 widths × 2 K): %q", len(cross), cross)
	}
	for _, l := range cross {
		if !strings.Contains(l, "n/a, GPU unavailable (-gpu=false)") {
			t.Errorf("crossover line %q does not say that the GPU is unavailable", l)
		}
	}
	var target string
	for line := range strings.SplitSeq(out, "\n") {
		if strings.HasPrefix(line, "Target GPU ≥ 20× CPU at K=64, width 784, batch 4096: ") {
			target = line
		}
	}
	if !strings.Contains(target, "not checked, GPU unavailable") {
		t.Errorf("target line %q does not say that the GPU is unavailable", target)
	}
	if rep.Target.Holds != nil {
		t.Errorf("target holds = %v without a GPU", *rep.Target.Holds)
	}
	if n := strings.Count(stderr.String(), " cpu run 1/1: "); n != len(want) {
		t.Errorf("%d progress lines of CPU runs on stderr, want %d", n, len(want))
	}
	if strings.Contains(out, " cpu run ") {
		t.Error("progress lines on stdout")
	}

	// The JSON holds the same results, with the runs they come from.
	data, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var got report
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Rows) != len(want) || got.NoGPU == "" || got.GPU != nil || len(got.Crossovers) != 4 || got.Config.Runs != 1 {
		t.Fatalf("JSON: %d rows, gpu %v, no-GPU reason %q, %d crossovers, %d runs", len(got.Rows), got.GPU, got.NoGPU, len(got.Crossovers), got.Config.Runs)
	}
	for _, r := range got.Rows {
		key := fmt.Sprintf("%s|%d|%d", widthLabel(r.Width), r.K, r.Batch)
		c := r.CPU
		if c.Status != "ok" || len(c.Runs) != 1 || r.GPU.Status != "skipped" {
			t.Errorf("JSON row %s: cpu %+v, gpu %+v", key, c, r.GPU)
			continue
		}
		run := c.Runs[0]
		if run.Steps < minSteps || !(run.Seconds >= 0.1) {
			t.Errorf("JSON row %s: %d steps in %vs, want ≥ %d steps in ≥ 0.1s", key, run.Steps, run.Seconds, minSteps)
		}
		if exact := float64(r.Batch*run.Steps) / run.Seconds; abs(exact-c.Rate) > 1e-9*exact || fmt.Sprintf("%.0f", c.Rate) != fmt.Sprintf("%.0f", rates[key]) {
			t.Errorf("JSON row %s: rate %v, table %v, rows × steps / s = %v", key, c.Rate, rates[key], exact)
		}
		if (r.Width == "sparse") != (run.Touch > 0) {
			t.Errorf("JSON row %s: paging-in step took %vs (sparse CPU runs only)", key, run.Touch)
		}
	}
}

func abs(x float64) float64 { return max(x, -x) }

// TestNoGPUHere runs with the GPU asked for, as on the device machine, where there is none: the report
// gives cuda.Open's reason, and -require-gpu fails before measuring anything.
func TestNoGPUHere(t *testing.T) {
	if b, err := cuda.Open(0); err == nil {
		b.Close()
		t.Skip("this machine has a GPU")
	}
	var stdout, stderr bytes.Buffer
	cfg, err := parseFlags([]string{"-quick", "-width", "dense", "-batch", "64", "-k", "1", "-min-time", "20ms"}, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := run(cfg, &stdout, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	out := stdout.String()
	if !strings.Contains(out, "- GPU: unavailable: ") || rep.GPU != nil || !strings.Contains(rep.NoGPU, "unavailable") {
		t.Errorf("no GPU: reason %q, header:\n%s", rep.NoGPU, out)
	}
	if len(rep.Rows) != 1 || rep.Rows[0].CPU.Status != "ok" || rep.Rows[0].GPU.Status != "skipped" {
		t.Fatalf("rows %+v", rep.Rows)
	}
	if c := rep.Crossovers; len(c) != 1 || !strings.Contains(c[0].Text, "GPU unavailable (see the GPU line above)") {
		t.Errorf("crossovers %+v", c)
	}
	if !strings.Contains(rep.Target.Text, "not checked, GPU unavailable") {
		t.Errorf("target %q", rep.Target.Text)
	}

	cfg.RequireGPU = true
	stdout.Reset()
	rep, err = run(cfg, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "-require-gpu") || len(rep.Rows) != 0 {
		t.Errorf("-require-gpu without a GPU: error %v, %d rows measured", err, len(rep.Rows))
	}
}

// fakeStepper stands for a device backend: a step is done only when waited for, and its outputs are
// written then. It records what the pipeline of steps must respect.
type fakeStepper struct {
	t        *testing.T
	inFlight [][]float64 // outputs of the steps started and not yet waited for, oldest first
	started  int
	maxIn    int
	sleep    time.Duration
	failAt   int // step (from 1) whose wait fails; 0 for none
}

func (f *fakeStepper) step(b *learner.Batch, out []float64) (func() error, error) {
	for _, o := range f.inFlight {
		if &o[0] == &out[0] {
			f.t.Errorf("step %d reuses the outputs of a step in flight", f.started+1)
		}
	}
	f.started++
	n := f.started
	f.inFlight = append(f.inFlight, out)
	f.maxIn = max(f.maxIn, len(f.inFlight))
	return func() error {
		if len(f.inFlight) == 0 || &f.inFlight[0][0] != &out[0] {
			f.t.Errorf("step %d waited for out of order", n)
		} else {
			f.inFlight = f.inFlight[1:]
		}
		time.Sleep(f.sleep)
		out[0] = float64(b.Rows)
		if n == f.failAt {
			return errors.New("device fault")
		}
		return nil
	}, nil
}

func TestStepsPipeline(t *testing.T) {
	pool := []*learner.Batch{{Rows: 1}, {Rows: 2}, {Rows: 3}}
	outs := [2][]float64{make([]float64, 1), make([]float64, 1)}

	f := &fakeStepper{t: t}
	n, _, err := steps(f.step, pool, outs, 2, func(n int, _ time.Duration) bool { return n >= 7 })
	if err != nil || n != 7 || f.started != 7 || len(f.inFlight) != 0 || f.maxIn != 2 {
		t.Errorf("7 steps: n %d, err %v, started %d, %d left in flight, at most %d in flight (want 2)", n, err, f.started, len(f.inFlight), f.maxIn)
	}

	// The stop rule of a timed run: at least min-time and 3 steps, or max-time.
	f = &fakeStepper{t: t, sleep: 20 * time.Millisecond}
	stop := func(n int, e time.Duration) bool {
		return e >= time.Second || e >= 50*time.Millisecond && n >= minSteps
	}
	n, elapsed, err := steps(f.step, pool, outs, 0, stop)
	if err != nil || n < minSteps || elapsed < 50*time.Millisecond || len(f.inFlight) != 0 {
		t.Errorf("timed: %d steps in %v, err %v, %d left in flight", n, elapsed, err, len(f.inFlight))
	}
	f = &fakeStepper{t: t, sleep: 30 * time.Millisecond}
	n, elapsed, _ = steps(f.step, pool, outs, 0, func(n int, e time.Duration) bool { return e >= 10*time.Millisecond })
	if n != 2 || elapsed < 60*time.Millisecond {
		// The first check comes before any step is waited for (two may be in flight), the second after.
		t.Errorf("capped: %d steps in %v, want 2 in ≥ 60ms", n, elapsed)
	}

	f = &fakeStepper{t: t, failAt: 3}
	if _, _, err := steps(f.step, pool, outs, 0, func(n int, _ time.Duration) bool { return n >= 5 }); err == nil || !strings.Contains(err.Error(), "step 3: device fault") {
		t.Errorf("a failing step: error %v", err)
	}
}

// TestCrossoverAndTarget checks the conclusions drawn from GPU numbers, which this machine cannot
// produce, on made-up measurements.
func TestCrossoverAndTarget(t *testing.T) {
	ok := func(rate float64) *measurement { return &measurement{Status: "ok", Rate: rate, Runs: []runStat{{}}} }
	rep := &report{Config: config{Widths: []string{"dense", "sparse"}, Ks: []int{64}, CPU: true, GPU: true}}
	add := func(width string, batch int, cpu, gpu *measurement) {
		rep.Rows = append(rep.Rows, &row{Width: width, K: 64, Batch: batch, CPU: cpu, GPU: gpu, PrefersGPU: batch >= 1024})
	}
	add("dense", 4096, ok(100), ok(2500)) // out of order on purpose
	add("dense", 64, ok(100), ok(50))
	add("dense", 1024, ok(100), ok(120))
	add("dense", 256, ok(100), &measurement{Status: "failed", Why: "out of memory"})
	add("sparse", 64, ok(100), ok(10))
	add("sparse", 1024, ok(100), ok(99))

	c := crossovers(rep)
	if len(c) != 2 {
		t.Fatalf("%d crossovers, want 2", len(c))
	}
	if c[0].Batch != 1024 || c[0].EstimateBatch != 1024 || !strings.HasPrefix(c[0].Text, "dense 784, K=64: batch 1024 (GPU/CPU 1.20×") ||
		!strings.Contains(c[0].Text, "batch 64: 0.500×") || !strings.Contains(c[0].Text, "[3 of 4 batch sizes measured on both]") {
		t.Errorf("dense: %+v", c[0])
	}
	if c[1].Batch != 0 || !strings.Contains(c[1].Text, "none in grid (at the largest batch measured, 1024: GPU/CPU 0.990×)") {
		t.Errorf("sparse: %+v", c[1])
	}

	tg := checkTarget(rep)
	if tg.Holds == nil || !*tg.Holds || tg.Ratio != 25 || !strings.Contains(tg.Text, ": HOLDS (GPU/CPU 25.0×") {
		t.Errorf("target at 25×: %+v", tg)
	}
	rep.Rows[0].GPU.Rate = 1900
	if tg := checkTarget(rep); tg.Holds == nil || *tg.Holds || !strings.Contains(tg.Text, "DOES NOT HOLD (GPU/CPU 19.0×") {
		t.Errorf("target at 19×: %+v", tg)
	}
	rep.Rows[0].CPU = &measurement{Status: "failed", Why: "boom"}
	if tg := checkTarget(rep); tg.Holds != nil || !strings.Contains(tg.Text, "not checked, CPU failed: boom") {
		t.Errorf("target without the CPU: %+v", tg)
	}
	rep.Rows = rep.Rows[1:]
	if tg := checkTarget(rep); tg.Holds != nil || !strings.Contains(tg.Text, "not in the grid") {
		t.Errorf("target not in the grid: %+v", tg)
	}
}

func TestParseFlags(t *testing.T) {
	cfg, err := parseFlags(nil, &bytes.Buffer{})
	if err != nil || fmt.Sprint(cfg.Batches, cfg.Ks, cfg.Widths, cfg.MinTime, cfg.MaxTime, cfg.Runs, cfg.CPU, cfg.GPU) !=
		"[64 256 1024 4096 16384] [1 16 64] [dense sparse] 1s 10s 3 true true" {
		t.Errorf("defaults: %+v, %v", cfg, err)
	}
	cfg, err = parseFlags([]string{"-quick", "-runs", "2"}, &bytes.Buffer{})
	if err != nil || fmt.Sprint(cfg.Batches, cfg.Ks, cfg.MinTime, cfg.Runs) != "[64 1024] [1 16] 200ms 2" {
		t.Errorf("-quick -runs 2: %+v, %v", cfg, err)
	}
	for _, bad := range [][]string{
		{"-batch", "0"}, {"-k", "x"}, {"-width", "wide"}, {"-objective", "hinge"}, {"-optimizer", "sgd"},
		{"-objective", "softmax", "-classes", "1"}, {"-cpu=false", "-gpu=false"}, {"-runs", "0"}, {"extra"},
	} {
		if _, err := parseFlags(bad, &bytes.Buffer{}); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// TestObjectives steps each objective and optimizer once on the CPU, so that their batches and
// settings are valid for the backends.
func TestObjectives(t *testing.T) {
	for _, args := range [][]string{
		{"-objective", "squared", "-optimizer", "adagrad"},
		{"-objective", "softmax", "-classes", "3"},
	} {
		cfg, err := parseFlags(append(args, "-gpu=false", "-width", "dense,sparse", "-batch", "16", "-k", "2", "-min-time", "0", "-runs", "1"), &bytes.Buffer{})
		if err != nil {
			t.Fatal(err)
		}
		var stdout, stderr bytes.Buffer
		rep, err := run(cfg, &stdout, &stderr)
		if err != nil {
			t.Fatalf("%q: %v\n%s", args, err, stderr.String())
		}
		for _, r := range rep.Rows {
			if r.CPU.Status != "ok" || !(r.CPU.Rate > 0) {
				t.Errorf("%q %s: %+v", args, r.Width, r.CPU)
			}
		}
	}
}
