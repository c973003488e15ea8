package correlator

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"syscall"
	"testing"
	"time"

	"github.com/streamlearn/streamlearn/drift"
	"github.com/streamlearn/streamlearn/ingest"
	"github.com/streamlearn/streamlearn/internal/synth"
	"github.com/streamlearn/streamlearn/internal/testenv"
	"github.com/streamlearn/streamlearn/sinks/chsink"
	"github.com/streamlearn/streamlearn/wire"
)

// benchRecords returns the records the correlator reads for n events: the event, its prediction
// and its example, one-minute windows of event time.
func benchRecords(n int) []Record {
	topics := testTopics()
	start := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	g := synth.New(synth.Config{Seed: 1, Entities: 1000, Start: start, Step: 20 * time.Millisecond, DriftAt: n / 2, OutcomeDelay: time.Second})
	var out []Record
	for i := 0; i < n; i++ {
		ev := g.Next()
		score := float64(i%100) / 100
		p, _ := json.Marshal(wire.Prediction{ID: ev.ID, Entity: ev.Entity, Model: "default", Version: int64(1 + i/5000), Score: score,
			Route: wire.RouteChampion, Time: ev.Time, ScoredAt: ev.Time})
		var vec wire.Vector
		for name, v := range ev.Fields {
			switch v := v.(type) {
			case string:
				vec = append(vec, wire.Feature{Name: name + "=" + v, Value: 1})
			case float64:
				vec = append(vec, wire.Feature{Name: name, Value: v})
			}
		}
		vec.Sort()
		ex, _ := json.Marshal(wire.Example{Pending: wire.Pending{ID: ev.ID, Entity: ev.Entity, Time: ev.Time, Features: vec,
			Model: "default", Version: int64(1 + i/5000), Score: score, ScoredAt: ev.Time}, Label: float64(ev.Label), OutcomeTime: ev.OutcomeTime})
		out = append(out,
			Record{Topic: topics.Events, Partition: 0, Offset: int64(i), Value: ev.JSON(), Timestamp: ev.Time},
			Record{Topic: topics.Predictions, Partition: 0, Offset: int64(i), Value: p, Timestamp: ev.Time},
			Record{Topic: topics.Examples, Partition: 0, Offset: int64(i), Value: ex, Timestamp: ev.OutcomeTime})
	}
	return out
}

// BenchmarkCorrelatorToClickHouse runs the correlator's read path (decode, monitor, rows) over
// events, predictions and examples and writes every row to ClickHouse, flushing every 10,000
// records as the correlator does: rows/s into ClickHouse, feature values/s through the stage, and
// the CPU time of this process (the client, apart from the server) per row.
func BenchmarkCorrelatorToClickHouse(b *testing.B) {
	const events = 20000
	recs := benchRecords(events)
	cfg := chsink.DefaultConfig()
	cfg.Addr = []string{testenv.ClickHouse(b)}
	cfg.Database = fmt.Sprintf("bench_correlator_%d", time.Now().UnixNano()%1e9)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx := context.Background()
	w, err := chsink.Open(ctx, cfg, log, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		_ = w.Conn().Exec(ctx, "DROP DATABASE IF EXISTS "+cfg.Database)
		w.Close()
	}()
	var rows, values int64
	cpu0 := cpuTime()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c, err := New(ctx, Options{Writer: w, Monitor: benchMonitorConfig(), Topics: testTopics(),
			Model: "default", Outcomes: true, Limits: ingest.DefaultLimits(), Flush: time.Second, Log: log})
		if err != nil {
			b.Fatal(err)
		}
		now := time.Now()
		for lo := 0; lo < len(recs); lo += 10000 {
			batch := recs[lo:min(lo+10000, len(recs))]
			if err := c.observeAll(ctx, batch, now); err != nil { // a poll
				b.Fatal(err)
			}
			for _, r := range batch {
				if r.Topic == c.topics.Events {
					values += 5
				}
			}
			c.advance(ctx)
			fd, perf := c.monitor.Rows(now)
			if err := c.addRows(ctx, fd, perf); err != nil {
				b.Fatal(err)
			}
			rows += int64(len(fd) + len(perf))
			if err := w.Flush(ctx); err != nil {
				b.Fatal(err)
			}
		}
		rows += 2 * events // a prediction and an outcome row per event
	}
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(rows), "client-cpu-ns/row")
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(values)/b.Elapsed().Seconds(), "values/s")
}

func benchMonitorConfig() drift.MonitorConfig {
	cfg := drift.DefaultMonitorConfig()
	cfg.Window, cfg.AllowedLateness = time.Minute, time.Minute
	cfg.Segments = []string{"country"}
	return cfg
}

// cpuTime returns the CPU time this process has used, in nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkDecodeRecords is the correlator's decoding alone, per record (an event, its prediction
// and its example in turn), without segments and with one.
func BenchmarkDecodeRecords(b *testing.B) {
	recs := benchRecords(3000)
	for _, segments := range [][]string{nil, {"country"}} {
		b.Run(fmt.Sprintf("segments=%d", len(segments)), func(b *testing.B) {
			c := &Correlator{topics: testTopics(), limits: ingest.DefaultLimits(), segments: segments}
			now := time.Now()
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if d := c.decode(&recs[i%len(recs)], now); !d.ok {
					b.Fatal("not decoded")
				}
			}
		})
	}
}
