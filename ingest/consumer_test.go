package ingest_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamlearn/streamlearn/ingest"
	"github.com/streamlearn/streamlearn/internal/testenv"
	"github.com/streamlearn/streamlearn/wire"
)

// consumerRig is one topic with records "0".."n-1" on an embedded broker over TCP, a consumer
// group reading it, and the dead-letter topic.
type consumerRig struct {
	addr     string
	producer *kgo.Client
}

func newConsumerRig(t *testing.T, n, partitions int) *consumerRig {
	t.Helper()
	addr := testenv.Kafka(t, int32(partitions), "in", "dlq")
	p, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: "in", Value: fmt.Appendf(nil, "%d", i)}
	}
	if err := p.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	return &consumerRig{addr: addr, producer: p}
}

// run consumes until every record is handled or dead-lettered, or the timeout passes, and returns
// the records handled (by value) and the dead letters.
func (r *consumerRig) run(t *testing.T, n int, timeout time.Duration, c *ingest.Consumer[string]) (map[string]int, []*kgo.Record) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(r.addr), kgo.ConsumerGroup("g"), kgo.ConsumeTopics("in"),
		kgo.DisableAutoCommit(), kgo.BlockRebalanceOnPoll(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var mu sync.Mutex
	handled := map[string]int{}
	inner := c.Handle
	c.Client, c.DLQ, c.DLQTopic, c.Stage = cl, r.producer, "dlq", "test"
	c.Decode = func(b []byte, _ time.Time) (string, error) { return string(b), nil }
	c.Handle = func(ctx context.Context, vs []string, srcs []*kgo.Record) error {
		if err := inner(ctx, vs, srcs); err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		for _, v := range vs {
			handled[v]++
		}
		return nil
	}
	var dead atomic.Int64
	c.OnBatch = func(_, invalid int) { dead.Add(int64(invalid)) }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		mu.Lock()
		got := len(handled) + int(dead.Load())
		mu.Unlock()
		if got >= n {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
	return handled, r.deadLetters(t)
}

func (r *consumerRig) deadLetters(t *testing.T) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(r.addr), kgo.ConsumeTopics("dlq"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var out []*kgo.Record
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return out
		}
		out = append(out, fs.Records()...)
	}
}

// failOn returns a handler that fails every batch holding one of the values with err (or panics
// when err is nil).
func failOn(err error, values ...string) ingest.Handler[string] {
	bad := map[string]bool{}
	for _, v := range values {
		bad[v] = true
	}
	return func(_ context.Context, vs []string, _ []*kgo.Record) error {
		for _, v := range vs {
			if bad[v] {
				if err == nil {
					panic("handler bug on " + v)
				}
				return fmt.Errorf("handle %s: %w", v, err)
			}
		}
		return nil
	}
}

// TestConsumerDeadLettersRecordsThatFailAlone: records that make the handler fail every time, with
// an error or a panic, go to the dead-letter topic with their stage and reason; every other record
// of their partitions is handled exactly once and the stream moves on.
func TestConsumerDeadLettersRecordsThatFailAlone(t *testing.T) {
	const n = 300
	tests := []struct {
		name   string
		err    error
		poison []string
	}{
		{"error", errors.New("standardize amount: not finite"), []string{"17", "18", "250"}},
		{"permanent", ingest.Permanent(errors.New("bad")), []string{"0"}},
		{"panic", nil, []string{"99"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rig := newConsumerRig(t, n, 3)
			handled, dead := rig.run(t, n, 60*time.Second, &ingest.Consumer[string]{Handle: failOn(tt.err, tt.poison...)})
			if len(handled) != n-len(tt.poison) {
				t.Errorf("%d records handled, want %d", len(handled), n-len(tt.poison))
			}
			for v, c := range handled {
				if c != 1 {
					t.Errorf("record %s handled %d times in its last successful batch, want once", v, c)
				}
			}
			if len(dead) != len(tt.poison) {
				t.Fatalf("%d dead letters, want %d", len(dead), len(tt.poison))
			}
			for _, d := range dead {
				if !strings.Contains(strings.Join(tt.poison, ","), string(d.Value)) {
					t.Errorf("dead letter %q is not a poison record", d.Value)
				}
				if got := ingest.Header(d, wire.HeaderReason); got != string(ingest.ReasonHandlerFailed) {
					t.Errorf("reason %q, want %q", got, ingest.ReasonHandlerFailed)
				}
				if got := ingest.Header(d, ingest.HeaderStage); got != "test" {
					t.Errorf("stage %q, want test", got)
				}
				if ingest.Header(d, wire.HeaderDetail) == "" || ingest.Header(d, wire.HeaderOffset) == "" {
					t.Errorf("dead letter without detail or offset: %v", d.Headers)
				}
			}
		})
	}
}

// TestConsumerHoldsOffsetsWhileADependencyIsDown: while every record fails (a dependency is down),
// nothing is dead-lettered and nothing is skipped: once the dependency is back, every record is
// handled. That holds for errors recognized as transient and for unknown ones when Healthy fails.
func TestConsumerHoldsOffsetsWhileADependencyIsDown(t *testing.T) {
	const n = 50
	tests := []struct {
		name    string
		err     error
		healthy func(context.Context) error
	}{
		{"transient", io.ErrUnexpectedEOF, nil},
		{"marked transient", ingest.Transient(errors.New("feature store unavailable")), nil},
		{"unknown error, unhealthy", errors.New("something odd"), func(context.Context) error { return errors.New("redis down") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rig := newConsumerRig(t, n, 1)
			var down atomic.Bool
			down.Store(true)
			time.AfterFunc(3*time.Second, func() { down.Store(false) })
			handle := func(context.Context, []string, []*kgo.Record) error {
				if down.Load() {
					return tt.err
				}
				return nil
			}
			handled, dead := rig.run(t, n, 60*time.Second, &ingest.Consumer[string]{Handle: handle, Healthy: tt.healthy})
			if len(dead) != 0 {
				t.Errorf("%d records dead-lettered while the dependency was down", len(dead))
			}
			if len(handled) != n {
				t.Errorf("%d records handled, want %d", len(handled), n)
			}
		})
	}
}

func TestIsTransient(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{io.EOF, true},
		{fmt.Errorf("features: %w", io.ErrUnexpectedEOF), true},
		{errors.New("dial tcp 127.0.0.1:6379: connect: connection refused"), true},
		{errors.New("LOADING Redis is loading the dataset in memory"), true},
		{errors.New("OOM command not allowed when used memory > 'maxmemory'."), true},
		{ingest.Transient(errors.New("x")), true},
		{ingest.Permanent(io.EOF), false},
		{errors.New("standardize: value not finite"), false},
		{nil, false},
	}
	for _, tt := range tests {
		if got := ingest.IsTransient(tt.err); got != tt.want {
			t.Errorf("IsTransient(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}
