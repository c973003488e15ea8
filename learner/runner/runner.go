// Package runner runs the online learner on the examples topic: it learns every joined example
// once, publishes its fresh weights to the registry's live head with the checkpoint (optimizer
// state and offsets) they cover, retains snapshots on a schedule and at each retrain step, prunes
// them by the retention policy, writes each snapshot's evaluation report, and announces versions
// on the models topic.
package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamlearn/streamlearn/eval"
	"github.com/streamlearn/streamlearn/ingest"
	"github.com/streamlearn/streamlearn/learner"
	"github.com/streamlearn/streamlearn/sinks/kafkasink"
	"github.com/streamlearn/streamlearn/wire"
)

// Runner learns one model from the examples topic.
//
// Exactly-once learning comes from the checkpoint, not from consumer-group commits: the runner
// reads the examples topic from the offsets stored with its last checkpoint, and a checkpoint is
// written in the same Redis transaction as the version it produced. A crash between checkpoints
// loses only work that is redone from the same offsets on the same state.
type Runner struct {
	Spec     learner.Spec
	Registry learner.Registry
	// ClientOpts reach the cluster; the runner adds its own consume options.
	ClientOpts    []kgo.Opt
	ExamplesTopic string
	ModelsTopic   string
	// Producer announces versions on the models topic.
	Producer        *kgo.Client
	PublishInterval time.Duration
	AutoPromote     bool
	MetricsWindow   int
	Logger          *slog.Logger
	// OnLearn, when set, is called after every learned batch with its size; OnPublish after every publish.
	OnLearn func(n int)
	// OnSkip, when set, is called with the number of updates the trainer refused since the last
	// call because they would have made its state non-finite.
	OnSkip    func(n int64)
	skipped   int64
	OnPublish func(v learner.Version)
	// Commands are retrain commands for this model (nil: none); Retrain says how to carry them out.
	Commands <-chan Command
	Retrain  learner.RetrainPolicy
	// OnRetrain, when set, receives every step of a retrain.
	OnRetrain func(RetrainEvent)
	// Backend, when set, trains the model in minibatches of Batch examples on it (the GPU); nil
	// trains on the CPU one example at a time. Checkpoints are the same either way.
	Backend learner.Backend
	Batch   int
	// Fence, when set, is this runner's lease on the model (internal/lease): the registry refuses
	// its publishes once another learner holds the model.
	Fence string
	// DedupeWindow is how many recent examples per partition are remembered by event id, so that
	// a copy of an example within that distance is learned once (0: DefaultDedupeWindow; negative:
	// off). OnDuplicate, when set, counts the copies skipped.
	DedupeWindow int
	OnDuplicate  func(n int)
	// Observe, when set, is told how long each poll's records took to decode (StageDecode), to
	// learn (StageLearn), each version to publish (StagePublish) and each delta to take and send
	// (StageDelta), for metrics.
	Observe func(stage string, d time.Duration)
	// SnapshotInterval is how often a publish is retained as a scheduled snapshot (0:
	// DefaultSnapshotInterval; negative: never). Retention says which snapshots Prune keeps
	// (zero: learner.DefaultRetention).
	SnapshotInterval time.Duration
	Retention        learner.Retention
	// ReportOutcomes is how many examples after a snapshot its held-out report is computed on (0:
	// DefaultReportOutcomes). OnReport, when set, receives every report written.
	ReportOutcomes int
	OnReport       func(v learner.Version)
	// Segments are the event fields whose values split a report's held-out metrics (drift.segments).
	Segments []string
	// Binary is the binary's version, recorded in every version (default: the build info's).
	Binary string
	// Now is the clock of snapshots and retention (default time.Now).
	Now func() time.Time
	// Deltas, when set with a positive DeltaInterval and AutoPromote, receives every DeltaInterval
	// the weights changed since the live version (learner.Delta), for predictors to apply between
	// publishes; a delta of more than DeltaMaxRows rows (0: learner.DefaultDeltaMaxRows) is not
	// sent, and the version is published early instead, once half of PublishInterval has passed.
	// Only linear models have deltas: the other families publish whole versions every
	// PublishInterval. OnDelta, when set, is told of every delta sent (oversize false) and every
	// one held back as too large (oversize true).
	Deltas        learner.DeltaStore
	DeltaInterval time.Duration
	DeltaMaxRows  int
	OnDelta       func(d *learner.Delta, oversize bool)

	mu      sync.Mutex
	metrics learner.Metrics
	version int64
}

