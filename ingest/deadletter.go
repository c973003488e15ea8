package ingest

import (
	"strconv"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Header keys of a dead letter. The record's key and value are the original bytes, untouched, so a
// fixed producer can replay them; these headers say where they came from and why they were rejected.
const (
	HeaderReason    = "dlq.reason"
	HeaderDetail    = "dlq.detail"
	HeaderTopic     = "dlq.topic"
	HeaderPartition = "dlq.partition"
	HeaderOffset    = "dlq.offset"
)

// DeadLetter builds the dead-letter record for a rejected source record.
func DeadLetter(dlqTopic string, src *kgo.Record, err error) *kgo.Record {
	reason, detail := "invalid", err.Error()
	if ie, ok := err.(*InvalidError); ok {
		reason, detail = string(ie.Reason), ie.Detail
	}
	headers := make([]kgo.RecordHeader, 0, len(src.Headers)+5)
	headers = append(headers, src.Headers...)
	headers = append(headers,
		kgo.RecordHeader{Key: HeaderReason, Value: []byte(reason)},
		kgo.RecordHeader{Key: HeaderDetail, Value: []byte(detail)},
		kgo.RecordHeader{Key: HeaderTopic, Value: []byte(src.Topic)},
		kgo.RecordHeader{Key: HeaderPartition, Value: []byte(strconv.FormatInt(int64(src.Partition), 10))},
		kgo.RecordHeader{Key: HeaderOffset, Value: []byte(strconv.FormatInt(src.Offset, 10))},
	)
	return &kgo.Record{Topic: dlqTopic, Key: src.Key, Value: src.Value, Headers: headers}
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
