// Command gpu (built as gpubench) measures training throughput, examples per second, of the learner's CPU backend
// (learner.CPUBackend: pure Go, one goroutine) and of its CUDA backend (learner/cuda), side by side in
// one run, over a grid of batch sizes, input widths (dense 784 columns, or sparse rows of 50 hashed
// columns among 2^20) and numbers of models K trained at once, each with its own hyperparameters.
//
// A step is Forward, Gradient and Update of one batch for all K models, with the outputs copied back
// to the host: learner.Stepper's Step, with at most two steps in flight (step i+1 is started before
// step i is waited for, so that the CUDA backend copies the next batch while the current one
// computes). The batches are generated before timing, a small pool of them reused round-robin, and
// both backends train on the same ones. For each configuration and backend a run makes fresh models,
// does 2 warm-up steps, then times steps until at least -min-time and 3 steps have passed (or
// -max-time, at least one step); examples/s is rows × steps / elapsed, the median of -runs runs. Where
// the warm-up and timed steps of one run took longer than -max-time (a few steps of seconds each), the
// remaining runs of that configuration are not done, and the report says so.
// GPU memory is the device's free memory before NewModels minus after the warm-up.
//
// The CPU backend's state is Go memory that the OS maps on first touch. A sparse warm-up touches only
// part of its 2^20 slots, so its first timed steps would pay page faults that steady training does not;
// before the warm-up, a CPU run of a sparse shape therefore steps one all-zero dense row of full width
// (it touches every slot; its gradient is zero except on the bias). The GPU zeroes its state on the
// device in NewModels and does not need it.
//
// Stdout gets a markdown report (machine, table, crossovers, the 20× target); progress goes to stderr.
//
//	go run ./bench/gpu                      # the full grid, CPU and GPU
//	go run ./bench/gpu -gpu=false -quick    # a tiny CPU-only grid
//	go run ./bench/gpu -batch 1024,4096 -k 64 -width dense -json out.json
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/streamlearn/streamlearn/learner"
	"github.com/streamlearn/streamlearn/learner/cuda"
)

// The two input widths of the grid.
const (
	denseWidth   = 784     // dense rows: Shape.Dim = Batch.Width = 784
	sparseDim    = 1 << 20 // sparse rows: hashed slots
	sparseActive = 50      // nonzero columns per sparse row
)

// The configuration of the 20× target: GPU ≥ 20 × CPU at K=64, dense 784, batch 4096.
const (
	targetRatio = 20
	targetK     = 64
	targetBatch = 4096
	targetWidth = "dense"
)

// warmupSteps and minSteps are fixed by the method; the times are flags.
const (
	warmupSteps = 2
	minSteps    = 3
)

// config is what the flags set.
type config struct {
	Batches    []int         `json:"batches"`
	Widths     []string      `json:"widths"`
	Ks         []int         `json:"ks"`
	Objective  string        `json:"objective"`
	Classes    int           `json:"classes"`
	Optimizer  string        `json:"optimizer"`
	MinTime    time.Duration `json:"min_time_ns"`
	MaxTime    time.Duration `json:"max_time_ns"`
	Runs       int           `json:"runs"`
	Pool       int           `json:"pool"`
	CPU        bool          `json:"cpu"`
	GPU        bool          `json:"gpu"`
	RequireGPU bool          `json:"require_gpu"`
	Seed       uint64        `json:"seed"`
	JSON       string        `json:"-"`
}