// The stages Runner.Observe times.
const (
	StageDecode  = "decode"
	StageLearn   = "learn"
	StagePublish = "publish"
	StageDelta   = "delta"
)

func (r *Runner) observe(stage string, d time.Duration) {
	if r.Observe != nil {
		r.Observe(stage, d)
	}
}

// DefaultSnapshotInterval is how often a scheduled snapshot is retained unless SnapshotInterval says.
const DefaultSnapshotInterval = time.Hour

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Runner) snapshotInterval() time.Duration {
	if r.SnapshotInterval == 0 {
		return DefaultSnapshotInterval
	}
	return r.SnapshotInterval
}

func (r *Runner) retention() learner.Retention {
	if r.Retention == (learner.Retention{}) {
		return learner.DefaultRetention
	}
	return r.Retention
}

func (r *Runner) binary() string {
	if r.Binary != "" {
		return r.Binary
	}
	return learner.BinaryVersion()
}

// Status is what the runner has done so far.
type Status struct {
	Version int64
	Metrics learner.Metrics
}

// Status returns the last published version and the progressive metrics.
func (r *Runner) Status() Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	return Status{Version: r.version, Metrics: r.metrics}
}

// Run learns until ctx ends, then publishes what it has learned since the last version and returns.
func (r *Runner) Run(ctx context.Context) error {
	log := r.Logger
	if log == nil {
		log = slog.Default()
	}
	trainer, offsets, parent, err := r.resume(ctx)
	if err != nil {
		return ignoreCanceled(ctx, err)
	}
	start, err := r.startOffsets(ctx, offsets)
	if err != nil {
		return ignoreCanceled(ctx, err)
	}
	window := r.DedupeWindow
	if window == 0 {
		window = DefaultDedupeWindow
	}
	recent := newRecentIDs(window)
	if err := recent.warm(ctx, r.ClientOpts, r.ExamplesTopic, offsets); err != nil {
		return ignoreCanceled(ctx, fmt.Errorf("learner %s: %w", r.Spec.Name, err))
	}
	opts := append(append([]kgo.Opt{}, r.ClientOpts...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{r.ExamplesTopic: start}),
		kgo.FetchMaxWait(200*time.Millisecond),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("learner client: %w", err)
	}
	defer cl.Close()

	l := &learning{
		r: r, log: log, model: r.Spec.Name, trainer: trainer, offsets: offsets, parent: parent, recent: recent,
		window: newWindow(r.MetricsWindow), lastPublish: time.Now(), note: "online",
	}
	last := r.lastSnapshot(ctx)
	l.lastSnapshot, l.lineage = last.CreatedAt, last.Version
	defer l.close() // after the final publish
	l.resumeBase(ctx)
	l.takeCommand(ctx)
	loop := ingest.PollLoop{Client: cl, MaxRecords: 10000, Interval: r.pollInterval(), Logger: log}
	err = loop.Run(ctx, func(ctx context.Context, fetches kgo.Fetches) error {
		t0 := time.Now()
		l.decode(fetches)
		l.scoreReports(ctx)
		t1 := time.Now()
		if err := l.learn(); err != nil {
			return err
		}
		if len(l.exs) > 0 {
			r.observe(StageDecode, t1.Sub(t0))
			r.observe(StageLearn, time.Since(t1))
		}
		if ctx.Err() != nil {
			return nil
		}
		l.finishRetrain(ctx)
		if time.Since(l.lastPublish) >= r.PublishInterval {
			t, dirty := time.Now(), l.dirty > 0
			if err := l.publish(ctx); err != nil && ctx.Err() == nil {
				log.Error("publish model", "model", l.model, "err", err)
			}
			if dirty {
				r.observe(StagePublish, time.Since(t))
			}
		} else if r.deltas() && time.Since(l.lastDelta) >= r.DeltaInterval {
			l.sendDelta(ctx)
		}
		l.takeCommand(ctx)
		return nil
	})
	if err != nil {
		return err
	}
	// Shutdown: keep what was learned since the last version.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return l.publish(fctx)
}

