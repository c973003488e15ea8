package main

import (
	"fmt"
	"os"
	"runtime/pprof"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/streamlearn/streamlearn/bench/internal/procstat"
)

// cpuTimes reads the CPU time of each named server whose pid is set.
func cpuTimes(pids map[string]int) (map[string]time.Duration, error) {
	out := map[string]time.Duration{}
	for name, pid := range pids {
		if pid == 0 {
			continue
		}
		t, err := procstat.CPUTime(pid)
		if err != nil {
			return nil, fmt.Errorf("%s (pid %d): %w", name, pid, err)
		}
		out[name] = t
	}
	return out, nil
}

// perEvent formats the CPU each process spent per event, and what two cores would sustain at that
// cost.
func perEvent(self time.Duration, before, after map[string]time.Duration, n int) string {
	us := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(n) }
	total := us(self)
	parts := []string{fmt.Sprintf("streamlearn (with the embedded broker) %.1f µs", us(self))}
	names := make([]string, 0, len(after))
	for name := range after {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		d := us(after[name] - before[name])
		total += d
		parts = append(parts, fmt.Sprintf("%s %.1f µs", name, d))
	}
	return fmt.Sprintf("%s; total %.1f µs: %.0f events/s on two cores at this cost", strings.Join(parts, ", "), total, 2e6/total)
}

// rowsWritten is the rows the ClickHouse writer wrote to table.
func rowsWritten(g prometheus.Gatherer, table string) float64 {
	mfs, err := g.Gather()
	if err != nil {
		return 0
	}
	for _, mf := range mfs {
		if mf.GetName() != "streamlearn_clickhouse_rows_written_total" {
			continue
		}
		for _, m := range mf.Metric {
			for _, l := range m.Label {
				if l.GetName() == "table" && l.GetValue() == table {
					return m.Counter.GetValue()
				}
			}
		}
	}
	return 0
}

// stageTimes formats the time each role spent in each stage (streamlearn_stage_duration_seconds),
// in seconds of the run.
func stageTimes(g prometheus.Gatherer) string {
	mfs, err := g.Gather()
	if err != nil {
		return err.Error()
	}
	var parts []string
	for _, mf := range mfs {
		if mf.GetName() != "streamlearn_stage_duration_seconds" {
			continue
		}
		for _, m := range mf.Metric {
			var role, stage string
			for _, l := range m.Label {
				switch l.GetName() {
				case "role":
					role = l.GetValue()
				case "stage":
					stage = l.GetValue()
				}
			}
			h := m.GetHistogram()
			parts = append(parts, fmt.Sprintf("%s/%s %.2fs (%d)", role, stage, h.GetSampleSum(), h.GetSampleCount()))
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// writeHeapProfile writes the allocations so far (go tool pprof -sample_index=alloc_space).
func writeHeapProfile(path string) {
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "memprofile:", err)
		return
	}
	defer f.Close()
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		fmt.Fprintln(os.Stderr, "memprofile:", err)
	}
}