// parseFlags reads the command line. -quick sets a tiny grid; flags given explicitly override it.
func parseFlags(args []string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("gpu", flag.ContinueOnError)
	fs.SetOutput(stderr)
	batches := fs.String("batch", "64,256,1024,4096,16384", "batch sizes (rows per step), comma-separated")
	widths := fs.String("width", "dense,sparse", "input widths: dense (784 columns) and/or sparse (50 of 2^20 hashed columns)")
	ks := fs.String("k", "1,16,64", "numbers of models trained at once, comma-separated")
	objective := fs.String("objective", "logistic", "logistic, squared or softmax")
	classes := fs.Int("classes", 10, "classes of -objective softmax")
	optimizer := fs.String("optimizer", learner.OptimizerFTRL, "ftrl or adagrad")
	minTime := fs.Duration("min-time", time.Second, "time each run for at least this long (and at least 3 steps)")
	maxTime := fs.Duration("max-time", 10*time.Second, "stop a run after this long, however few steps (at least 1)")
	runs := fs.Int("runs", 3, "runs per configuration and backend; the median is reported")
	pool := fs.Int("pool", 4, "distinct batches per configuration, reused round-robin")
	cpu := fs.Bool("cpu", true, "measure the CPU backend")
	gpu := fs.Bool("gpu", true, "measure the CUDA backend (where there is a GPU)")
	requireGPU := fs.Bool("require-gpu", false, "fail at once when -gpu is set and no GPU can be opened")
	seed := fs.Uint64("seed", 1, "seed of the generated batches")
	jsonPath := fs.String("json", "", "also write the full results as JSON to this file")
	quick := fs.Bool("quick", false, "tiny grid for a smoke test: -batch 64,1024 -k 1,16 -min-time 200ms -runs 1")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *quick {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		for name, v := range map[string]string{"batch": "64,1024", "k": "1,16", "min-time": "200ms", "runs": "1"} {
			if !set[name] {
				if err := fs.Set(name, v); err != nil {
					return config{}, err
				}
			}
		}
	}
	cfg := config{
		Widths: slices.Compact(splitList(*widths)), Objective: *objective, Classes: *classes, Optimizer: *optimizer,
		MinTime: *minTime, MaxTime: *maxTime, Runs: *runs, Pool: *pool, CPU: *cpu, GPU: *gpu,
		RequireGPU: *requireGPU, Seed: *seed, JSON: *jsonPath,
	}
	var err error
	if cfg.Batches, err = parseInts("-batch", *batches); err != nil {
		return config{}, err
	}
	if cfg.Ks, err = parseInts("-k", *ks); err != nil {
		return config{}, err
	}
	return cfg, cfg.validate()
}

func (c config) validate() error {
	switch {
	case len(c.Batches) == 0 || len(c.Ks) == 0 || len(c.Widths) == 0:
		return errors.New("-batch, -k and -width must each name at least one value")
	case c.Objective != "logistic" && c.Objective != "squared" && c.Objective != "softmax":
		return fmt.Errorf("-objective %q: want logistic, squared or softmax", c.Objective)
	case c.Objective == "softmax" && c.Classes < 2:
		return fmt.Errorf("-classes %d: softmax needs at least 2", c.Classes)
	case c.Optimizer != learner.OptimizerFTRL && c.Optimizer != learner.OptimizerAdaGrad:
		return fmt.Errorf("-optimizer %q: want ftrl or adagrad", c.Optimizer)
	case c.MinTime < 0 || c.MaxTime <= 0 || c.Runs < 1 || c.Pool < 1:
		return errors.New("-min-time must be ≥ 0 and -max-time, -runs and -pool positive")
	case !c.CPU && !c.GPU:
		return errors.New("-cpu=false and -gpu=false: nothing to measure")
	}
	for _, w := range c.Widths {
		if w != "dense" && w != "sparse" {
			return fmt.Errorf("-width %q: want dense or sparse", w)
		}
	}
	for _, v := range append(slices.Clone(c.Batches), c.Ks...) {
		if v < 1 {
			return fmt.Errorf("batch sizes and K must be positive, not %d", v)
		}
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func parseInts(name, s string) ([]int, error) {
	var out []int
	for _, f := range splitList(s) {
		v, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", name, err)
		}
		out = append(out, v)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gpubench:", err)
		os.Exit(2)
	}
	// Stdout is not buffered: should the process die on the GPU, what was written stays written.
	if _, err := run(cfg, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "gpubench:", err)
		os.Exit(1)
	}
}

// report is the whole result, as written to -json.
type report struct {
	Date       string           `json:"date"`
	Go         string           `json:"go"`
	Platform   string           `json:"platform"`
	CPUModel   string           `json:"cpu_model,omitempty"`
	NumCPU     int              `json:"num_cpu"`
	GOMAXPROCS int              `json:"gomaxprocs"`
	CPUBackend string           `json:"cpu_backend"`
	GPU        *cuda.DeviceInfo `json:"gpu,omitempty"`
	Kernels    string           `json:"gpu_kernels,omitempty"`
	NoGPU      string           `json:"gpu_unavailable,omitempty"` // why the GPU was not measured
	Config     config           `json:"config"`
	Rows       []*row           `json:"rows"`
	Crossovers []crossover      `json:"crossovers"`
	Target     target           `json:"target"`
	Failures   int              `json:"failures"`
}

