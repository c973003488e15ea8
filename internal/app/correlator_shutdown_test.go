package app_test

import (
	"context"
	"os"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/streamlearn/streamlearn/internal/app"
	"github.com/streamlearn/streamlearn/internal/testenv"
)

// TestShutdownWithClickHouseDownAndWriterFull stops the process (SIGTERM) while ClickHouse is down
// and the writer's buffer is full, so the correlator waits in Add: Run returns within the writer's
// timeouts instead of hanging, and the correlator commits nothing it did not write.
func TestShutdownWithClickHouseDownAndWriterFull(t *testing.T) {
	ch := testenv.StartClickHouse(t)
	cfg := testConfig(t)
	cfg.ClickHouse.Addr = []string{ch.Addr}
	cfg.ClickHouse.BatchRows, cfg.ClickHouse.MaxBufferedRows = 50, 100
	cfg.ClickHouse.CloseTimeout, cfg.ClickHouse.DialTimeout = 2*time.Second, time.Second
	m := app.New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	select {
	case <-m.Ready:
	case err := <-done:
		t.Fatalf("streamlearn did not start: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("streamlearn not ready after 60s")
	}

	ch.Stop()
	evs := driftStream(1000, 0, 11)
	publish(t, cfg.Kafka.Brokers, cfg.Kafka.Topics.Events, eventMessages(evs)...)
	publish(t, cfg.Kafka.Brokers, cfg.Kafka.Topics.Outcomes, outcomeMessages(evs)...)
	time.Sleep(5 * time.Second) // the correlator fills the writer and waits for room

	cancel()
	began := time.Now()
	select {
	case err := <-done:
		// An error is right: rows were not written, so offsets stay uncommitted for the next run.
		t.Logf("Run returned after %s: %v", time.Since(began), err)
	case <-time.After(45 * time.Second):
		pprof.Lookup("goroutine").WriteTo(os.Stderr, 1)
		t.Fatal("Run still running 45s after shutdown began, with ClickHouse down")
	}
}
