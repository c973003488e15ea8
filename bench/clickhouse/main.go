// Command clickhouse measures how many prediction rows per second the ClickHouse sink writes to a
// running server: each run adds batches of rows with distinct ids and flushes each batch in one
// INSERT, as the pipeline does; building the rows is not timed. It prints every run and the median, and drops its database at the end.
//
//	go run ./bench/clickhouse -addr 127.0.0.1:9000 -runs 5
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"time"

	"github.com/streamlearn/streamlearn/sinks/chsink"
	"github.com/streamlearn/streamlearn/wire"
)

func main() {
	addr := flag.String("addr", envOr("STREAMLEARN_TEST_CLICKHOUSE", "127.0.0.1:9000"), "ClickHouse native protocol host:port")
	database := flag.String("database", "streamlearn_bench", "database to write to; dropped at the end")
	runs := flag.Int("runs", 5, "number of timed runs")
	batches := flag.Int("batches", 50, "batches per run")
	batch := flag.Int("batch", 10_000, "rows per batch")
	flag.Parse()
	if *runs < 1 || *batches < 1 || *batch < 1 {
		fmt.Fprintln(os.Stderr, "runs, batches and batch must be positive")
		os.Exit(2)
	}
	if err := run(*addr, *database, *runs, *batches, *batch); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(addr, database string, runs, batches, batch int) error {
	ctx := context.Background()
	cfg := chsink.DefaultConfig()
	cfg.Addr, cfg.Database, cfg.BatchRows = []string{addr}, database, batch
	w, err := chsink.Open(ctx, cfg, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		return err
	}
	defer func() {
		_ = w.Conn().Exec(ctx, "DROP DATABASE IF EXISTS "+database)
		w.Close()
	}()

	rows := make([]wire.PredictionRow, batch)
	start := time.Now()
	var rates []float64
	for r := range runs {
		var spent time.Duration
		for b := range batches {
			for i := range rows {
				at := start.Add(time.Duration(i) * time.Millisecond)
				rows[i] = wire.PredictionRow{
					ID: fmt.Sprintf("r%d-b%d-e%d", r, b, i), Entity: fmt.Sprintf("u-%d", i%1000), Model: "bench", Version: 1,
					Score: float64(i%1000) / 1000, Route: "champion", Time: at, ScoredAt: at,
				}
			}
			began := time.Now()
			if err := w.AddPredictions(ctx, rows...); err != nil {
				return err
			}
			if err := w.Flush(ctx); err != nil {
				return err
			}
			spent += time.Since(began)
		}
		rate := float64(batches*batch) / spent.Seconds()
		rates = append(rates, rate)
		fmt.Printf("run %d: %.0f rows/s\n", r+1, rate)
	}
	slices.Sort(rates)
	fmt.Printf("median: %.0f rows/s (%d runs of %d batches of %d rows)\n", rates[len(rates)/2], runs, batches, batch)
	return nil
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