// row is one configuration: a width, K and batch size, measured on each backend.
type row struct {
	Width      string       `json:"width"` // dense or sparse
	Dim        int          `json:"dim"`
	Active     int          `json:"active"` // nonzero columns per row
	K          int          `json:"k"`
	Batch      int          `json:"batch"`
	Outputs    int          `json:"outputs"`
	Work       float64      `json:"work"`        // batch × active × K × outputs
	PrefersGPU bool         `json:"prefers_gpu"` // cuda.Prefers, the estimated rule of --device auto
	CPU        *measurement `json:"cpu"`
	GPU        *measurement `json:"gpu"`
}

// measurement is one backend on one configuration.
type measurement struct {
	Status string    `json:"status"`        // ok, failed, skipped
	Why    string    `json:"why,omitempty"` // why skipped or failed, or why fewer runs than asked
	Runs   []runStat `json:"runs,omitempty"`
	Rate   float64   `json:"examples_per_s,omitempty"` // median over the runs
	GPUMiB float64   `json:"gpu_mib,omitempty"`        // largest over the runs
}

// runStat is one timed run.
type runStat struct {
	Steps    int     `json:"steps"`
	Seconds  float64 `json:"seconds"`
	Rate     float64 `json:"examples_per_s"`
	Touch    float64 `json:"touch_seconds,omitempty"` // stepping the all-zero row (CPU, sparse)
	Warmup   float64 `json:"warmup_seconds"`          // the warm-up steps
	GPUBytes int64   `json:"gpu_bytes,omitempty"`
}

type crossover struct {
	Width string `json:"width"`
	K     int    `json:"k"`
	Batch int    `json:"batch,omitempty"` // smallest measured batch with GPU ≥ CPU; 0 for none
	// EstimateBatch is the smallest batch of the grid where cuda.Prefers picks the GPU; 0 for none.
	EstimateBatch int    `json:"estimate_batch,omitempty"`
	Text          string `json:"text"`
}

type target struct {
	Holds *bool   `json:"holds"` // nil when it could not be checked
	Ratio float64 `json:"ratio,omitempty"`
	Text  string  `json:"text"`
}

// noGPU says briefly why there are no GPU numbers; the header has the whole reason.
func (rep *report) noGPU() string {
	if !rep.Config.GPU {
		return "GPU unavailable (-gpu=false)"
	}
	return "GPU unavailable (see the GPU line above)"
}

func (r *row) label() string { return widthLabel(r.Width) }

func widthLabel(w string) string {
	if w == "dense" {
		return fmt.Sprintf("dense %d", denseWidth)
	}
	return "sparse 2^20"
}

// openGPU opens the GPU to measure; a variable so that a test can put another device in its place.
var openGPU = func() (*cuda.Backend, error) { return cuda.Open(0) }

