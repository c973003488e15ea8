package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// crossovers finds, per width and K, the smallest batch at which the GPU trains at least as fast as
// the CPU, next to the batch from which cuda.Prefers (the estimate of --device auto) picks the GPU.
func crossovers(rep *report) []crossover {
	var out []crossover
	for _, width := range rep.Config.Widths {
		for _, k := range rep.Config.Ks {
			c := crossover{Width: width, K: k}
			var rows []*row
			for _, r := range rep.Rows {
				if r.Width == width && r.K == k {
					rows = append(rows, r)
				}
			}
			slices.SortFunc(rows, func(a, b *row) int { return a.Batch - b.Batch })
			for _, r := range rows {
				if r.PrefersGPU {
					c.EstimateBatch = r.Batch
					break
				}
			}
			estimate := "cuda.Prefers picks the GPU at no batch of the grid"
			if c.EstimateBatch > 0 {
				estimate = fmt.Sprintf("cuda.Prefers (estimate) picks the GPU from batch %d", c.EstimateBatch)
			}
			head := fmt.Sprintf("%s, K=%d: ", widthLabel(width), k)
			var both []*row
			for _, r := range rows {
				if r.CPU.Status == "ok" && r.GPU.Status == "ok" {
					both = append(both, r)
				}
			}
			switch {
			case rep.NoGPU != "":
				c.Text = head + "n/a, " + rep.noGPU()
			case !rep.Config.CPU:
				c.Text = head + "n/a, CPU not measured (-cpu=false)"
			case len(both) == 0:
				c.Text = head + "n/a, no batch size measured on both backends"
			default:
				ratio := func(r *row) float64 { return r.GPU.Rate / r.CPU.Rate }
				last := both[len(both)-1]
				c.Text = fmt.Sprintf("%snone in grid (at the largest batch measured, %d: GPU/CPU %s)", head, last.Batch, times(ratio(last)))
				for i, r := range both {
					if ratio(r) < 1 {
						continue
					}
					c.Batch = r.Batch
					c.Text = fmt.Sprintf("%sbatch %d (GPU/CPU %s, work per step %.3g", head, r.Batch, times(ratio(r)), r.Work)
					if i == 0 {
						c.Text += "; the smallest batch measured)"
					} else {
						p := both[i-1]
						c.Text += fmt.Sprintf("; batch %d: %s, work %.3g)", p.Batch, times(ratio(p)), p.Work)
					}
					break
				}
				if len(both) < len(rows) {
					c.Text += fmt.Sprintf(" [%d of %d batch sizes measured on both]", len(both), len(rows))
				}
			}
			c.Text += "; " + estimate
			out = append(out, c)
		}
	}
	return out
}

// checkTarget says whether GPU ≥ 20× CPU at K=64, dense 784, batch 4096.
func checkTarget(rep *report) target {
	head := fmt.Sprintf("Target GPU ≥ %d× CPU at K=%d, width %d, batch %d: ", targetRatio, targetK, denseWidth, targetBatch)
	if rep.NoGPU != "" {
		return target{Text: head + "not checked, " + rep.noGPU()}
	}
	var r *row
	for _, x := range rep.Rows {
		if x.Width == targetWidth && x.K == targetK && x.Batch == targetBatch {
			r = x
		}
	}
	switch {
	case r == nil:
		return target{Text: head + "not checked, the configuration is not in the grid"}
	case r.CPU.Status != "ok":
		return target{Text: head + "not checked, CPU " + r.CPU.Status + ": " + r.CPU.Why}
	case r.GPU.Status != "ok":
		return target{Text: head + "not checked, GPU " + r.GPU.Status + ": " + r.GPU.Why}
	}
	ratio := r.GPU.Rate / r.CPU.Rate
	holds := ratio >= targetRatio
	verdict := "HOLDS"
	if !holds {
		verdict = "DOES NOT HOLD"
	}
	return target{Holds: &holds, Ratio: ratio, Text: fmt.Sprintf("%s%s (GPU/CPU %s: %.0f vs %.0f ex/s)", head, verdict, times(ratio), r.GPU.Rate, r.CPU.Rate)}
}