// learning is the state of one Run: the trainer and the offsets it has learned up to (the
// checkpoint's), what was learned since the last version, and the retrain in progress. Offsets
// move only with records the trainer has seen (decode then learn); a version is published with
// exactly the offsets its state covers, so a restart from its checkpoint learns every example once.
type learning struct {
	r     *Runner
	log   *slog.Logger
	model string

	trainer     learner.Trainer
	offsets     map[int32]int64 // partition -> next offset to learn
	parent      int64           // the last published version
	window      *window
	recent      *recentIDs     // the last examples' ids, to learn a copy once
	exs         []wire.Example // the last poll's examples
	dirty       int64          // examples learned since the last publish
	from, to    time.Time      // event times of the examples learned
	arrived     time.Time      // the newest Kafka timestamp of the examples learned
	lastPublish time.Time
	note        string // the next version's note
	kind        string // the next version's snapshot kind (empty: by the schedule)
	active      *retrain
	// lastSnapshot is when the last scheduled or retrain snapshot was retained; reports are
	// the held-out reports of recent snapshots in progress.
	lastSnapshot time.Time
	lineage      int64 // the last retained snapshot: the parent of the versions that follow
	reports      []*pendingReport
	reported     map[int64]bool // snapshots whose reports this run computes or found done
	gate         *learner.Gate  // the last retrain's decision, for the next snapshot's report
	// The live version's weights that deltas are taken against (nil: no deltas until the next
	// publish), the trainer they came from, the last delta's number and when it was sent, and
	// l.dirty at that moment.
	base        *learner.Snapshot
	baseTrainer learner.Trainer
	deltaSeq    int64
	lastDelta   time.Time
	deltaDirty  int64
}

// close releases the trainers.
func (l *learning) close() {
	closeTrainer(l.trainer)
	if l.active != nil {
		closeTrainer(l.active.challenger)
	}
}

// takeCommand starts the retrain of a waiting command, when none is in progress.
func (l *learning) takeCommand(ctx context.Context) {
	if l.active != nil {
		return
	}
	select {
	case cmd := <-l.r.Commands:
		rt, err := l.r.startRetrain(ctx, cmd, l.offsets, l.parent)
		if err == nil {
			l.active = rt
			return
		}
		if ctx.Err() != nil {
			return
		}
		l.r.emit(RetrainEvent{Step: StepRejected, AlertID: cmd.AlertID, ChampionVersion: l.parent, Reason: "retrain failed: " + err.Error()})
		cmd.Done()
	default:
	}
}

// decode moves the offsets past a poll's records and keeps its examples in l.exs, less the copies
// of examples learned within the dedupe window.
func (l *learning) decode(fetches kgo.Fetches) {
	l.exs = l.exs[:0]
	dups := 0
	defer func() {
		if dups > 0 && l.r.OnDuplicate != nil {
			l.r.OnDuplicate(dups)
		}
	}()
	fetches.EachRecord(func(rec *kgo.Record) {
		l.offsets[rec.Partition] = rec.Offset + 1
		if l.recent.seen(rec.Partition, string(rec.Key)) {
			dups++
			return
		}
		var ex wire.Example
		if err := wire.Unmarshal(rec.Value, &ex); err != nil {
			l.log.Warn("skip undecodable example", "partition", rec.Partition, "offset", rec.Offset, "err", err)
			return
		}
		if l.from.IsZero() || ex.Time.Before(l.from) {
			l.from = ex.Time
		}
		if ex.Time.After(l.to) {
			l.to = ex.Time
		}
		if rec.Timestamp.After(l.arrived) {
			l.arrived = rec.Timestamp
		}
		l.exs = append(l.exs, ex)
	})
}