// run measures the grid of cfg, writes the report to stdout and progress to stderr. Its error says
// that something failed (the report is written all the same) or that -require-gpu found no GPU.
func run(cfg config, stdout, stderr io.Writer) (*report, error) {
	rep := &report{
		Date:       time.Now().UTC().Format(time.RFC3339),
		Go:         runtime.Version(),
		Platform:   runtime.GOOS + "/" + runtime.GOARCH,
		CPUModel:   cpuModel(),
		NumCPU:     runtime.NumCPU(),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		CPUBackend: "pure Go, one goroutine (learner.CPUBackend is single-threaded: the other cores stay idle)",
		Config:     cfg,
	}
	var gpu *cuda.Backend
	switch {
	case !cfg.GPU:
		rep.NoGPU = "not measured (-gpu=false)"
	default:
		fmt.Fprintln(stderr, "opening the GPU (cuda.Open(0))...")
		b, err := openGPU()
		switch {
		case errors.Is(err, cuda.ErrUnavailable):
			rep.NoGPU = err.Error()
		case err != nil:
			rep.NoGPU = "present but failed to open: " + err.Error()
		default:
			gpu = b
			info := b.Device()
			rep.GPU, rep.Kernels = &info, b.Kernels()
		}
		if gpu == nil && cfg.RequireGPU {
			return rep, fmt.Errorf("-require-gpu: GPU unavailable: %s", rep.NoGPU)
		}
	}
	writeHeader(stdout, rep)
	writeTableHeader(stdout)

	outputs := 1
	if cfg.Objective == "softmax" {
		outputs = cfg.Classes
	}
	total := len(cfg.Widths) * len(cfg.Batches) * len(cfg.Ks)
	for _, width := range cfg.Widths {
		dim, active := denseWidth, denseWidth
		if width == "sparse" {
			dim, active = sparseDim, sparseActive
		}
		// One all-zero dense row of full width: touches all of a CPU model's state (see the file comment).
		var prefault *learner.Batch
		if width == "sparse" && cfg.CPU {
			prefault = &learner.Batch{Rows: 1, Width: dim, Dense: make([]float64, dim), Labels: []float64{0}}
		}
		pools := map[int][]*learner.Batch{} // by batch size, for every K of this width
		for _, k := range cfg.Ks {
			for _, batch := range cfg.Batches {
				pool := pools[batch]
				if pool == nil {
					began := time.Now()
					pool = makePool(cfg, width, batch, outputs)
					pools[batch] = pool
					fmt.Fprintf(stderr, "%s batch %d: %d batches generated in %.2fs\n", widthLabel(width), batch, len(pool), time.Since(began).Seconds())
				}
				shape := learner.Shape{Models: k, Dim: dim, Outputs: outputs, Objective: objectiveOf(cfg.Objective), Optimizer: cfg.Optimizer}
				r := &row{Width: width, Dim: dim, Active: active, K: k, Batch: batch, Outputs: outputs,
					Work:       float64(batch) * float64(active) * float64(k) * float64(outputs),
					PrefersGPU: cuda.Prefers(shape, cuda.Workload{Batch: batch, Active: active})}
				rep.Rows = append(rep.Rows, r)
				name := fmt.Sprintf("[%d/%d] %s K=%d batch %d", len(rep.Rows), total, widthLabel(width), k, batch)
				hyper := hyperparameters(k)
				if cfg.CPU {
					r.CPU = measureBackend(cfg, learner.CPUBackend{}, nil, shape, hyper, pool, prefault, name+" cpu", stderr)
				} else {
					r.CPU = &measurement{Status: "skipped", Why: "-cpu=false"}
				}
				if gpu == nil {
					r.GPU = &measurement{Status: "skipped", Why: "GPU unavailable: " + rep.NoGPU}
				} else {
					r.GPU = measureBackend(cfg, gpu, gpu, shape, hyper, pool, nil, name+" gpu", stderr)
				}
				// Each row is written when measured, so that a run cut short keeps what it measured.
				writeRow(stdout, rep, r)
				if cfg.JSON != "" {
					if err := writeJSON(cfg.JSON, rep); err != nil {
						fmt.Fprintln(stderr, err)
					}
				}
			}
		}
	}

	var failed []string
	for _, r := range rep.Rows {
		for _, m := range []struct {
			side string
			m    *measurement
		}{{"cpu", r.CPU}, {"gpu", r.GPU}} {
			if m.m.Status == "failed" {
				failed = append(failed, fmt.Sprintf("%s K=%d batch %d %s: %s", r.label(), r.K, r.Batch, m.side, m.m.Why))
			}
		}
	}
	rep.Failures = len(failed)
	rep.Crossovers = crossovers(rep)
	rep.Target = checkTarget(rep)
	writeSummary(stdout, rep, failed)

	var errs []error
	if gpu != nil {
		if err := gpu.Close(); err != nil {
			errs = append(errs, fmt.Errorf("closing the GPU: %w", err))
		}
	}
	if cfg.JSON != "" {
		if err := writeJSON(cfg.JSON, rep); err != nil {
			errs = append(errs, err)
		}
	}
	if len(failed) > 0 {
		errs = append(errs, fmt.Errorf("%d measurement(s) failed", len(failed)))
	}
	return rep, errors.Join(errs...)
}

func objectiveOf(name string) learner.Objective {
	switch name {
	case "squared":
		return learner.Squared
	case "softmax":
		return learner.Softmax
	}
	return learner.Logistic
}

