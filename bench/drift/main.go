// Command drift measures the drift stage on one goroutine: feature values
// per second through drift.Monitor.AddEvent as the correlator calls it
// (event ids for order-free samples, watermarks set by Advance every
// poll), window closing, scoring and the trigger policy included; with
// -decode, the JSON decoding of each event (ingest.DecodeEvent) too. It
// prints every run and the median.
//
//	go run ./bench/drift -runs 5 -events 2000000
//	go run ./bench/drift -runs 5 -decode
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"time"

	"github.com/streamlearn/streamlearn/drift"
	"github.com/streamlearn/streamlearn/ingest"
)

func main() {
	runs := flag.Int("runs", 5, "number of timed runs")
	n := flag.Int("events", 2_000_000, "events per run")
	numeric := flag.Int("numeric", 8, "numeric fields per event")
	categorical := flag.Int("categorical", 4, "categorical fields per event")
	perWindow := flag.Int("per-window", 10000, "events per 1h window of event time")
	poll := flag.Int("poll", 1000, "events per poll: the watermark advances after each")
	decode := flag.Bool("decode", false, "decode each event from JSON first, as the correlator does")
	flag.Parse()
	if *runs < 1 || *n < 1 || *perWindow < 1 || *poll < 1 {
		fmt.Fprintln(os.Stderr, "runs, events, per-window and poll must be positive")
		os.Exit(2)
	}
	runtime.GOMAXPROCS(1)

	const distinct = 1 << 16
	rng := rand.New(rand.NewPCG(1, 2))
	cats := []string{"DE", "FR", "US", "IT", "ES", "NL", "PL", "SE"}
	step := time.Hour / time.Duration(*perWindow)
	start := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	fields := make([]map[string]any, distinct)
	raw := make([][]byte, distinct)
	for i := range fields {
		f := make(map[string]any, *numeric+*categorical)
		for j := 0; j < *numeric; j++ {
			f[fmt.Sprint("num", j)] = rng.NormFloat64()
		}
		for j := 0; j < *categorical; j++ {
			f[fmt.Sprint("cat", j)] = cats[rng.IntN(len(cats))]
		}
		fields[i] = f
		raw[i], _ = json.Marshal(map[string]any{"id": fmt.Sprint("e-", i), "time": start.Add(time.Duration(i) * step), "fields": f})
	}
	limits := ingest.DefaultLimits()
	ids := make([]string, *n)
	for i := range ids {
		ids[i] = "e-" + strconv.Itoa(i)
	}

	var rates []float64
	for r := 0; r < *runs; r++ {
		cfg := drift.DefaultMonitorConfig()
		cfg.ExternalWatermarks = true
		m := drift.NewMonitor(cfg)
		values := 0
		began := time.Now()
		var last time.Time
		for i := 0; i < *n; i++ {
			k := i % distinct
			ev := drift.Event{Model: "bench", ID: ids[i], Time: start.Add(time.Duration(i) * step), Fields: fields[k]}
			if *decode {
				// The record's own time is overridden so that event time keeps moving across passes.
				d, err := ingest.DecodeEvent(raw[k], ev.Time, limits)
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(1)
				}
				ev.Fields = d.Fields
			}
			m.AddEvent(ev)
			values += len(ev.Fields)
			last = ev.Time
			if i%*poll == *poll-1 {
				m.Advance(drift.StreamEvents, last)
			}
		}
		rate := float64(values) / time.Since(began).Seconds()
		rates = append(rates, rate)
		fmt.Printf("run %d: %.2fM values/s\n", r+1, rate/1e6)
	}
	slices.Sort(rates)
	fmt.Printf("median: %.2fM values/s (%d events × %d fields, %d events per window, decode %v, GOMAXPROCS=1)\n",
		rates[len(rates)/2]/1e6, *n, *numeric+*categorical, *perWindow, *decode)
}
