package correlator

import (
	"sync"
	"time"

	"github.com/streamlearn/streamlearn/drift"
)

// partitionOffsets maps topic -> partition -> offset; it is also the JSON of saved offsets.
type partitionOffsets map[string]map[int32]int64

func (po partitionOffsets) get(p drift.Partition) (int64, bool) {
	o, ok := po[p.Topic][p.Partition]
	return o, ok
}

func (po partitionOffsets) set(p drift.Partition, o int64) {
	if po[p.Topic] == nil {
		po[p.Topic] = map[int32]int64{}
	}
	po[p.Topic][p.Partition] = o
}

func fromPartitions(m map[drift.Partition]int64) partitionOffsets {
	out := partitionOffsets{}
	for p, o := range m {
		out.set(p, o)
	}
	return out
}

// savedOffsets are saved with each snapshot: Resume, where reading must start again to rebuild the
// open windows; Committed, below which every record's rows are in ClickHouse.
type savedOffsets struct {
	Resume    partitionOffsets `json:"resume"`
	Committed partitionOffsets `json:"committed"`
}

// offsetTracker is the correlator's bookkeeping per partition: where each open window's records
// start (for a restart), what the previous run had already written, where to start reading, and
// whether a partition has records left to read, from which it derives the watermarks that close
// windows (drift.Clock). It is safe for concurrent use: the group's offset adjustment runs beside
// Run.
type offsetTracker struct {
	mu        sync.Mutex
	rp        *drift.ResumePoints
	clock     *drift.Clock
	streams   map[string]drift.Stream
	restored  savedOffsets // from the snapshot; Resume is applied at the first assignment only
	applied   bool
	unchecked map[drift.Partition]bool // assigned, end offset not listed yet: holds its watermark
}

func newOffsetTracker(window time.Duration, t Topics) *offsetTracker {
	return &offsetTracker{
		rp: drift.NewResumePoints(window), clock: drift.NewClock(drift.DefaultPartitionIdle), unchecked: map[drift.Partition]bool{},
		streams: map[string]drift.Stream{
			t.Events: drift.StreamEvents, t.Predictions: drift.StreamPredictions, t.Examples: drift.StreamOutcomes, t.Outcomes: drift.StreamNone,
		},
	}
}

func (t *offsetTracker) restore(s savedOffsets) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.restored = s
}

// written reports whether the previous run wrote r's rows already.
func (t *offsetTracker) written(r *Record) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	done, ok := t.restored.Committed.get(drift.Partition{Topic: r.Topic, Partition: r.Partition})
	return ok && r.Offset < done
}

func (t *offsetTracker) seen(r *Record, s drift.Stream, eventTime time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := drift.Partition{Topic: r.Topic, Partition: r.Partition}
	t.rp.Seen(p, s, r.Offset, eventTime)
	if s != drift.StreamNone && !eventTime.IsZero() {
		t.clock.Seen(p, s, eventTime)
	}
}

// lagging notes whether partition p, read up to some offset, has more to read.
func (t *offsetTracker) lagging(p drift.Partition, more bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.clock.Lagging(p, t.streams[p.Topic], more)
}

// uncheckedTopics returns the topics of the assigned partitions whose end offsets are not known yet.
func (t *offsetTracker) uncheckedTopics() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	topics := map[string]bool{}
	for p := range t.unchecked {
		topics[p.Topic] = true
	}
	names := make([]string, 0, len(topics))
	for tp := range topics {
		names = append(names, tp)
	}
	return names
}

// watermarks returns the watermark of each stream that has one.
func (t *offsetTracker) watermarks() map[drift.Stream]time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := map[drift.Stream]time.Time{}
	for _, s := range []drift.Stream{drift.StreamEvents, drift.StreamPredictions, drift.StreamOutcomes} {
		if w, ok := t.clock.Watermark(s); ok {
			out[s] = w
		}
	}
	return out
}

// points returns where to resume and what to commit: the offsets read so far, never below what the
// previous run committed.
func (t *offsetTracker) points(open drift.OpenWindows) (resume, commit partitionOffsets) {
	t.mu.Lock()
	defer t.mu.Unlock()
	resume, commit = fromPartitions(t.rp.Resume(open)), fromPartitions(t.rp.Next())
	for topic, parts := range t.restored.Committed {
		for p, o := range parts {
			key := drift.Partition{Topic: topic, Partition: p}
			if c, ok := commit.get(key); !ok || c < o {
				commit.set(key, o)
			}
			if _, ok := resume.get(key); !ok {
				// Not read yet in this run: resume where the previous run would have.
				if r, ok := t.restored.Resume.get(key); ok {
					resume.set(key, r)
				}
			}
		}
	}
	return resume, commit
}

// assignedLocked notes that partition p was assigned, with committed its group's committed offset
// (negative for none), and returns where to start reading it (negative: where the group says). At
// the first assignment, partitions start where the saved state says the open windows' records
// start; at later ones (a rebalance that gave the partitions back), where this run stopped reading
// them (next: t.rp.Next() taken before the assignment), so that nothing is counted twice. The
// caller holds t.mu and sets t.applied once the whole assignment is done.
func (t *offsetTracker) assignedLocked(next map[drift.Partition]int64, p drift.Partition, committed int64) int64 {
	at := committed
	if n, ok := next[p]; ok {
		at = n
	} else if r, ok := t.restored.Resume.get(p); ok && !t.applied {
		at = r
	}
	if at >= 0 {
		t.rp.Start(p, t.streams[p.Topic], at)
	}
	if s := t.streams[p.Topic]; s != drift.StreamNone {
		t.clock.Lagging(p, s, true)
		t.unchecked[p] = true
	}
	return at
}
