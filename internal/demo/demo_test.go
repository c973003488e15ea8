package demo_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamlearn/streamlearn/internal/app"
	"github.com/streamlearn/streamlearn/internal/config"
	"github.com/streamlearn/streamlearn/internal/demo"
	"github.com/streamlearn/streamlearn/internal/synth"
	"github.com/streamlearn/streamlearn/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// lockedBuffer is a bytes.Buffer the demo writes to while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestDemoPrintsConsoleURL runs the demo briefly: it prints the console's URL, which serves the
// console while the demo runs.
func TestDemoPrintsConsoleURL(t *testing.T) {
	cfg := config.DefaultConfig()
	cfg.Kafka.Embedded = "127.0.0.1:0"
	cfg.Redis.Addr = testenv.Redis(t)
	cfg.Redis.KeyPrefix = "t:demo:" + time.Now().Format("150405.000000") + ":"
	cfg.ClickHouse.Addr = []string{testenv.ClickHouse(t)}
	cfg.ClickHouse.Database = "sl_demo_" + time.Now().Format("150405000000")
	cfg.HTTP.Addr = "0.0.0.0:0" // a wildcard address: the URL names the loopback one
	cfg.Log.Level = "error"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &lockedBuffer{}
	done := make(chan error, 1)
	sc := synth.DefaultConfig()
	go func() {
		done <- demo.Run(ctx, app.New(cfg), demo.Options{Rate: 100, Synth: sc, Interval: time.Second}, out)
	}()

	re := regexp.MustCompile(`(?m)^console: (http://127\.0\.0\.1:[0-9]+/ui/)$`)
	deadline := time.Now().Add(60 * time.Second)
	var url string
	for url == "" {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			url = m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("no console URL after 60s; output:\n%s", out.String())
		} else {
			time.Sleep(100 * time.Millisecond)
		}
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "streamlearn console") {
		t.Errorf("GET %s = %d", url, resp.StatusCode)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("demo: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Error("demo did not stop within 60s")
	}
}
