package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamlearn/streamlearn/drift"
	"github.com/streamlearn/streamlearn/ingest"
	"github.com/streamlearn/streamlearn/internal/kafka"
	"github.com/streamlearn/streamlearn/internal/lease"
	"github.com/streamlearn/streamlearn/sinks/clickhouse"
)

// correlator is the drift and outcome correlator: it reads events, predictions, outcomes and
// examples, keeps drift and performance state per event-time window, writes all of it to
// ClickHouse, and turns the trigger policy's alerts into drift_alerts and retrain_events rows and
// retrain commands on the control topic. Offsets are committed only after a flush made the rows
// they cover durable and the commands were acknowledged.
//
// Restart safety: with each commit it saves the monitor's snapshot and, per partition, where the
// records of its open windows start (correlator_state.go). A restarted correlator restores the
// snapshot and reads again from there, rebuilding the open windows without writing rows twice.
// It must be the only member of its consumer group: the monitor needs every partition.
type correlator struct {
	client   *kgo.Client // set by the caller once the correlator can adjust its offsets
	admin    *kadm.Client
	producer *kgo.Client // for the control topic
	writer   *clickhouse.Writer
	monitor  *drift.Monitor
	state    *stateStore // nil: nothing persisted, windows open at a restart start afresh
	topics   kafka.Topics
	model    string
	segments []string
	outcomes bool // feed examples to the monitor (not for multiclass models)
	limits   ingest.Limits
	flush    time.Duration
	log      *slog.Logger

	offsets  *offsetTracker
	savedGen uint64
	saved    bool
	control  []*kgo.Record // retrain commands not acknowledged yet

	mu     sync.Mutex
	status driftStatus
}

// driftStatus is the correlator's latest view, for the demo's screen and metrics.
type driftStatus struct {
	WindowStart     time.Time
	DriftedFeatures []string
	MaxPSI          float64
	WindowAUC       float64
	Rows            int64
}

func (c *correlator) Status() driftStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status
}

func (c *correlator) Run(ctx context.Context) error {
	// Every poll blocks rebalances until AllowRebalance; a return in between would make the client's
	// Close, which leaves the group, wait forever.
	defer c.client.AllowRebalance()
	lastFlush := time.Now()
	for {
		pollCtx, cancel := context.WithTimeout(ctx, c.flush)
		fetches := c.client.PollRecords(pollCtx, 20000)
		cancel()
		if fetches.IsClientClosed() {
			return nil
		}
		now := time.Now()
		if err := c.observeAll(ctx, fetches.Records(), now); err != nil {
			return fmt.Errorf("correlator stopped with rows not buffered, offsets not committed: %w", err)
		}
		fetches.EachPartition(c.offsets.fetched)
		c.advance(ctx)
		if errors.Is(context.Cause(ctx), lease.ErrLost) {
			// Another correlator holds the lease now and reads again from the committed offsets:
			// write nothing more.
			return nil
		}
		stopping := ctx.Err() != nil
		if stopping || time.Since(lastFlush) >= c.flush || c.writer.Buffered() >= 10000 {
			// Rows and commits are done even while stopping, bounded by the writer's own timeouts;
			// only adding rows, which may wait for room in the writer, ends with ctx.
			fctx, fcancel := withTimeout(context.WithoutCancel(ctx), 30*time.Second)
			err := c.flushAndCommit(ctx, fctx, now)
			fcancel()
			if err != nil {
				return fmt.Errorf("correlator stopped with rows not buffered, offsets not committed: %w", err)
			}
			lastFlush = time.Now()
		}
		c.client.AllowRebalance()
		if stopping {
			return nil
		}
	}
}

// advance moves the monitor's watermarks to where every partition with records left has got.
func (c *correlator) advance(ctx context.Context) {
	if err := c.offsets.checkEnds(ctx, c.admin); err != nil {
		c.log.Warn("correlator: newly assigned partitions hold the watermarks", "err", err)
	}
	for s, w := range c.offsets.watermarks() {
		c.monitor.Advance(s, w)
	}
}

