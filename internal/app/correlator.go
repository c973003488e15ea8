package app

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamlearn/streamlearn/drift"
	"github.com/streamlearn/streamlearn/ingest"
	"github.com/streamlearn/streamlearn/internal/kafka"
	"github.com/streamlearn/streamlearn/learner"
	"github.com/streamlearn/streamlearn/predictor"
	"github.com/streamlearn/streamlearn/sinks/clickhouse"
)

// correlator is the drift and outcome correlator: it reads events, predictions, outcomes and
// examples, keeps drift and performance state per event-time window, and writes all of it to
// ClickHouse. Offsets are committed only after a flush made the rows they cover durable.
type correlator struct {
	client  *kgo.Client
	writer  *clickhouse.Writer
	monitor *drift.Monitor
	topics  kafka.Topics
	model   string
	limits  ingest.Limits
	flush   time.Duration
	log     *slog.Logger

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
	lastFlush := time.Now()
	for {
		pollCtx, cancel := context.WithTimeout(ctx, c.flush)
		fetches := c.client.PollRecords(pollCtx, 20000)
		cancel()
		if fetches.IsClientClosed() {
			return nil
		}
		now := time.Now()
		fetches.EachRecord(func(r *kgo.Record) { c.observe(r, now) })
		stopping := ctx.Err() != nil
		if stopping || time.Since(lastFlush) >= c.flush || c.writer.Buffered() >= 10000 {
			// Rows and commits are done even while stopping, bounded by the writer's own timeouts.
			fctx, fcancel := withTimeout(context.WithoutCancel(ctx), 30*time.Second)
			c.flushAndCommit(fctx, now)
			fcancel()
			lastFlush = time.Now()
		}
		c.client.AllowRebalance()
		if stopping {
			return nil
		}
	}
}

func (c *correlator) observe(r *kgo.Record, now time.Time) {
	switch r.Topic {
	case c.topics.Events:
		ev, err := ingest.DecodeEvent(r.Value, now, c.limits)
		if err != nil {
			return // the scoring role sends it to the dead-letter topic
		}
		c.monitor.ObserveEvent(c.model, ev.Time, ev.Fields)
	case c.topics.Predictions:
		var p predictor.Prediction
		if json.Unmarshal(r.Value, &p) != nil || p.ID == "" {
			return
		}
		c.writer.AddPredictions(clickhouse.PredictionRow{
			ID: p.ID, Entity: p.Entity, Model: p.Model, Version: p.Version, Score: p.Score,
			Route: p.Route, Time: p.Time, ScoredAt: p.ScoredAt,
		})
		c.monitor.ObservePrediction(p.Model, p.Version, p.Time, p.Score)
	case c.topics.Outcomes:
		o, err := ingest.DecodeOutcome(r.Value, now, c.limits)
		if err != nil {
			return
		}
		c.writer.AddOutcomes(clickhouse.OutcomeRow{ID: o.ID, Label: o.Value, Class: o.Class, Time: o.Time, ReceivedAt: r.Timestamp})
	case c.topics.Examples:
		var ex learner.Example
		if json.Unmarshal(r.Value, &ex) != nil || ex.ID == "" {
			return
		}
		c.writer.AddOutcomes(clickhouse.OutcomeRow{
			ID: ex.ID, Label: ex.Label, Class: ex.Class, Time: ex.OutcomeTime, ReceivedAt: r.Timestamp,
			Model: ex.Model, Version: ex.Version, Score: ex.Score, Joined: true,
			DelaySeconds: ex.OutcomeTime.Sub(ex.Time).Seconds(),
		})
		c.monitor.ObserveOutcome(ex.Model, ex.Version, ex.Time, ex.Score, ex.Label)
	}
}

func (c *correlator) flushAndCommit(ctx context.Context, now time.Time) {
	fd, perf := c.monitor.Rows(now)
	c.note(fd, perf)
	for _, r := range fd {
		c.writer.AddFeatureDrift(clickhouse.FeatureDriftRow{
			WindowStart: r.WindowStart, WindowEnd: r.WindowEnd, Model: r.Model, Feature: r.Feature, Kind: r.Kind,
			N: r.N, MissingRate: r.MissingRate, PSI: r.PSI, KS: r.KS, KSPValue: r.KSPValue, JS: r.JS,
			Wasserstein: r.Wasserstein, Chi2: r.Chi2, Chi2PValue: r.Chi2PValue, LInf: r.LInf,
			ReferenceStart: r.ReferenceStart, Drifted: r.Drifted, Updated: r.Updated,
		})
	}
	for _, r := range perf {
		c.writer.AddPerformance(clickhouse.PerformanceRow{
			WindowStart: r.WindowStart, WindowEnd: r.WindowEnd, Model: r.Model, Version: r.Version,
			N: r.N, Positives: r.Positives, AUC: r.AUC, LogLoss: r.LogLoss, Brier: r.Brier, ECE: r.ECE, Updated: r.Updated,
		})
	}
	if err := c.writer.Flush(ctx); err != nil {
		// Rows stay buffered in the writer and offsets uncommitted; the next round tries again.
		c.log.Warn("clickhouse flush failed; rows kept, offsets not committed", "buffered", c.writer.Buffered(), "err", err)
		return
	}
	if err := c.client.CommitUncommittedOffsets(ctx); err != nil {
		c.log.Warn("commit correlator offsets", "err", err)
	}
}

func (c *correlator) note(fd []drift.FeatureDriftRow, perf []drift.PerformanceRow) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.status.Rows += int64(len(fd) + len(perf))
	var latest time.Time
	for _, r := range fd {
		if r.Kind != "score" && r.WindowStart.After(latest) && !r.ReferenceStart.Equal(r.WindowStart) {
			latest = r.WindowStart
		}
	}
	if !latest.IsZero() && !latest.Before(c.status.WindowStart) {
		c.status.WindowStart, c.status.DriftedFeatures, c.status.MaxPSI = latest, nil, 0
		for _, r := range fd {
			if !r.WindowStart.Equal(latest) || r.Kind == "score" {
				continue
			}
			if r.Drifted {
				c.status.DriftedFeatures = append(c.status.DriftedFeatures, r.Feature)
			}
			c.status.MaxPSI = max(c.status.MaxPSI, r.PSI)
		}
	}
	for _, r := range perf {
		if !r.WindowStart.Before(latest) && r.N > 0 && r.AUC == r.AUC {
			c.status.WindowAUC = r.AUC
		}
	}
}
