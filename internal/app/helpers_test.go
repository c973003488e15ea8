package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	segkafka "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamlearn/streamlearn/internal/app"
	"github.com/streamlearn/streamlearn/internal/config"
	"github.com/streamlearn/streamlearn/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// testConfig returns a config on the test servers with the test's own key prefix, database and
// broker, and short intervals so that tests see effects within seconds.
func testConfig(t *testing.T) config.Config {
	t.Helper()
	cfg := config.DefaultConfig()
	cfg.Kafka.Brokers = []string{testenv.Kafka(t, 4)}
	cfg.Kafka.Partitions = 4
	cfg.Redis.Addr = testenv.Redis(t)
	name := strings.ToLower(strings.NewReplacer("/", "_", "-", "_").Replace(t.Name()))
	cfg.Redis.KeyPrefix = "t:" + name + ":" + fmt.Sprint(time.Now().UnixNano()) + ":"
	cfg.ClickHouse.Addr = []string{testenv.ClickHouse(t)}
	cfg.ClickHouse.Database = fmt.Sprintf("sl_%s_%d", name, time.Now().UnixNano()%1e9)
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.Learner.PublishInterval = 200 * time.Millisecond
	cfg.Learner.Snapshots.ReportOutcomes = 500
	cfg.Drift.Window = time.Minute
	cfg.Drift.AllowedLateness = time.Minute
	cfg.Drift.FlushInterval = 200 * time.Millisecond
	cfg.Log.Level = "warn"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// running is a Main running in the background.
type running struct {
	*app.Main
	cancel context.CancelFunc
	done   chan error
}

func start(t *testing.T, cfg config.Config) *running {
	t.Helper()
	m := app.New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{Main: m, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- m.Run(ctx) }()
	select {
	case <-m.Ready:
	case err := <-r.done:
		cancel()
		t.Fatalf("streamlearn did not start: %v", err)
	case <-time.After(60 * time.Second):
		cancel()
		t.Fatal("streamlearn not ready after 60s")
	}
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop shuts down gracefully and fails the test unless Run returns nil.
func (r *running) stop(t *testing.T) {
	t.Helper()
	if r.done == nil {
		return
	}
	r.cancel()
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("shutdown: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Error("shutdown took more than 60s")
	}
	r.done = nil
}

// publish writes records with segmentio/kafka-go, a client independent of the one streamlearn uses.
func publish(t *testing.T, brokers []string, topic string, msgs ...segkafka.Message) {
	t.Helper()
	w := &segkafka.Writer{Addr: segkafka.TCP(brokers...), Topic: topic, Balancer: &segkafka.Hash{}, BatchTimeout: 5 * time.Millisecond, RequiredAcks: segkafka.RequireAll}
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for len(msgs) > 0 {
		n := min(len(msgs), 500)
		if err := w.WriteMessages(ctx, msgs[:n]...); err != nil {
			t.Fatalf("publish to %s: %v", topic, err)
		}
		msgs = msgs[n:]
	}
}

// readAll reads a topic from the start with franz-go until stop says so or the timeout passes.
func readAll(t *testing.T, brokers []string, topic string, timeout time.Duration, stop func([]*kgo.Record) bool) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out []*kgo.Record
	for !stop(out) {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			break
		}
		out = append(out, fetches.Records()...)
	}
	return out
}

// readPredictionsWithKafkaGo reads the predictions topic with segmentio/kafka-go in a consumer group.
func readPredictionsWithKafkaGo(t *testing.T, brokers []string, topic string, want int, timeout time.Duration) []map[string]any {
	t.Helper()
	r := segkafka.NewReader(segkafka.ReaderConfig{Brokers: brokers, GroupID: "test-" + fmt.Sprint(time.Now().UnixNano()), Topic: topic,
		StartOffset: segkafka.FirstOffset, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out []map[string]any
	for len(out) < want {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				break
			}
			t.Fatalf("read %s: %v", topic, err)
		}
		var p map[string]any
		if err := json.Unmarshal(m.Value, &p); err != nil {
			t.Fatalf("prediction is not JSON: %v: %s", err, m.Value)
		}
		out = append(out, p)
	}
	// Give duplicates, if any, a moment to show up.
	extra, cancel2 := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel2()
	for {
		m, err := r.ReadMessage(extra)
		if err != nil {
			break
		}
		var p map[string]any
		_ = json.Unmarshal(m.Value, &p)
		out = append(out, p)
	}
	return out
}

func getJSON(t *testing.T, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("GET %s: not JSON: %v: %s", url, err, b)
		}
	}
	return resp.StatusCode
}

func postJSON(t *testing.T, url, body string, v any) int {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("POST %s: not JSON: %v: %s", url, err, b)
		}
	}
	return resp.StatusCode
}

// countRows waits until every table has rows (FINAL), and returns the counts.
func countRows(t *testing.T, cfg config.Config, timeout time.Duration, tables ...string) map[string]uint64 {
	t.Helper()
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: cfg.ClickHouse.Addr, Protocol: clickhouse.Native})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	deadline := time.Now().Add(timeout)
	counts := map[string]uint64{}
	for {
		all := true
		for _, tb := range tables {
			var n uint64
			if err := conn.QueryRow(context.Background(), fmt.Sprintf("SELECT count() FROM %s.%s FINAL", cfg.ClickHouse.Database, tb)).Scan(&n); err != nil {
				t.Fatalf("count %s: %v", tb, err)
			}
			counts[tb] = n
			if n == 0 {
				all = false
			}
		}
		if all || time.Now().After(deadline) {
			return counts
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// heldOutN is the n of the first snapshot's held-out AUC in model_reports.
func heldOutN(t *testing.T, cfg config.Config) int64 {
	t.Helper()
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: cfg.ClickHouse.Addr, Protocol: clickhouse.Native})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var n int64
	q := fmt.Sprintf("SELECT n FROM %s.model_reports FINAL WHERE model = 'default' AND version = 1 AND section = 'held_out' AND key = 'auc'", cfg.ClickHouse.Database)
	if err := conn.QueryRow(context.Background(), q).Scan(&n); err != nil {
		t.Fatalf("held-out report: %v", err)
	}
	return n
}