// learn learns the decoded examples with the trainer and, during a retrain, the challenger.
func (l *learning) learn() error {
	exs, r := l.exs, l.r
	if len(exs) == 0 {
		return nil
	}
	preds, err := learnAll(l.trainer, exs, r.Batch)
	if err != nil {
		// The offsets already cover these records, so nothing is published: a restart
		// resumes from the last checkpoint and learns them again.
		return fmt.Errorf("learn %s: %w", l.model, err)
	}
	for i, ex := range exs {
		l.window.add(preds[i].Score, ex.Label)
	}
	if l.active != nil {
		cp, err := learnAll(l.active.challenger, exs, r.Batch)
		if err != nil {
			return fmt.Errorf("learn challenger of %s: %w", l.model, err)
		}
		for i, ex := range exs {
			l.active.champ.add(preds[i].Score, ex.Label)
			l.active.chall.add(cp[i].Score, ex.Label)
		}
	}
	l.dirty += int64(len(exs))
	if r.OnLearn != nil {
		r.OnLearn(len(exs))
	}
	r.noteSkipped(l.trainer)
	return nil
}

// finishRetrain decides a retrain that has shadowed long enough: a promoted challenger becomes the
// trainer, published and promoted at once.
func (l *learning) finishRetrain(ctx context.Context) {
	a, r := l.active, l.r
	if a == nil || (a.champ.seen < int64(r.Retrain.MinOutcomes) && time.Since(a.started) <= r.Retrain.MaxShadow) {
		return
	}
	promoted, gate := r.decide(ctx, a, l.parent)
	l.gate = gate // in the report of the snapshot that follows
	// Each retrain ends in a snapshot: the retrained model that takes over, or the champion that stays.
	l.kind, l.dirty = learner.SnapshotRetrain, l.dirty+1
	if promoted {
		closeTrainer(l.trainer)
		l.trainer = a.challenger
		l.note = "retrained for " + a.cmd.AlertID
		if err := l.publish(ctx); err != nil {
			l.log.Error("publish retrained model", "model", l.model, "err", err)
		} else if _, err := r.Registry.Promote(ctx, l.model, l.parent, "retrained for "+a.cmd.AlertID, true, false); err != nil {
			l.log.Error("promote retrained model", "model", l.model, "err", err)
		}
	} else {
		closeTrainer(a.challenger)
		l.note = "champion kept after retrain for " + a.cmd.AlertID
		if err := l.publish(ctx); err != nil {
			l.log.Error("publish model after a rejected retrain", "model", l.model, "err", err)
		}
	}
	a.cmd.Done()
	l.active = nil
}

// publish publishes what was learned since the last version, with the checkpoint (state and
// offsets) it covers, promotes it when the runner auto-promotes, and announces it.
func (l *learning) publish(ctx context.Context) error {
	if l.dirty == 0 {
		return nil
	}
	defer func() { l.note, l.kind = "online", "" }()
	r, trainer := l.r, l.trainer
	now := r.now()
	kind := l.kind
	if iv := r.snapshotInterval(); kind == "" && iv > 0 && now.Sub(l.lastSnapshot) >= iv {
		kind = learner.SnapshotScheduled
	}
	s := trainer.Snapshot()
	if s == nil {
		return fmt.Errorf("snapshot of %s: %w", l.model, trainerErr(trainer))
	}
	snap, err := s.MarshalBinary()
	if err != nil {
		return fmt.Errorf("encode snapshot: %w", err)
	}
	state, err := trainer.MarshalBinary()
	if err != nil {
		return fmt.Errorf("encode checkpoint: %w", err)
	}
	m := l.window.metrics()
	v, err := r.Registry.Publish(ctx, learner.Version{
		Model: l.model, Parent: l.lineage, Spec: trainer.Spec(), Examples: trainer.Seen(),
		From: l.from, To: l.to, ArrivedTo: l.arrived, Offsets: maps.Clone(l.offsets), Metrics: m, Note: l.note,
		Kind: kind, Binary: r.binary(), CreatedAt: now.UTC(), Report: l.gateReport(kind, m),
	}, snap, &learner.Checkpoint{Offsets: maps.Clone(l.offsets), State: state, Fence: r.Fence})
	if err != nil {
		return err
	}
	l.base = nil // until it is known to serve
	if r.AutoPromote && l.follows(ctx, v) {
		// A champion pinned by hand stays; the version is still published for a later promote.
		_, err := r.Registry.Promote(ctx, l.model, v.Version, "auto", false, false)
		if err != nil && !errors.Is(err, learner.ErrPinned) {
			return err
		}
		if err == nil {
			l.base, l.baseTrainer, l.deltaSeq = s, trainer, 0
		}
	}
	r.announce(ctx, v.Version, wire.EventPublished)
	l.parent, l.dirty, l.lastPublish = v.Version, 0, time.Now()
	l.deltaDirty, l.lastDelta = 0, l.lastPublish
	if kind != "" {
		l.retained(ctx, v, s, now)
	}
	l.adoptSnapshots(ctx)
	r.mu.Lock()
	r.version, r.metrics = v.Version, m
	r.mu.Unlock()
	if r.OnPublish != nil {
		r.OnPublish(v)
	}
	l.log.Debug("published", "model", l.model, "version", v.Version, "examples", v.Examples, "auc", m.AUC)
	return nil
}

