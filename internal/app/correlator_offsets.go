package app

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlearn/streamlearn/drift"
	"github.com/streamlearn/streamlearn/internal/kafka"
)

func commitOffsets(ctx context.Context, cl *kgo.Client, offs partitionOffsets) error {
	if len(offs) == 0 {
		return nil
	}
	req := make(map[string]map[int32]kgo.EpochOffset, len(offs))
	for topic, parts := range offs {
		req[topic] = make(map[int32]kgo.EpochOffset, len(parts))
		for p, o := range parts {
			req[topic][p] = kgo.EpochOffset{Epoch: -1, Offset: o}
		}
	}
	var cerr error
	cl.CommitOffsetsSync(ctx, req, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			cerr = err
			return
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
					cerr = errors.Join(cerr, fmt.Errorf("%s/%d: %w", t.Topic, p.Partition, err))
				}
			}
		}
	})
	return cerr
}

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

func newOffsetTracker(window time.Duration, t kafka.Topics) *offsetTracker {
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
func (t *offsetTracker) written(r *kgo.Record) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	done, ok := t.restored.Committed.get(drift.Partition{Topic: r.Topic, Partition: r.Partition})
	return ok && r.Offset < done
}

func (t *offsetTracker) seen(r *kgo.Record, s drift.Stream, eventTime time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := drift.Partition{Topic: r.Topic, Partition: r.Partition}
	t.rp.Seen(p, s, r.Offset, eventTime)
	if s != drift.StreamNone && !eventTime.IsZero() {
		t.clock.Seen(p, s, eventTime)
	}
}

// fetched notes, after a fetch's records were seen, whether the partition has more to read.
func (t *offsetTracker) fetched(f kgo.FetchTopicPartition) {
	if len(f.Records) == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	last := f.Records[len(f.Records)-1]
	t.clock.Lagging(drift.Partition{Topic: f.Topic, Partition: f.Partition}, t.streams[f.Topic], last.Offset+1 < f.HighWatermark)
}

// checkEnds lists the end offsets of newly assigned partitions, so that those with nothing to
// read stop holding their stream's watermark.
func (t *offsetTracker) checkEnds(ctx context.Context, adm *kadm.Client) error {
	t.mu.Lock()
	topics := map[string]bool{}
	for p := range t.unchecked {
		topics[p.Topic] = true
	}
	t.mu.Unlock()
	if len(topics) == 0 {
		return nil
	}
	names := make([]string, 0, len(topics))
	for tp := range topics {
		names = append(names, tp)
	}
	starts, err := adm.ListStartOffsets(ctx, names...)
	if err != nil {
		return fmt.Errorf("list start offsets: %w", err)
	}
	ends, err := adm.ListEndOffsets(ctx, names...)
	if err != nil {
		return fmt.Errorf("list end offsets: %w", err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	next := t.rp.Next()
	ends.Each(func(lo kadm.ListedOffset) {
		p := drift.Partition{Topic: lo.Topic, Partition: lo.Partition}
		if !t.unchecked[p] || lo.Err != nil {
			return
		}
		pos, ok := next[p]
		if !ok {
			st, ok := starts.Lookup(lo.Topic, lo.Partition)
			if !ok || st.Err != nil {
				return
			}
			pos = st.Offset
		}
		if pos >= lo.Offset {
			t.clock.Lagging(p, t.streams[p.Topic], false)
		}
		delete(t.unchecked, p)
	})
	return nil
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

// adjust is the consumer's AdjustFetchOffsetsFn. At the first assignment, partitions start where the
// saved state says the open windows' records start; at later ones (a rebalance that gave the
// partitions back), where this run stopped reading them, so that nothing is counted twice.
func (t *offsetTracker) adjust(_ context.Context, offs map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	next := t.rp.Next()
	for topic, parts := range offs {
		for p, o := range parts {
			key := drift.Partition{Topic: topic, Partition: p}
			at := o.EpochOffset().Offset
			if n, ok := next[key]; ok {
				at = n
			} else if r, ok := t.restored.Resume.get(key); ok && !t.applied {
				at = r
			}
			if at >= 0 {
				parts[p] = kgo.NewOffset().At(at).WithEpoch(-1)
				t.rp.Start(key, t.streams[topic], at)
			}
			if s := t.streams[topic]; s != drift.StreamNone {
				t.clock.Lagging(key, s, true)
				t.unchecked[key] = true
			}
		}
	}
	t.applied = true
	return offs, nil
}