// hyperparameters gives the K models different settings: Alpha (and AdaGrad's LearningRate) spread
// log-uniformly over 0.01..1, Beta 1, small L1 and L2 growing with k.
func hyperparameters(k int) []learner.Hyper {
	h := make([]learner.Hyper, k)
	for i := range h {
		f := 0.5
		if k > 1 {
			f = float64(i) / float64(k-1)
		}
		a := 0.01 * math.Pow(100, f)
		h[i] = learner.Hyper{Alpha: a, LearningRate: a, Beta: 1, L1: 1e-4 * (1 + f), L2: 1e-4 * (1 + 2*f)}
	}
	return h
}

// makePool generates cfg.Pool batches of rows: dense rows of standard normal values, or sparse rows of
// 50 distinct columns uniform in [0, 2^20) with standard normal values. The labels are random: 0/1
// for logistic, normal for squared, a class for softmax (throughput does not depend on them).
func makePool(cfg config, width string, rows, outputs int) []*learner.Batch {
	rng := rand.New(rand.NewPCG(cfg.Seed, uint64(rows)<<1|boolBit(width == "sparse")))
	pool := make([]*learner.Batch, cfg.Pool)
	for i := range pool {
		b := &learner.Batch{Labels: make([]float64, rows)}
		if width == "dense" {
			b.Rows, b.Width, b.Dense = rows, denseWidth, make([]float64, rows*denseWidth)
			for j := range b.Dense {
				b.Dense[j] = rng.NormFloat64()
			}
		} else {
			b.Rows = rows
			b.RowPtr = make([]int32, rows+1)
			b.Cols = make([]int32, 0, rows*sparseActive)
			b.Vals = make([]float64, rows*sparseActive)
			for r := range rows {
				start := len(b.Cols)
				for len(b.Cols)-start < sparseActive {
					c := int32(rng.IntN(sparseDim))
					if !slices.Contains(b.Cols[start:], c) {
						b.Cols = append(b.Cols, c)
					}
				}
				b.RowPtr[r+1] = int32(len(b.Cols))
			}
			for j := range b.Vals {
				b.Vals[j] = rng.NormFloat64()
			}
		}
		for r := range b.Labels {
			switch cfg.Objective {
			case "squared":
				b.Labels[r] = rng.NormFloat64()
			case "softmax":
				b.Labels[r] = float64(rng.IntN(outputs))
			default:
				b.Labels[r] = float64(rng.IntN(2))
			}
		}
		pool[i] = b
	}
	return pool
}