// flushAndCommit writes the rows and alerts of the monitor, sends the retrain commands, saves the
// state and commits, in that order; a step that fails leaves the later ones to the next round. Rows
// are added under ctx, the rest is done under fctx. It returns an error only when the writer did
// not take the rows (ctx ended while its buffer was full): then nothing is committed, and the
// correlator must stop, since the monitor has handed those rows over.
func (c *correlator) flushAndCommit(ctx, fctx context.Context, now time.Time) error {
	fd, perf := c.monitor.Rows(now)
	alerts := c.monitor.Alerts()
	c.note(fd, perf)
	if err := c.addRows(ctx, fd, perf); err != nil {
		return err
	}
	if err := c.raise(ctx, alerts); err != nil {
		return err
	}
	if err := c.writer.Flush(fctx); err != nil {
		// Rows stay buffered in the writer and offsets uncommitted; the next round tries again.
		c.log.Warn("clickhouse flush failed; rows kept, offsets not committed", "buffered", c.writer.Buffered(), "err", err)
		return nil
	}
	if err := c.sendControl(fctx); err != nil {
		c.log.Warn("send retrain commands; offsets not committed", "pending", len(c.control), "err", err)
		return nil
	}
	if err := c.saveAndCommit(fctx); err != nil {
		c.log.Warn("commit correlator offsets", "err", err)
	}
	return nil
}

// addRows hands the monitor's feature drift and performance rows to the writer.
func (c *correlator) addRows(ctx context.Context, fd []drift.FeatureDriftRow, perf []drift.PerformanceRow) error {
	rows := make([]clickhouse.FeatureDriftRow, len(fd))
	for i, r := range fd {
		rows[i] = featureDriftRow(r)
	}
	if err := c.writer.AddFeatureDrift(ctx, rows...); err != nil {
		return err
	}
	prows := make([]clickhouse.PerformanceRow, len(perf))
	for i, r := range perf {
		prows[i] = performanceRow(r)
	}
	return c.writer.AddPerformance(ctx, prows...)
}

func featureDriftRow(r drift.FeatureDriftRow) clickhouse.FeatureDriftRow {
	return clickhouse.FeatureDriftRow{
		WindowStart: r.WindowStart, WindowEnd: r.WindowEnd, Model: r.Model, Feature: r.Feature, Kind: r.Kind,
		N: r.N, MissingRate: r.MissingRate, PSI: r.PSI, KS: r.KS, KSPValue: r.KSPValue, JS: r.JS,
		Wasserstein: r.Wasserstein, Chi2: r.Chi2, Chi2PValue: r.Chi2PValue, LInf: r.LInf,
		ReferenceStart: r.ReferenceStart, Drifted: r.Drifted, Updated: r.Updated,
	}
}

func performanceRow(r drift.PerformanceRow) clickhouse.PerformanceRow {
	return clickhouse.PerformanceRow{
		WindowStart: r.WindowStart, WindowEnd: r.WindowEnd, Model: r.Model, Version: r.Version, Segment: r.Segment,
		N: r.N, Positives: r.Positives, LabelCoverage: r.LabelCoverage, MeanDelaySeconds: r.MeanDelaySeconds,
		AUC: r.AUC, LogLoss: r.LogLoss, Brier: r.Brier, ECE: r.ECE, Precision: r.Precision, Recall: r.Recall,
		MAE: r.MAE, RMSE: r.RMSE, Updated: r.Updated,
	}
}

func (c *correlator) note(fd []drift.FeatureDriftRow, perf []drift.PerformanceRow) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.status.Rows += int64(len(fd) + len(perf))
	var latest time.Time
	for _, r := range fd {
		if r.Kind != drift.KindScore && r.WindowStart.After(latest) && !r.ReferenceStart.Equal(r.WindowStart) {
			latest = r.WindowStart
		}
	}
	if !latest.IsZero() && !latest.Before(c.status.WindowStart) {
		c.status.WindowStart, c.status.DriftedFeatures, c.status.MaxPSI = latest, nil, 0
		for _, r := range fd {
			if !r.WindowStart.Equal(latest) || r.Kind == drift.KindScore {
				continue
			}
			if r.Drifted {
				c.status.DriftedFeatures = append(c.status.DriftedFeatures, r.Feature)
			}
			c.status.MaxPSI = max(c.status.MaxPSI, r.PSI)
		}
	}
	for _, r := range perf {
		if r.Version == drift.AllVersions && r.Segment == "" && !r.WindowStart.Before(latest) && r.N > 0 && !math.IsNaN(r.AUC) {
			c.status.WindowAUC = r.AUC
		}
	}
}