// follows reports whether automatic promotion may move the champion to v: it follows the fresh
// weights of this learner, never swaps in another family or spec. A champion of another spec (an
// import or another model's snapshot promoted by hand) stays until a manual promotion or an unpin.
func (l *learning) follows(ctx context.Context, v learner.Version) bool {
	champ, err := l.r.Registry.Champion(ctx, l.model)
	if err != nil || champ == 0 || champ == v.Version {
		return true
	}
	cv, err := l.r.Registry.Get(ctx, l.model, champ)
	if err != nil { // a live version of this learner, overwritten since
		return true
	}
	a, _ := json.Marshal(cv.Spec)
	b, _ := json.Marshal(v.Spec)
	if !bytes.Equal(a, b) {
		l.log.Debug("champion has another spec: not promoted automatically", "model", l.model, "champion", champ, "version", v.Version)
		return false
	}
	return true
}

// gateReport is the first report of a retrain snapshot: the promotion decision, until the held-out
// report replaces it (nil for other versions).
func (l *learning) gateReport(kind string, m learner.Metrics) *learner.Report {
	if kind == "" || l.gate == nil {
		return nil
	}
	return &learner.Report{Progressive: m, Gate: l.gate}
}

// newTrainer returns a fresh trainer of the runner's model on its backend.
func (r *Runner) newTrainer() (learner.Trainer, error) {
	return learner.NewTrainerOn(r.Backend, r.Spec)
}

// batchLearner is a trainer that learns minibatches (learner.BatchTrainer).
type batchLearner interface {
	LearnBatch(vs []wire.Vector, ys []learner.Label) ([]learner.Prediction, error)
}

// learnAll learns exs in order and returns the predictions made before learning each: in
// minibatches of up to batch examples where tr learns in batches, else one at a time.
func learnAll(tr learner.Trainer, exs []wire.Example, batch int) ([]learner.Prediction, error) {
	bl, ok := tr.(batchLearner)
	if !ok {
		preds := make([]learner.Prediction, len(exs))
		for i, ex := range exs {
			preds[i] = tr.Learn(ex.Features, learner.Label{Value: ex.Label, Class: ex.Class})
		}
		return preds, nil
	}
	batch = max(batch, 1)
	preds := make([]learner.Prediction, 0, len(exs))
	vs, ys := make([]wire.Vector, 0, min(batch, len(exs))), make([]learner.Label, 0, min(batch, len(exs)))
	for start := 0; start < len(exs); start += batch {
		vs, ys = vs[:0], ys[:0]
		for _, ex := range exs[start:min(start+batch, len(exs))] {
			vs = append(vs, ex.Features)
			ys = append(ys, learner.Label{Value: ex.Label, Class: ex.Class})
		}
		p, err := bl.LearnBatch(vs, ys)
		if err != nil {
			return nil, err
		}
		preds = append(preds, p...)
	}
	return preds, nil
}

// closeTrainer releases a trainer that holds device memory.
func closeTrainer(tr learner.Trainer) {
	if c, ok := tr.(io.Closer); ok {
		c.Close()
	}
}

// trainerErr is why a trainer failed, when it can say.
func trainerErr(tr learner.Trainer) error {
	if e, ok := tr.(interface{ Err() error }); ok && e.Err() != nil {
		return e.Err()
	}
	return errors.New("the trainer failed")
}

