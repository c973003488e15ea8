package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamlearn/streamlearn/drift"
	"github.com/streamlearn/streamlearn/ingest"
	"github.com/streamlearn/streamlearn/internal/kafka"
	"github.com/streamlearn/streamlearn/internal/lease"
	"github.com/streamlearn/streamlearn/sinks/clickhouse"
)

// correlatorDeps is what newCorrelator needs.
type correlatorDeps struct {
	Producer *kgo.Client
	Writer   *clickhouse.Writer
	Redis    goredis.UniversalClient // nil: no restart safety
	KeyBase  string                  // Redis key prefix
	Group    string                  // the correlator's consumer group
	Monitor  drift.MonitorConfig
	Topics   kafka.Topics
	Model    string
	Outcomes bool
	Limits   ingest.Limits
	Flush    time.Duration
	Log      *slog.Logger
}

// newCorrelator returns a correlator whose monitor is restored from the state the last run saved,
// if any. The caller creates the consumer with AdjustFetchOffsetsFn(c.offsets.adjust) and calls
// setClient before Run.
func newCorrelator(ctx context.Context, d correlatorDeps) (*correlator, error) {
	d.Monitor.ExternalWatermarks = true // windows close by the partitions' watermarks (drift.Clock)
	c := &correlator{
		producer: d.Producer, writer: d.Writer, monitor: drift.NewMonitor(d.Monitor), topics: d.Topics,
		model: d.Model, segments: d.Monitor.Segments, outcomes: d.Outcomes, limits: d.Limits, flush: d.Flush, log: d.Log,
		offsets: newOffsetTracker(d.Monitor.Window, d.Topics),
	}
	if d.Redis == nil {
		return c, nil
	}
	c.state = newStateStore(d.Redis, d.KeyBase, d.Group)
	snap, offs, ok, err := c.state.load(ctx)
	switch {
	case err != nil:
		return nil, fmt.Errorf("correlator: %w", err)
	case !ok:
		return c, nil
	}
	if err := c.monitor.Restore(snap); err != nil {
		// A changed window or segments: the old state does not apply. Start afresh from the
		// committed offsets; open windows lose what came before them.
		d.Log.Warn("correlator state not restored; starting afresh", "err", err)
		c.monitor = drift.NewMonitor(d.Monitor)
		return c, nil
	}
	c.offsets.restore(offs)
	c.saved, c.savedGen = true, c.monitor.Generation()
	d.Log.Info("correlator state restored", "snapshot_bytes", len(snap), "partitions", len(offs.Resume))
	return c, nil
}

func (c *correlator) setClient(cl *kgo.Client) {
	c.client, c.admin = cl, kadm.NewClient(cl)
}

// saveAndCommit saves the monitor's snapshot (when it changed) with the offsets to resume from, then
// commits the offsets read so far.
func (c *correlator) saveAndCommit(ctx context.Context) error {
	resume, commit := c.offsets.points(c.monitor.Oldest())
	if c.state != nil {
		gen := c.monitor.Generation()
		var snap []byte
		if !c.saved || gen != c.savedGen {
			var err error
			if snap, err = c.monitor.Snapshot(); err != nil {
				return err
			}
		}
		if err := c.state.save(ctx, snap, savedOffsets{Resume: resume, Committed: commit}); err != nil {
			return err
		}
		c.saved, c.savedGen = true, gen
	}
	return commitOffsets(ctx, c.client, commit)
}

// stateStore keeps the correlator's snapshot and offsets in Redis, under one hash tag so that a Redis
// Cluster updates both in one transaction.
// Saves are fenced by the correlator's lease, in the same slot, when the correlator holds one.
type stateStore struct {
	rdb                     goredis.UniversalClient
	snapshotKey, offsetsKey string
	fence                   string // the lease held while saving; "" for none
}

func newStateStore(rdb goredis.UniversalClient, prefix, group string) *stateStore {
	tag := correlatorKeyTag(prefix, group)
	return &stateStore{rdb: rdb, snapshotKey: tag + "snapshot", offsetsKey: tag + "offsets"}
}

func correlatorKeyTag(prefix, group string) string {
	return prefix + "correlator:{" + strings.ReplaceAll(group, "}", "_") + "}:"
}

// correlatorLeaseKey is the key of the lease that the single active correlator of a group holds.
func correlatorLeaseKey(prefix, group string) string {
	return correlatorKeyTag(prefix, group) + "lease"
}

func (s *stateStore) load(ctx context.Context) (snap []byte, offs savedOffsets, ok bool, err error) {
	vals, err := s.rdb.MGet(ctx, s.snapshotKey, s.offsetsKey).Result()
	if err != nil {
		return nil, offs, false, fmt.Errorf("load state: %w", err)
	}
	sv, _ := vals[0].(string)
	ov, _ := vals[1].(string)
	if sv == "" || ov == "" {
		return nil, offs, false, nil
	}
	if err := json.Unmarshal([]byte(ov), &offs); err != nil {
		return nil, offs, false, fmt.Errorf("load state: offsets: %w", err)
	}
	return []byte(sv), offs, true, nil
}

// save writes the offsets, and the snapshot unless it is nil (unchanged), atomically.
func (s *stateStore) save(ctx context.Context, snap []byte, offs savedOffsets) error {
	b, err := json.Marshal(offs)
	if err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	write := func(p goredis.Pipeliner) error {
		if snap != nil {
			p.Set(ctx, s.snapshotKey, snap, 0)
		}
		p.Set(ctx, s.offsetsKey, b, 0)
		return nil
	}
	if s.fence == "" {
		_, err = s.rdb.TxPipelined(ctx, write)
	} else {
		err = s.fencedWrite(ctx, write)
	}
	if err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	return nil
}

// fencedWrite runs write as one transaction that commits only while the correlator holds its lease.
func (s *stateStore) fencedWrite(ctx context.Context, write func(goredis.Pipeliner) error) error {
	key := strings.TrimSuffix(s.offsetsKey, "offsets") + "lease"
	for range 10 {
		err := s.rdb.Watch(ctx, func(tx *goredis.Tx) error {
			if err := lease.Check(ctx, tx, key, s.fence); err != nil {
				return err
			}
			_, err := tx.TxPipelined(ctx, write)
			return err
		}, key)
		if !errors.Is(err, goredis.TxFailedErr) { // a renewal touched the lease: check again
			return err
		}
	}
	return fmt.Errorf("%w: the lease kept changing", lease.ErrFenced)
}
