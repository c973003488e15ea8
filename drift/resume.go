package drift

import (
	"math"
	"time"
)

// Stream names the Monitor input an observation feeds, for ResumePoints.
type Stream uint8

// The streams. StreamNone is a source that feeds no window state (its
// records only need to be read once).
const (
	StreamNone        Stream = iota
	StreamEvents             // AddEvent
	StreamPredictions        // AddPrediction
	StreamOutcomes           // AddOutcome
)

// Partition is a source of ordered observations: a Kafka topic partition.
type Partition struct {
	Topic     string
	Partition int32
}

// ResumePoints tracks where in each partition a restarted Monitor must
// resume reading to rebuild its open windows: per partition, the first
// offset of the observations of each window. With a Snapshot saved at the
// same moment, reading every partition again from its Resume offset
// rebuilds the Monitor exactly (see Snapshot). It is not safe for
// concurrent use.
type ResumePoints struct {
	window int64
	parts  map[Partition]*partitionOffsets
}

type partitionOffsets struct {
	stream Stream
	next   int64           // the offset after the last one seen
	first  map[int64]int64 // window start -> first offset seen in it
}

// NewResumePoints returns a tracker for windows of the given length (the
// Monitor's Window).
func NewResumePoints(window time.Duration) *ResumePoints {
	return &ResumePoints{window: int64(window), parts: make(map[Partition]*partitionOffsets)}
}

func (r *ResumePoints) part(p Partition, s Stream) *partitionOffsets {
	po := r.parts[p]
	if po == nil {
		po = &partitionOffsets{stream: s, next: -1, first: make(map[int64]int64)}
		r.parts[p] = po
	}
	return po
}

// Start records that reading p starts at offset, before anything is seen.
func (r *ResumePoints) Start(p Partition, s Stream, offset int64) {
	po := r.part(p, s)
	po.stream = s
	if po.next < 0 {
		po.next = offset
	}
}

// Seen records an observation at offset of p with the given event time;
// a zero time (a record that fed nothing) only advances the position.
func (r *ResumePoints) Seen(p Partition, s Stream, offset int64, eventTime time.Time) {
	po := r.part(p, s)
	po.stream = s
	po.next = max(po.next, offset+1)
	if s == StreamNone || eventTime.IsZero() {
		return
	}
	ts := eventTime.UnixNano()
	start := ts - ((ts%r.window)+r.window)%r.window
	if f, ok := po.first[start]; !ok || offset < f {
		po.first[start] = offset
	}
}

// Next returns, per partition, the offset after the last one seen.
func (r *ResumePoints) Next() map[Partition]int64 {
	out := make(map[Partition]int64, len(r.parts))
	for p, po := range r.parts {
		if po.next >= 0 {
			out[p] = po.next
		}
	}
	return out
}

// Resume returns, per partition, the offset to resume reading from: the
// first offset of an observation in a window that open says is still open
// on the partition's stream, or Next when none is. It forgets the offsets
// of closed windows.
func (r *ResumePoints) Resume(open OpenWindows) map[Partition]int64 {
	out := make(map[Partition]int64, len(r.parts))
	for p, po := range r.parts {
		if po.next < 0 {
			continue
		}
		var oldest time.Time
		switch po.stream {
		case StreamEvents:
			oldest = open.Events
		case StreamPredictions:
			oldest = open.Predictions
		case StreamOutcomes:
			oldest = open.Outcomes
		}
		cut := int64(math.MaxInt64)
		if !oldest.IsZero() {
			cut = oldest.UnixNano()
		}
		resume := po.next
		for start, off := range po.first {
			if start < cut {
				delete(po.first, start)
			} else {
				resume = min(resume, off)
			}
		}
		out[p] = resume
	}
	return out
}