// ignoreCanceled drops an error caused by shutdown during start-up: stopping then is not a failure.
func ignoreCanceled(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

func (r *Runner) resume(ctx context.Context) (learner.Trainer, map[int32]int64, int64, error) {
	cp, err := r.Registry.Checkpoint(ctx, r.Spec.Name)
	if err != nil {
		return nil, nil, 0, err
	}
	if cp == nil {
		tr, err := r.newTrainer()
		return tr, map[int32]int64{}, 0, err
	}
	tr, err := learner.ResumeTrainerOn(r.Backend, cp.State)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("resume %s from checkpoint of version %d: %w", r.Spec.Name, cp.Version, err)
	}
	offsets := cp.Offsets
	if offsets == nil {
		offsets = map[int32]int64{}
	}
	r.version = cp.Version
	return tr, offsets, cp.Version, nil
}

// startOffsets returns where to read every partition of the examples topic: the checkpoint's
// offset, or the start for partitions it does not cover.
func (r *Runner) startOffsets(ctx context.Context, offsets map[int32]int64) (map[int32]kgo.Offset, error) {
	cl, err := kgo.NewClient(r.ClientOpts...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	md, err := kadm.NewClient(cl).Metadata(ctx, r.ExamplesTopic)
	if err != nil {
		return nil, fmt.Errorf("examples topic metadata: %w", err)
	}
	td, ok := md.Topics[r.ExamplesTopic]
	if !ok || td.Err != nil {
		return nil, fmt.Errorf("examples topic %s is missing", r.ExamplesTopic)
	}
	start := map[int32]kgo.Offset{}
	for p := range td.Partitions {
		if off, ok := offsets[p]; ok {
			start[p] = kgo.NewOffset().At(off)
		} else {
			start[p] = kgo.NewOffset().AtStart()
		}
	}
	return start, nil
}

// announce tells predictors of a version on the models topic; a failure is not an error: the
// registry is the truth, and a lost announcement only delays a swap until the next poll.
func (r *Runner) announce(ctx context.Context, version int64, event string) {
	if r.Producer == nil || r.ModelsTopic == "" {
		return
	}
	a := wire.Announcement{Model: r.Spec.Name, Version: version, Event: event, Time: time.Now().UTC()}
	_ = kafkasink.Announce(ctx, r.Producer, r.ModelsTopic, a)
}

// window keeps the last n (score, label) pairs for progressive metrics.
type window struct {
	scores, labels []float64
	next           int
	full           bool
	seen           int64
}

func newWindow(n int) *window {
	if n <= 0 {
		n = 5000
	}
	return &window{scores: make([]float64, n), labels: make([]float64, n)}
}

func (w *window) add(score, label float64) {
	w.scores[w.next], w.labels[w.next] = score, label
	w.next++
	w.seen++
	if w.next == len(w.scores) {
		w.next, w.full = 0, true
	}
}

func (w *window) len() int {
	if w.full {
		return len(w.scores)
	}
	return w.next
}

func (w *window) metrics() learner.Metrics {
	n := w.len()
	if n == 0 {
		return learner.Metrics{}
	}
	m := learner.Metrics{N: int64(n), AUC: eval.AUC(w.scores[:n], w.labels[:n]), LogLoss: eval.LogLoss(w.scores[:n], w.labels[:n])}
	// One class only (early in a stream): no AUC yet. JSON has no NaN, so it reads as 0.
	if math.IsNaN(m.AUC) {
		m.AUC = 0
	}
	if math.IsNaN(m.LogLoss) || math.IsInf(m.LogLoss, 0) {
		m.LogLoss = 0
	}
	return m
}

// noteSkipped reports the updates the trainer refused since the last call.
func (r *Runner) noteSkipped(t learner.Trainer) {
	st, ok := t.(interface{ Skipped() int64 })
	if !ok || r.OnSkip == nil {
		return
	}
	if n := st.Skipped(); n != r.skipped {
		if n > r.skipped {
			r.OnSkip(n - r.skipped)
		}
		r.skipped = n
	}
}
