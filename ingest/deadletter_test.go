package ingest_test

import (
	"bytes"
	"strconv"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamlearn/streamlearn/ingest"
	"github.com/streamlearn/streamlearn/wire"
)

func size(r *kgo.Record) int {
	n := len(r.Key) + len(r.Value)
	for _, h := range r.Headers {
		n += len(h.Key) + len(h.Value)
	}
	return n
}

func TestDeadLetterFitsItsBound(t *testing.T) {
	big := func(n int) []byte { return bytes.Repeat([]byte("x"), n) }
	srcHeader := kgo.RecordHeader{Key: "trace", Value: []byte("t-1")}
	tests := []struct {
		name          string
		src           kgo.Record
		wantTruncated bool
		wantSrcHeader bool
	}{
		{"small record whole", kgo.Record{Key: []byte("u-1"), Value: []byte(`{"id":`), Headers: []kgo.RecordHeader{srcHeader}}, false, true},
		{"largest record allowed whole", kgo.Record{Key: []byte("u-1"), Value: big(ingest.MaxDeadLetterBytes - 16<<10), Headers: []kgo.RecordHeader{srcHeader}}, false, true},
		{"oversize value cut", kgo.Record{Key: []byte("u-1"), Value: big(2 << 20), Headers: []kgo.RecordHeader{srcHeader}}, true, true},
		{"oversize headers dropped", kgo.Record{Key: []byte("u-1"), Value: big(10), Headers: []kgo.RecordHeader{{Key: "huge", Value: big(1 << 20)}}}, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := tt.src
			src.Topic, src.Partition, src.Offset = "events", 2, 42
			err := &ingest.InvalidError{Reason: ingest.ReasonOversize, Detail: "too big"}
			got := ingest.DeadLetter("events.dlq", &src, err)
			if n := size(got); n > ingest.MaxDeadLetterBytes {
				t.Errorf("dead letter is %d bytes, over MaxDeadLetterBytes %d", n, ingest.MaxDeadLetterBytes)
			}
			truncated := ingest.Header(got, wire.HeaderTruncated)
			if gotT := truncated != ""; gotT != tt.wantTruncated {
				t.Fatalf("truncated header = %q, want it set: %v", truncated, tt.wantTruncated)
			}
			if tt.wantTruncated && truncated != strconv.Itoa(len(src.Value)) {
				t.Errorf("truncated header = %q, want the original length %d", truncated, len(src.Value))
			}
			if !bytes.HasPrefix(src.Value, got.Value) || (!tt.wantTruncated && len(got.Value) != len(src.Value)) {
				t.Errorf("value is %d bytes, not the start of the original's %d", len(got.Value), len(src.Value))
			}
			if g := ingest.Header(got, "trace") != ""; g != tt.wantSrcHeader {
				t.Errorf("source header kept = %v, want %v", g, tt.wantSrcHeader)
			}
			for key, want := range map[string]string{wire.HeaderReason: "oversize", wire.HeaderTopic: "events", wire.HeaderOffset: "42"} {
				if g := ingest.Header(got, key); g != want {
					t.Errorf("header %s = %q, want %q", key, g, want)
				}
			}
			if !bytes.Equal(got.Key, src.Key) {
				t.Errorf("key = %q, want %q", got.Key, src.Key)
			}
		})
	}
}
