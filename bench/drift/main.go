// Command drift measures the throughput of drift.Monitor.ObserveEvent on one
// goroutine: feature values per second, window closing and scoring
// included. It prints every run and the median.
//
//	go run ./bench/drift -runs 5 -events 2000000
package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"time"

	"github.com/streamlearn/streamlearn/drift"
)

func main() {
	runs := flag.Int("runs", 5, "number of timed runs")
	n := flag.Int("events", 2_000_000, "events per run")
	numeric := flag.Int("numeric", 8, "numeric fields per event")
	categorical := flag.Int("categorical", 4, "categorical fields per event")
	perWindow := flag.Int("per-window", 10000, "events per 1h window of event time")
	flag.Parse()
	if *runs < 1 || *n < 1 || *perWindow < 1 {
		fmt.Fprintln(os.Stderr, "runs, events and per-window must be positive")
		os.Exit(2)
	}
	runtime.GOMAXPROCS(1)

	const distinct = 1 << 16
	rng := rand.New(rand.NewPCG(1, 2))
	cats := []string{"DE", "FR", "US", "IT", "ES", "NL", "PL", "SE"}
	events := make([]map[string]any, distinct)
	for i := range events {
		f := make(map[string]any, *numeric+*categorical)
		for j := 0; j < *numeric; j++ {
			f[fmt.Sprint("num", j)] = rng.NormFloat64()
		}
		for j := 0; j < *categorical; j++ {
			f[fmt.Sprint("cat", j)] = cats[rng.IntN(len(cats))]
		}
		events[i] = f
	}
	step := time.Hour / time.Duration(*perWindow)
	start := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)

	var rates []float64
	for r := 0; r < *runs; r++ {
		m := drift.NewMonitor(drift.DefaultMonitorConfig())
		values := 0
		began := time.Now()
		for i := 0; i < *n; i++ {
			ev := events[i%distinct]
			m.ObserveEvent("bench", start.Add(time.Duration(i)*step), ev)
			values += len(ev)
		}
		rate := float64(values) / time.Since(began).Seconds()
		rates = append(rates, rate)
		fmt.Printf("run %d: %.2fM values/s\n", r+1, rate/1e6)
	}
	slices.Sort(rates)
	fmt.Printf("median: %.2fM values/s (%d events × %d fields, %d events per window, GOMAXPROCS=1)\n",
		rates[len(rates)/2]/1e6, *n, *numeric+*categorical, *perWindow)
}