func boolBit(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// measureBackend does cfg.Runs runs of one configuration on one backend and keeps the median rate.
func measureBackend(cfg config, be learner.Backend, gpu *cuda.Backend, shape learner.Shape, hyper []learner.Hyper,
	pool []*learner.Batch, prefault *learner.Batch, name string, stderr io.Writer) *measurement {
	m := &measurement{Status: "ok"}
	for i := range cfg.Runs {
		rs, err := measureOnce(cfg, be, gpu, shape, hyper, pool, prefault)
		if err != nil {
			fmt.Fprintf(stderr, "%s run %d/%d: FAILED: %v\n", name, i+1, cfg.Runs, err)
			return &measurement{Status: "failed", Why: err.Error()}
		}
		fmt.Fprintf(stderr, "%s run %d/%d: %d steps in %.3fs = %.0f ex/s (warm-up %.2fs", name, i+1, cfg.Runs, rs.Steps, rs.Seconds, rs.Rate, rs.Warmup)
		if prefault != nil {
			fmt.Fprintf(stderr, ", paging in %.2fs", rs.Touch)
		}
		fmt.Fprint(stderr, ")")
		if gpu != nil {
			fmt.Fprintf(stderr, ", %.1f MiB on the GPU", mib(rs.GPUBytes))
		}
		fmt.Fprintln(stderr)
		m.Runs = append(m.Runs, rs)
		m.GPUMiB = max(m.GPUMiB, mib(rs.GPUBytes))
		if took := rs.Warmup + rs.Seconds; took > cfg.MaxTime.Seconds() && i+1 < cfg.Runs {
			// Several steps of seconds each vary little from run to run: spare the rest, and say so.
			m.Why = fmt.Sprintf("%d of %d runs: the warm-up and timed steps of a run took %.1fs > -max-time %v", i+1, cfg.Runs, took, cfg.MaxTime)
			fmt.Fprintf(stderr, "%s: %s\n", name, m.Why)
			break
		}
	}
	rates := make([]float64, len(m.Runs))
	for i, r := range m.Runs {
		rates[i] = r.Rate
	}
	m.Rate = median(rates)
	return m
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// stepFunc starts one step; wait blocks until it is done and its outputs are in out.
type stepFunc func(b *learner.Batch, out []float64) (wait func() error, err error)

// stepperOf returns m's Step, or Forward, Gradient and Update in turn where m is not a Stepper.
func stepperOf(m learner.Models) stepFunc {
	if s, ok := m.(learner.Stepper); ok {
		return s.Step
	}
	return func(b *learner.Batch, out []float64) (func() error, error) {
		if err := m.Forward(b, out); err != nil {
			return nil, err
		}
		if err := m.Gradient(b, out); err != nil {
			return nil, err
		}
		return func() error { return nil }, m.Update()
	}
}

// measureOnce is one run: fresh models, the warm-up, then the timed steps.
func measureOnce(cfg config, be learner.Backend, gpu *cuda.Backend, shape learner.Shape, hyper []learner.Hyper,
	pool []*learner.Batch, prefault *learner.Batch) (rs runStat, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	runtime.GC() // the last run's models are garbage: collect them outside the timed region
	var free0 uint64
	if gpu != nil {
		free0 = gpu.Device().MemoryFree
	}
	m, err := be.NewModels(shape, hyper)
	if err != nil {
		return rs, fmt.Errorf("NewModels: %w", err)
	}
	defer func() {
		if cerr := m.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("Close: %w", cerr)
		}
	}()
	step := stepperOf(m)
	n := shape.Models * pool[0].Rows * shape.Outputs
	outs := [2][]float64{make([]float64, n), make([]float64, n)}

	if prefault != nil {
		out := make([]float64, shape.Models*shape.Outputs)
		_, took, err := steps(step, []*learner.Batch{prefault}, [2][]float64{out, out}, 0, func(n int, _ time.Duration) bool { return n >= 1 })
		if err != nil {
			return rs, fmt.Errorf("paging in the state: %w", err)
		}
		rs.Touch = took.Seconds()
	}
	_, took, err := steps(step, pool, outs, 0, func(n int, _ time.Duration) bool { return n >= warmupSteps })
	if err != nil {
		return rs, fmt.Errorf("warm-up: %w", err)
	}
	rs.Warmup = took.Seconds()
	if gpu != nil {
		rs.GPUBytes = int64(free0) - int64(gpu.Device().MemoryFree)
	}
	count, elapsed, err := steps(step, pool, outs, warmupSteps, func(n int, e time.Duration) bool {
		return e >= cfg.MaxTime || e >= cfg.MinTime && n >= minSteps
	})
	if err != nil {
		return rs, err
	}
	rs.Steps, rs.Seconds = count, elapsed.Seconds()
	rs.Rate = float64(pool[0].Rows) * float64(count) / elapsed.Seconds()
	if !(rs.Rate > 0) || math.IsInf(rs.Rate, 0) {
		return rs, fmt.Errorf("%d steps in %v: no rate", count, elapsed)
	}
	return rs, nil
}

// steps runs the batches of pool round-robin from pool[from], with at most two steps in flight: step
// i+1 is started before step i is waited for. After each step started it asks stop with the number
// started and the time since the first; it returns once all of them are done, with the elapsed time.
func steps(step stepFunc, pool []*learner.Batch, outs [2][]float64, from int, stop func(n int, elapsed time.Duration) bool) (int, time.Duration, error) {
	began := time.Now()
	var prev func() error
	for n := 0; ; {
		wait, err := step(pool[(from+n)%len(pool)], outs[n%2])
		if err != nil {
			return n, 0, fmt.Errorf("step %d: %w", n+1, err)
		}
		n++
		if prev != nil {
			if err := prev(); err != nil {
				return n, 0, fmt.Errorf("step %d: %w", n-1, err)
			}
		}
		prev = wait
		if stop(n, time.Since(began)) {
			if err := prev(); err != nil {
				return n, 0, fmt.Errorf("step %d: %w", n, err)
			}
			return n, time.Since(began), nil
		}
	}
}
