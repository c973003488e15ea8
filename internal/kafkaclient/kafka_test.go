package kafkaclient_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamlearn/streamlearn/ingest"
	"github.com/streamlearn/streamlearn/internal/kafkaclient"
	"github.com/streamlearn/streamlearn/wire"
)

// producer returns the shared producer, configured as the binary does, on an embedded broker whose
// message.max.bytes is maxMessageBytes.
func producer(t *testing.T, maxMessageBytes int) *kgo.Client {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "events.dlq"),
		kfake.BrokerConfigs(map[string]string{"message.max.bytes": strconv.Itoa(maxMessageBytes)}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cfg := kafkaclient.DefaultConfig()
	cfg.Brokers = c.ListenAddrs()
	opts, err := cfg.ClientOpts()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(append(opts, cfg.ProducerOpts()...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// random returns n incompressible bytes: the broker's bound applies to compressed batches.
func random(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.NewChaCha8([32]byte{}).Read(b)
	return b
}

// TestDeadLettersFitTheDefaultBroker produces dead letters to a broker with Kafka's default
// message.max.bytes: an oversize record's is cut, one within ingest.max_record_bytes is whole.
func TestDeadLettersFitTheDefaultBroker(t *testing.T) {
	cl := producer(t, 1048588)
	tests := []struct {
		name          string
		value         int
		wantTruncated bool
	}{
		{"oversize record", 4 << 20, true},
		{"largest record allowed", ingest.MaxDeadLetterBytes - 16<<10, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := &kgo.Record{Topic: "events", Key: []byte("u-1"), Value: random(tt.value), Offset: 7,
				Headers: []kgo.RecordHeader{{Key: "trace", Value: []byte("t-1")}}}
			dl := ingest.DeadLetter("events.dlq", src, &ingest.InvalidError{Reason: ingest.ReasonOversize, Detail: "too big"})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := cl.ProduceSync(ctx, dl).FirstErr(); err != nil {
				t.Fatalf("produce a dead letter of a %d-byte record: %v", tt.value, err)
			}
			if got := ingest.Header(dl, wire.HeaderTruncated) != ""; got != tt.wantTruncated {
				t.Errorf("truncated = %v, want %v", got, tt.wantTruncated)
			}
		})
	}
}

// TestMessageTooLargeFailsFast: a record the broker refuses fails at once with MESSAGE_TOO_LARGE,
// an error the protocol calls not retriable, instead of being retried.
func TestMessageTooLargeFailsFast(t *testing.T) {
	cl := producer(t, 64<<10)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := cl.ProduceSync(ctx, &kgo.Record{Topic: "events.dlq", Value: random(100 << 10)}).FirstErr()
	if !errors.Is(err, kerr.MessageTooLarge) {
		t.Fatalf("produce over message.max.bytes = %v, want MESSAGE_TOO_LARGE", err)
	}
	if kerr.IsRetriable(err) {
		t.Errorf("%v is retriable", err)
	}
	if ctx.Err() != nil {
		t.Error("the produce was retried until the deadline")
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(*kafkaclient.Config)
		wantErr string
	}{
		{"default", func(*kafkaclient.Config) {}, ""},
		{"no batch bound", func(c *kafkaclient.Config) { c.ProducerBatchMaxBytes = 0 }, "kafka.producer_batch_max_bytes"},
		{"no group", func(c *kafkaclient.Config) { c.Group = "" }, "kafka.group"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := kafkaclient.DefaultConfig()
			tt.edit(&cfg)
			err := cfg.Validate()
			if (tt.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("Validate() = %v, want an error about %q", err, tt.wantErr)
			}
		})
	}
}

func TestDefaultBatchFitsTheDefaultBroker(t *testing.T) {
	if got := kafkaclient.DefaultConfig().ProducerBatchMaxBytes; got > 1048588 || got < ingest.MaxDeadLetterBytes {
		t.Errorf("default producer_batch_max_bytes = %d, want it between the largest dead letter (%d) and the broker's default 1048588",
			got, ingest.MaxDeadLetterBytes)
	}
}