func writeHeader(w io.Writer, rep *report) {
	cfg := rep.Config
	fmt.Fprintf(w, "# Training throughput: CPU vs CUDA backend (bench/gpu)\n\n")
	fmt.Fprintf(w, "- Date: %s, %s %s\n", rep.Date, rep.Go, rep.Platform)
	model := rep.CPUModel
	if model == "" {
		model = "unknown CPU"
	}
	fmt.Fprintf(w, "- Machine: %s, runtime.NumCPU %d, GOMAXPROCS %d\n", model, rep.NumCPU, rep.GOMAXPROCS)
	fmt.Fprintf(w, "- CPU backend: %s\n", rep.CPUBackend)
	if g := rep.GPU; g != nil {
		fmt.Fprintf(w, "- GPU: %s, compute capability %s, %d SMs, %.1f GiB (%.1f GiB free), kernels from %s\n",
			g.Name, g.ComputeCapability, g.Multiprocessors, float64(g.MemoryTotal)/(1<<30), float64(g.MemoryFree)/(1<<30), rep.Kernels)
	} else {
		fmt.Fprintf(w, "- GPU: unavailable: %s\n", rep.NoGPU)
	}
	fmt.Fprintf(w, "- Models: %s, %s, K models with Alpha log-uniform 0.01..1, Beta 1, L1 and L2 1e-4..3e-4\n", cfg.Objective, cfg.Optimizer)
	fmt.Fprintf(w, "- Step: Forward + Gradient + Update of one batch for all K models, outputs copied to the host "+
		"(learner.Stepper, at most 2 steps in flight); %d pre-generated batches reused round-robin, the same for both backends\n", cfg.Pool)
	fmt.Fprintf(w, "- Run: fresh models, %d warm-up steps, then steps until ≥ %v and ≥ %d steps (cap %v, at least 1 step); "+
		"ex/s = rows × steps / elapsed, median of %d run(s), fewer where a run's warm-up and timed steps took longer than %v (listed below the table)\n",
		warmupSteps, cfg.MinTime, minSteps, cfg.MaxTime, cfg.Runs, cfg.MaxTime)
	fmt.Fprintf(w, "- Untimed: CPU runs of sparse shapes first step one all-zero row of full width, so that the %d MiB per model of state are paged in\n",
		(sparseDim+1)*32>>20)
	fmt.Fprintf(w, "- GPU MiB: free device memory before NewModels − after the warm-up (state and batch buffers)\n")
	fmt.Fprintln(w)
}

func writeTableHeader(w io.Writer) {
	fmt.Fprintln(w, "| width | K | batch | CPU ex/s | GPU ex/s | GPU/CPU | GPU MiB |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|")
}

func writeRow(w io.Writer, rep *report, r *row) {
	ratio, gmib := "—", "—"
	if r.CPU.Status == "ok" && r.GPU.Status == "ok" {
		ratio = times(r.GPU.Rate / r.CPU.Rate)
	}
	if r.GPU.Status == "ok" {
		gmib = fmt.Sprintf("%.1f", r.GPU.GPUMiB)
	}
	fmt.Fprintf(w, "| %s | %d | %d | %s | %s | %s | %s |\n", r.label(), r.K, r.Batch, cell(r.CPU, ""), cell(r.GPU, rep.NoGPU), ratio, gmib)
}

// writeSummary writes what follows the table: failures, runs cut short, crossovers and the target.
func writeSummary(w io.Writer, rep *report, failed []string) {
	fmt.Fprintln(w)
	if len(failed) > 0 {
		fmt.Fprintln(w, "Failed:")
		for _, f := range failed {
			fmt.Fprintf(w, "- %s\n", f)
		}
		fmt.Fprintln(w)
	}
	var fewer []string
	for _, r := range rep.Rows {
		for _, x := range []struct {
			side string
			m    *measurement
		}{{"CPU", r.CPU}, {"GPU", r.GPU}} {
			if x.m.Status == "ok" && x.m.Why != "" {
				fewer = append(fewer, fmt.Sprintf("- %s K=%d batch %d %s: %s", r.label(), r.K, r.Batch, x.side, x.m.Why))
			}
		}
	}
	if len(fewer) > 0 {
		fmt.Fprintln(w, "Fewer runs than -runs (the median is of those done):")
		for _, f := range fewer {
			fmt.Fprintln(w, f)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "Crossover (smallest batch with GPU ex/s ≥ CPU ex/s; work per step = batch × active columns × K × outputs):")
	for _, c := range rep.Crossovers {
		fmt.Fprintf(w, "- %s\n", c.Text)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, rep.Target.Text)
}

// times formats a ratio with three significant digits below 100.
func times(r float64) string {
	switch {
	case r >= 100:
		return fmt.Sprintf("%.0f×", r)
	case r >= 10:
		return fmt.Sprintf("%.1f×", r)
	case r >= 1:
		return fmt.Sprintf("%.2f×", r)
	}
	return fmt.Sprintf("%.3f×", r)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// cell is a table cell for a measurement: the rate, or why there is none.
func cell(m *measurement, noGPU string) string {
	switch {
	case m.Status == "ok" && m.Why != "":
		return fmt.Sprintf("%.0f (%d run%s)", m.Rate, len(m.Runs), plural(len(m.Runs)))
	case m.Status == "ok":
		return fmt.Sprintf("%.0f", m.Rate)
	case m.Status == "failed":
		return "failed"
	case noGPU != "":
		return "n/a (GPU unavailable)"
	case strings.HasPrefix(m.Why, "-"):
		return "— (" + m.Why + ")"
	}
	return "skipped"
}

func writeJSON(path string, rep *report) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rep); err != nil {
		return fmt.Errorf("-json: %w", err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("-json: %w", err)
	}
	return nil
}

// cpuModel is the "model name" of /proc/cpuinfo, where there is one.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
