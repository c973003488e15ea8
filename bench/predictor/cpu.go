package main

import "github.com/streamlearn/streamlearn/bench/internal/procstat"

// cpuSeconds returns the user+system CPU time of process pid (0 for this one), or 0 if unknown.
func cpuSeconds(pid int) float64 {
	d, err := procstat.CPUTime(pid)
	if err != nil {
		return 0
	}
	return d.Seconds()
}
