package ingest

import (
	"strconv"

	"github.com/streamlearn/streamlearn/wire"
	"github.com/twmb/franz-go/pkg/kgo"
)

// MaxDeadLetterBytes bounds the size of a dead letter (key, value, header keys and values). A
// larger one keeps its key and headers and only the start of its value, with wire.HeaderTruncated. The
// bound leaves room under a producer batch of 1 MB (kafka.producer_batch_max_bytes, which a broker
// with the default message.max.bytes accepts) for the record and batch overhead and a header or
// two more, so that a dead letter can always be produced; a record that fits
// ingest.max_record_bytes is always dead-lettered whole.
const MaxDeadLetterBytes = 900 << 10

// DeadLetter builds the dead-letter record for a rejected source record.
func DeadLetter(dlqTopic string, src *kgo.Record, err error) *kgo.Record {
	reason, detail := "invalid", err.Error()
	if ie, ok := err.(*InvalidError); ok {
		reason, detail = string(ie.Reason), ie.Detail
	}
	headers := make([]kgo.RecordHeader, 0, len(src.Headers)+6)
	headers = append(headers, src.Headers...)
	headers = append(headers,
		kgo.RecordHeader{Key: wire.HeaderReason, Value: []byte(reason)},
		kgo.RecordHeader{Key: wire.HeaderDetail, Value: []byte(detail)},
		kgo.RecordHeader{Key: wire.HeaderTopic, Value: []byte(src.Topic)},
		kgo.RecordHeader{Key: wire.HeaderPartition, Value: []byte(strconv.FormatInt(int64(src.Partition), 10))},
		kgo.RecordHeader{Key: wire.HeaderOffset, Value: []byte(strconv.FormatInt(src.Offset, 10))},
	)
	r := &kgo.Record{Topic: dlqTopic, Key: src.Key, Value: src.Value, Headers: headers}
	if deadLetterSize(r) > MaxDeadLetterBytes {
		cutValue(r, len(src.Headers))
	}
	return r
}

// truncatedHeaderBytes is the most wire.HeaderTruncated adds.
const truncatedHeaderBytes = len(wire.HeaderTruncated) + 20

// cutValue cuts r's value so that r fits MaxDeadLetterBytes with wire.HeaderTruncated. Should the
// source's own headers (the first n) leave no room even for an empty value, they go too.
func cutValue(r *kgo.Record, n int) {
	size := len(r.Value)
	room := MaxDeadLetterBytes - truncatedHeaderBytes - (deadLetterSize(r) - len(r.Value))
	if room < 0 {
		r.Headers = r.Headers[n:]
		room = max(0, MaxDeadLetterBytes-truncatedHeaderBytes-(deadLetterSize(r)-len(r.Value)))
	}
	r.Value = r.Value[:min(room, len(r.Value))]
	r.Headers = append(r.Headers, kgo.RecordHeader{Key: wire.HeaderTruncated, Value: []byte(strconv.Itoa(size))})
}

func deadLetterSize(r *kgo.Record) int {
	n := len(r.Key) + len(r.Value)
	for _, h := range r.Headers {
		n += len(h.Key) + len(h.Value)
	}
	return n
}

// Header returns the value of the first header named key, or "".
func Header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}
