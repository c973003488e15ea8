package chsink_test

import (
	"syscall"
	"testing"
	"time"

	"github.com/streamlearn/streamlearn/internal/testenv"
)

// BenchmarkWritePredictions measures rows/s into ClickHouse in batches of 10k predictions: each
// operation adds 10k rows and flushes them in one INSERT.
func BenchmarkWritePredictions(b *testing.B) {
	const batch = 10_000
	addr := testenv.ClickHouse(b)
	w := open(b, testConfig(b, addr), nil)
	ctx := testenv.Context(b, 10*time.Minute)
	rows := predictions(0, batch, "bench", 1, time.Now())
	b.ReportAllocs()
	cpu := startCPU(b)
	b.ResetTimer()
	for b.Loop() {
		mustAdd(b, w.AddPredictions(ctx, rows...))
		if err := w.Flush(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(cpu())/float64(b.N*batch), "client-cpu-ns/row")
}

// BenchmarkRowWiseBatch is the baseline: the same INSERT built with batch.Append row by row, as
// most clickhouse-go code does, instead of the Writer's column-wise appends.
func BenchmarkRowWiseBatch(b *testing.B) {
	const batch = 10_000
	addr := testenv.ClickHouse(b)
	w := open(b, testConfig(b, addr), nil)
	ctx := testenv.Context(b, 10*time.Minute)
	rows := predictions(0, batch, "bench", 1, time.Now())
	insert := "INSERT INTO " + w.Database() + ".predictions (id, entity, model, version, score, route, time, time_ms, scored_at, scored_at_ms, row_version)"
	b.ReportAllocs()
	cpu := startCPU(b)
	b.ResetTimer()
	for b.Loop() {
		bt, err := w.Conn().PrepareBatch(ctx, insert)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range rows {
			if err := bt.Append(r.ID, r.Entity, r.Model, r.Version, r.Score, r.Route, r.Time, uint16(r.Time.Nanosecond()/1e6),
				r.ScoredAt, uint16(r.ScoredAt.Nanosecond()/1e6), uint64(r.ScoredAt.UnixMilli())); err != nil {
				b.Fatal(err)
			}
		}
		if err := bt.Send(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(cpu())/float64(b.N*batch), "client-cpu-ns/row")
}

// startCPU returns a function that tells the CPU time this process (the client, not the server)
// spent since the call, so that client cost is measured apart from the server's.
func startCPU(b *testing.B) func() time.Duration {
	b.Helper()
	used := func() time.Duration {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			b.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	start := used()
	return func() time.Duration { return used() - start }
}
