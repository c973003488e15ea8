package chsink_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/streamlearn/streamlearn/internal/testenv"
	"github.com/streamlearn/streamlearn/sinks/chsink"
)

// TestOutage stops ClickHouse under a Writer: Flush fails and keeps the rows, Add blocks at
// MaxBufferedRows, and once ClickHouse is back every row is written exactly once per key.
func TestOutage(t *testing.T) {
	srv := testenv.StartClickHouse(t)
	cfg := testConfig(t, srv.Addr)
	cfg.MaxBufferedRows, cfg.BatchRows = 1000, 100
	cfg.DialTimeout = time.Second
	w := open(t, cfg, nil)
	at := time.Now()

	mustAdd(t, w.AddPredictions(context.Background(), predictions(0, 100, "m", 1, at)...))
	if err := w.Flush(testenv.Context(t, 30*time.Second)); err != nil {
		t.Fatalf("Flush before the outage: %v", err)
	}

	srv.Stop()
	mustAdd(t, w.AddPredictions(context.Background(), predictions(100, 600, "m", 1, at)...))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	err := w.Flush(ctx)
	cancel()
	if err == nil {
		t.Fatal("Flush with ClickHouse down succeeded")
	}
	t.Logf("Flush while down: %v", err)
	if got := w.Buffered(); got != 500 {
		t.Fatalf("Buffered while down = %d, want 500", got)
	}

	// 600 more rows: 500 fit, then Add blocks.
	added := make(chan struct{})
	go func() {
		mustAdd(t, w.AddPredictions(context.Background(), predictions(600, 1200, "m", 1, at)...))
		close(added)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for w.Buffered() < cfg.MaxBufferedRows && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case <-added:
		t.Fatal("Add returned with MaxBufferedRows rows buffered")
	case <-time.After(200 * time.Millisecond):
	}
	if got := w.Buffered(); got != cfg.MaxBufferedRows {
		t.Fatalf("Buffered at the bound = %d, want %d", got, cfg.MaxBufferedRows)
	}

	if err := srv.Start(); err != nil {
		t.Fatalf("restart ClickHouse: %v", err)
	}
	if err := w.Flush(testenv.Context(t, time.Minute)); err != nil {
		t.Fatalf("Flush after the outage: %v", err)
	}
	select {
	case <-added:
	case <-time.After(10 * time.Second):
		t.Fatal("Add still blocked after a successful Flush")
	}
	if err := w.Flush(testenv.Context(t, time.Minute)); err != nil {
		t.Fatalf("last Flush: %v", err)
	}
	if got := w.Buffered(); got != 0 {
		t.Errorf("Buffered = %d, want 0", got)
	}
	if got := count(t, w, "predictions"); got != 1200 {
		t.Errorf("predictions under FINAL = %d, want 1200", got)
	}
	var raw uint64
	if err := w.Conn().QueryRow(testenv.Context(t, time.Minute), "SELECT count() FROM "+w.Database()+".predictions").Scan(&raw); err != nil {
		t.Fatal(err)
	}
	if raw != 1200 {
		t.Errorf("predictions without FINAL = %d, want 1200: a row was written twice", raw)
	}
}

// TestRunRidesOutOutage keeps Run going through an outage.
func TestRunRidesOutOutage(t *testing.T) {
	srv := testenv.StartClickHouse(t)
	cfg := testConfig(t, srv.Addr)
	cfg.FlushInterval = 50 * time.Millisecond
	cfg.DialTimeout = time.Second
	w := open(t, cfg, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	at := time.Now()

	mustAdd(t, w.AddPredictions(context.Background(), predictions(0, 10, "m", 1, at)...))
	waitCount(t, func() uint64 { return count(t, w, "predictions") }, 10, 10*time.Second)
	srv.Stop()
	mustAdd(t, w.AddPredictions(context.Background(), predictions(10, 20, "m", 1, at)...))
	time.Sleep(500 * time.Millisecond)
	if got := w.Buffered(); got != 10 {
		t.Errorf("Buffered while down = %d, want 10", got)
	}
	if err := srv.Start(); err != nil {
		t.Fatalf("restart ClickHouse: %v", err)
	}
	waitCount(t, func() uint64 { return count(t, w, "predictions") }, 20, 30*time.Second)
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
}

func TestTransient(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{&chsink.Exception{Code: 60, Message: "Table does not exist"}, false},
		{&chsink.Exception{Code: 252, Message: "Too many parts"}, true},
		{context.DeadlineExceeded, true},
		{io.EOF, true},
		{fmt.Errorf("insert: %w", chsink.Permanent(errors.New("cannot encode"))), false},
	}
	for _, tt := range tests {
		if got := chsink.Transient(tt.err); got != tt.want {
			t.Errorf("Transient(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}
