package drift_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/streamlearn/streamlearn/drift"
	"github.com/streamlearn/streamlearn/eval"
)

// benchEvents returns n events of 8 numeric and 4 categorical fields,
// spaced so that a 1h window holds 10000 of them.
func benchEvents(n int) ([]map[string]any, []time.Time) {
	rng := rand.New(rand.NewPCG(1, 2))
	cats := []string{"DE", "FR", "US", "IT", "ES", "NL", "PL", "SE"}
	events := make([]map[string]any, n)
	times := make([]time.Time, n)
	for i := range events {
		f := make(map[string]any, 12)
		for j := 0; j < 8; j++ {
			f[fmt.Sprint("num", j)] = rng.NormFloat64()
		}
		for j := 0; j < 4; j++ {
			f[fmt.Sprint("cat", j)] = cats[rng.IntN(len(cats))]
		}
		events[i] = f
		times[i] = t0.Add(time.Duration(i) * 360 * time.Millisecond)
	}
	return events, times
}

// BenchmarkMonitorObserveEvent reports feature values per second through
// ObserveEvent on one goroutine, window closing and scoring included.
func BenchmarkMonitorObserveEvent(b *testing.B) {
	const n = 1 << 16
	events, times := benchEvents(n)
	m := drift.NewMonitor(drift.DefaultMonitorConfig())
	var values int
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k := i % n
		// Keep event time moving forward across passes over the events.
		ts := times[k].Add(time.Duration(i/n) * n * 360 * time.Millisecond)
		m.ObserveEvent("fraud", ts, events[k])
		values += len(events[k])
	}
	b.StopTimer()
	b.ReportMetric(float64(values)/b.Elapsed().Seconds(), "values/s")
}

func BenchmarkMonitorRows(b *testing.B) {
	events, times := benchEvents(30000)
	m := drift.NewMonitor(drift.DefaultMonitorConfig())
	for i := range events {
		m.ObserveEvent("fraud", times[i], events[i])
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m.ObserveEvent("fraud", times[len(times)-1], events[i%len(events)])
		m.Rows(t0)
	}
}

func BenchmarkAUC(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	s, y := make([]float64, 100000), make([]float64, 100000)
	for i := range s {
		s[i] = rng.Float64()
		if rng.Float64() < s[i] {
			y[i] = 1
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		eval.AUC(s, y)
	}
}
