package wire

// Header keys of a dead letter on the events.dlq topic. The record's key and value are the original
// bytes, untouched, so a fixed producer can replay them; these headers say where they came from and
// why they were rejected.
const (
	HeaderReason    = "dlq.reason"
	HeaderDetail    = "dlq.detail"
	HeaderTopic     = "dlq.topic"
	HeaderPartition = "dlq.partition"
	HeaderOffset    = "dlq.offset"
	// HeaderTruncated is set on a dead letter whose value is cut (see ingest.MaxDeadLetterBytes) to
	// the original value's length in bytes.
	HeaderTruncated = "dlq.truncated"
)
