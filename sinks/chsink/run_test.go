package chsink_test

import (
	"context"
	"testing"
	"time"

	"github.com/streamlearn/streamlearn/internal/testenv"
)

// waitCount polls until table has want rows under FINAL.
func waitCount(t *testing.T, count func() uint64, want uint64, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got := count()
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("rows = %d after %s, want %d", got, within, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRunFlushes(t *testing.T) {
	addr := testenv.ClickHouse(t)
	tests := []struct {
		name          string
		flushInterval time.Duration
		batchRows     int
		rows          int
	}{
		{"on interval", 50 * time.Millisecond, 10_000, 10},
		{"on batch rows", time.Hour, 100, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t, addr)
			cfg.FlushInterval, cfg.BatchRows = tt.flushInterval, tt.batchRows
			w := open(t, cfg, nil)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- w.Run(ctx) }()
			mustAdd(t, w.AddPredictions(context.Background(), predictions(0, tt.rows, "m", 1, time.Now())...))
			waitCount(t, func() uint64 { return count(t, w, "predictions") }, uint64(tt.rows), 10*time.Second)
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
}

func TestRunFlushesWhenDone(t *testing.T) {
	addr := testenv.ClickHouse(t)
	cfg := testConfig(t, addr)
	cfg.FlushInterval = time.Hour
	w := open(t, cfg, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	mustAdd(t, w.AddPredictions(context.Background(), predictions(0, 42, "m", 1, time.Now())...))
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := count(t, w, "predictions"); got != 42 {
		t.Errorf("predictions = %d, want 42", got)
	}
}
