package chsink_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/streamlearn/streamlearn/internal/testenv"
	"github.com/streamlearn/streamlearn/sinks/chsink"
)

// TestWriterWithClickHouseDown is a shutdown while ClickHouse is down and the buffer is full: an Add
// waiting for room returns when its context ends, with the rows not buffered, and Close returns
// within CloseTimeout, failing the Adds still waiting.
func TestWriterWithClickHouseDown(t *testing.T) {
	srv := testenv.StartClickHouse(t)
	full := func(t *testing.T) (*chsink.Writer, chsink.Config) {
		t.Helper()
		cfg := testConfig(t, srv.Addr)
		cfg.MaxBufferedRows, cfg.BatchRows = 10, 10
		cfg.CloseTimeout, cfg.DialTimeout = time.Second, time.Second
		w, err := chsink.Open(testenv.Context(t, time.Minute), cfg, quietLogger(), nil)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { w.Close() })
		mustAdd(t, w.AddPredictions(context.Background(), predictions(0, 10, "m", 1, time.Now())...))
		return w, cfg
	}
	wAdd, _ := full(t)
	wClose, cfg := full(t)
	srv.Stop()

	t.Run("add ends with its context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- wAdd.AddPredictions(ctx, predictions(10, 15, "m", 1, time.Now())...) }()
		select {
		case err := <-done:
			t.Fatalf("Add with the buffer full returned %v before its context ended", err)
		case <-time.After(200 * time.Millisecond):
		}
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Add = %v, want context.Canceled", err)
			}
		case <-time.After(2 * time.Second):
			t.Fatal("Add still blocked 2s after its context ended")
		}
		if got, want := wAdd.Buffered(), 10; got != want {
			t.Errorf("Buffered = %d, want %d: rows of the failed Add were buffered", got, want)
		}
	})

	t.Run("close within CloseTimeout", func(t *testing.T) {
		blocked := make(chan error, 1)
		go func() {
			blocked <- wClose.AddPredictions(context.Background(), predictions(10, 11, "m", 1, time.Now())...)
		}()
		time.Sleep(100 * time.Millisecond)
		start := time.Now()
		closed := make(chan error, 1)
		go func() { closed <- wClose.Close() }()
		select {
		case err := <-closed:
			if err == nil {
				t.Error("Close with ClickHouse down and rows buffered = nil, want an error")
			}
			t.Logf("Close after %s: %v", time.Since(start), err)
		case <-time.After(cfg.CloseTimeout + 3*time.Second):
			t.Fatalf("Close still running %s after it began; CloseTimeout is %s", time.Since(start), cfg.CloseTimeout)
		}
		select {
		case err := <-blocked:
			if !errors.Is(err, chsink.ErrClosed) {
				t.Errorf("Add waiting at Close = %v, want ErrClosed", err)
			}
		case <-time.After(time.Second):
			t.Fatal("Add still blocked after Close")
		}
	})
}
