// Package correlator is the drift stage's runtime: the drift and outcome correlator. It reads
// events, predictions, outcomes and examples, keeps drift and performance state per event-time
// window (a drift.Monitor), writes all of it to ClickHouse, and turns the trigger policy's alerts
// into drift_alerts and retrain_events rows and retrain commands on the control topic. Offsets are
// committed only after a flush made the rows they cover durable and the commands were acknowledged.
//
// The core (observe.go, alerts.go, offsets.go, state.go) works on plain Records and does not touch
// Kafka; kafka.go is the thin adapter that polls, adjusts the group's start offsets, produces the
// retrain commands and commits.
//
// Restart safety: with each commit the correlator saves the monitor's snapshot and, per partition,
// where the records of its open windows start (state.go). A restarted correlator restores the
// snapshot and reads again from there, rebuilding the open windows without writing rows twice.
// It must be the only member of its consumer group, since the monitor needs every partition: the
// wiring runs it under a lease (LeaseKey), and SetFence makes its state saves fenced by it.
package correlator

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamlearn/streamlearn/drift"
	"github.com/streamlearn/streamlearn/ingest"
	"github.com/streamlearn/streamlearn/wire"
)

// Options is what New needs.
type Options struct {
	Producer *kgo.Client             // for the control topic
	Writer   Sink                    // the rows' destination (sinks/chsink.Writer)
	Redis    goredis.UniversalClient // nil: no restart safety
	KeyBase  string                  // Redis key prefix
	Group    string                  // the correlator's consumer group
	Monitor  drift.MonitorConfig
	Topics   Topics
	Model    string
	Outcomes bool // feed examples to the monitor (not for multiclass models)
	Limits   ingest.Limits
	Flush    time.Duration // how often rows are flushed and offsets committed
	Log      *slog.Logger
	// OnAlert, when set, is called for each alert raised, once its rows are buffered (a replay
	// after a restart raises it again).
	OnAlert func(drift.Alert)
	// Observe, when set, is told how long each poll's records took to decode and observe
	// (StageObserve) and each flush (StageFlush: rows to ClickHouse, retrain commands, state and
	// offsets), for metrics.
	Observe func(stage string, d time.Duration)
}

// Sink buffers the correlator's rows and writes them durably on Flush; the correlator commits
// offsets only after a Flush succeeded. sinks/chsink.Writer is the ClickHouse one.
type Sink interface {
	AddPredictions(context.Context, ...wire.PredictionRow) error
	AddOutcomes(context.Context, ...wire.OutcomeRow) error
	AddFeatureDrift(context.Context, ...wire.FeatureDriftRow) error
	AddPerformance(context.Context, ...wire.PerformanceRow) error
	AddDriftAlerts(context.Context, ...wire.DriftAlertRow) error
	AddRetrainEvents(context.Context, ...wire.RetrainEventRow) error
	Flush(context.Context) error
	Buffered() int
}

// The stages Options.Observe times.
const (
	StageObserve = "observe"
	StageFlush   = "flush"
)

// Topics names the topics the correlator reads and the one it sends retrain commands to.
type Topics struct {
	Events, Predictions, Outcomes, Examples string
	Control                                 string
}

// Correlator is the drift and outcome correlator (see the package comment).
type Correlator struct {
	kafkaIO  // the consumer, its admin and the producer (kafka.go)
	writer   Sink
	monitor  *drift.Monitor
	state    *stateStore // nil: nothing persisted, windows open at a restart start afresh
	topics   Topics
	model    string
	segments []string
	outcomes bool // feed examples to the monitor (not for multiclass models)
	limits   ingest.Limits
	flush    time.Duration
	log      *slog.Logger
	onAlert  func(drift.Alert)
	timer    func(stage string, d time.Duration)

	offsets  *offsetTracker
	savedGen uint64
	saved    bool
	control  []command // retrain commands not acknowledged yet
	decoded  []decoded // observeAll's scratch, kept between polls

	mu     sync.Mutex
	status Status
}

// Status is the correlator's latest view, for the demo's screen and metrics.
type Status struct {
	WindowStart     time.Time
	DriftedFeatures []string
	MaxPSI          float64
	WindowAUC       float64
	Rows            int64
}

// New returns a correlator whose monitor is restored from the state the last run saved, if any.
// The caller creates the consumer with kgo.AdjustFetchOffsetsFn(c.AdjustOffsets) and calls
// SetClient before Run.
func New(ctx context.Context, o Options) (*Correlator, error) {
	o.Monitor.ExternalWatermarks = true // windows close by the partitions' watermarks (drift.Clock)
	c := &Correlator{
		kafkaIO: kafkaIO{producer: o.Producer}, writer: o.Writer, monitor: drift.NewMonitor(o.Monitor), topics: o.Topics,
		model: o.Model, segments: o.Monitor.Segments, outcomes: o.Outcomes, limits: o.Limits, flush: o.Flush, log: o.Log,
		onAlert: o.OnAlert, timer: o.Observe, offsets: newOffsetTracker(o.Monitor.Window, o.Topics),
	}
	if o.Redis == nil {
		return c, nil
	}
	c.state = newStateStore(o.Redis, o.KeyBase, o.Group)
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
		o.Log.Warn("correlator state not restored; starting afresh", "err", err)
		c.monitor = drift.NewMonitor(o.Monitor)
		return c, nil
	}
	c.offsets.restore(offs)
	c.saved, c.savedGen = true, c.monitor.Generation()
	o.Log.Info("correlator state restored", "snapshot_bytes", len(snap), "partitions", len(offs.Resume))
	return c, nil
}

func (c *Correlator) time(stage string, d time.Duration) {
	if c.timer != nil {
		c.timer(stage, d)
	}
}

// SetFence makes the state saves fenced by the correlator's lease (LeaseKey), held with fence. It
// does nothing when the correlator persists no state.
func (c *Correlator) SetFence(fence string) {
	if c.state != nil {
		c.state.fence = fence
	}
}

// Status returns the correlator's latest view.
func (c *Correlator) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status
}

// flushAndCommit writes the rows and alerts of the monitor, sends the retrain commands, saves the
// state and commits, in that order; a step that fails leaves the later ones to the next round. Rows
// are added under ctx, the rest is done under fctx. It returns an error only when the writer did
// not take the rows (ctx ended while its buffer was full): then nothing is committed, and the
// correlator must stop, since the monitor has handed those rows over.
func (c *Correlator) flushAndCommit(ctx, fctx context.Context, now time.Time) error {
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

// saveAndCommit saves the monitor's snapshot (when it changed) with the offsets to resume from, then
// commits the offsets read so far.
func (c *Correlator) saveAndCommit(ctx context.Context) error {
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
	return c.commit(ctx, commit)
}

// addRows hands the monitor's feature drift and performance rows to the writer.
func (c *Correlator) addRows(ctx context.Context, fd []wire.FeatureDriftRow, perf []wire.PerformanceRow) error {
	if err := c.writer.AddFeatureDrift(ctx, fd...); err != nil {
		return err
	}
	return c.writer.AddPerformance(ctx, perf...)
}

func (c *Correlator) note(fd []wire.FeatureDriftRow, perf []wire.PerformanceRow) {
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
