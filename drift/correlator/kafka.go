package correlator

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlearn/streamlearn/drift"
	"github.com/streamlearn/streamlearn/ingest"
	"github.com/streamlearn/streamlearn/internal/lease"
)

// kafkaIO is the correlator's Kafka side: its consumer (set by SetClient), an admin client on it,
// and the producer of retrain commands.
type kafkaIO struct {
	client   *kgo.Client
	admin    *kadm.Client
	producer *kgo.Client
}

// SetClient gives the correlator its consumer, created with kgo.AdjustFetchOffsetsFn(c.AdjustOffsets)
// in the correlator's group, reading the events, predictions, outcomes and examples topics.
func (c *Correlator) SetClient(cl *kgo.Client) {
	c.client, c.admin = cl, kadm.NewClient(cl)
}

// AdjustOffsets is the consumer's AdjustFetchOffsetsFn: the correlator decides where its
// partitions start, where its open windows' records do.
func (c *Correlator) AdjustOffsets(ctx context.Context, offs map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	return c.offsets.adjust(ctx, offs)
}

// Run polls until ctx ends or the client is closed, flushing rows and committing offsets every
// Options.Flush, and once more when ctx ends. When the lease is lost (context.Cause is
// lease.ErrLost) it returns without writing more.
func (c *Correlator) Run(ctx context.Context) error {
	lastFlush := time.Now()
	loop := ingest.PollLoop{Client: c.client, MaxRecords: 20000, Interval: c.flush, Logger: c.log}
	return loop.Run(ctx, func(ctx context.Context, fetches kgo.Fetches) error {
		now := time.Now()
		if err := c.observeAll(ctx, records(fetches), now); err != nil {
			return fmt.Errorf("correlator stopped with rows not buffered, offsets not committed: %w", err)
		}
		if !fetches.Empty() {
			c.time(StageObserve, time.Since(now))
		}
		fetches.EachPartition(c.offsets.fetched)
		c.advance(ctx)
		if errors.Is(context.Cause(ctx), lease.ErrLost) {
			// Another correlator holds the lease now and reads again from the committed offsets:
			// write nothing more.
			return ingest.ErrStop
		}
		stopping := ctx.Err() != nil
		if !stopping && time.Since(lastFlush) < c.flush && c.writer.Buffered() < 10000 {
			return nil
		}
		// A flush under way when ctx ends gives up (its rows stay buffered, its offsets
		// uncommitted); the last one, while stopping, outlives ctx for up to 30 s. So shutdown
		// takes one flush's bound, not two, while ClickHouse is down.
		base := ctx
		if stopping {
			base = context.WithoutCancel(ctx)
		}
		fctx, fcancel := withTimeout(base, 30*time.Second)
		defer fcancel()
		t := time.Now()
		err := c.flushAndCommit(ctx, fctx, now)
		c.time(StageFlush, time.Since(t))
		if err != nil {
			return fmt.Errorf("correlator stopped with rows not buffered, offsets not committed: %w", err)
		}
		lastFlush = time.Now()
		return nil
	})
}

// records returns the fetched records as the core's Records.
func records(fetches kgo.Fetches) []Record {
	recs := fetches.Records()
	out := make([]Record, len(recs))
	for i, r := range recs {
		out[i] = Record{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Value: r.Value, Timestamp: r.Timestamp}
	}
	return out
}

// withTimeout is context.WithTimeout without a deadline on the context: clickhouse-go turns a
// deadline into a max_execution_time setting, and ClickHouse 18.16 (older than settings sent as
// strings) hangs on any setting sent with an INSERT. Cancellation alone reaches the driver fine.
func withTimeout(parent context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(parent)
	t := time.AfterFunc(d, cancel)
	return ctx, func() { t.Stop(); cancel() }
}

// advance moves the monitor's watermarks to where every partition with records left has got.
func (c *Correlator) advance(ctx context.Context) {
	if err := c.offsets.checkEnds(ctx, c.admin); err != nil {
		c.log.Warn("correlator: newly assigned partitions hold the watermarks", "err", err)
	}
	for s, w := range c.offsets.watermarks() {
		c.monitor.Advance(s, w)
	}
}

// sendControl produces the queued retrain commands and waits for Kafka to acknowledge them.
func (c *Correlator) sendControl(ctx context.Context) error {
	if len(c.control) == 0 {
		return nil
	}
	recs := make([]*kgo.Record, len(c.control))
	for i, cmd := range c.control {
		// Keyed by model: a model's commands stay in order on one partition.
		recs[i] = &kgo.Record{Topic: c.topics.Control, Key: []byte(cmd.model), Value: cmd.value}
	}
	res := c.producer.ProduceSync(ctx, recs...)
	var failed []command
	var first error
	for _, r := range res {
		if r.Err != nil {
			failed = append(failed, command{model: string(r.Record.Key), value: r.Record.Value})
			if first == nil {
				first = r.Err
			}
		}
	}
	c.control = failed
	if first != nil {
		return fmt.Errorf("produce to %s: %w", c.topics.Control, first)
	}
	return nil
}

// commit commits offs for the correlator's group.
func (c *Correlator) commit(ctx context.Context, offs partitionOffsets) error {
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
	c.client.CommitOffsetsSync(ctx, req, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
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

// fetched notes, after a fetch's records were seen, whether the partition has more to read.
func (t *offsetTracker) fetched(f kgo.FetchTopicPartition) {
	if len(f.Records) == 0 {
		return
	}
	last := f.Records[len(f.Records)-1]
	t.lagging(drift.Partition{Topic: f.Topic, Partition: f.Partition}, last.Offset+1 < f.HighWatermark)
}

// checkEnds lists the end offsets of newly assigned partitions, so that those with nothing to
// read stop holding their stream's watermark.
func (t *offsetTracker) checkEnds(ctx context.Context, adm *kadm.Client) error {
	names := t.uncheckedTopics()
	if len(names) == 0 {
		return nil
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

// adjust is the consumer's AdjustFetchOffsetsFn. At the first assignment, partitions start where the
// saved state says the open windows' records start; at later ones (a rebalance that gave the
// partitions back), where this run stopped reading them, so that nothing is counted twice.
func (t *offsetTracker) adjust(_ context.Context, offs map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	next := t.rp.Next()
	for topic, parts := range offs {
		for p, o := range parts {
			if at := t.assignedLocked(next, drift.Partition{Topic: topic, Partition: p}, o.EpochOffset().Offset); at >= 0 {
				parts[p] = kgo.NewOffset().At(at).WithEpoch(-1)
			}
		}
	}
	t.applied = true
	return offs, nil
}
