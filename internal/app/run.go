package app

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"

	"github.com/streamlearn/streamlearn/drift"
	"github.com/streamlearn/streamlearn/drift/correlator"
	"github.com/streamlearn/streamlearn/features/featurestore"
	"github.com/streamlearn/streamlearn/ingest"
	"github.com/streamlearn/streamlearn/internal/telemetry"
	"github.com/streamlearn/streamlearn/join"
	"github.com/streamlearn/streamlearn/join/joinstore"
	"github.com/streamlearn/streamlearn/learner"
	"github.com/streamlearn/streamlearn/learner/cuda"
	"github.com/streamlearn/streamlearn/learner/registry"
	"github.com/streamlearn/streamlearn/learner/runner"
	"github.com/streamlearn/streamlearn/predictor"
	"github.com/streamlearn/streamlearn/sinks/kafkasink"
	"github.com/streamlearn/streamlearn/wire"
)

// stages is what the roles share: the Kafka options, the feature store, the join store, the
// output producers and the model loader.
type stages struct {
	kopts    []kgo.Opt
	registry *registry.Registry
	store    *featurestore.Online
	joins    *joinstore.Store
	out      *kafkasink.Output
	loader   *predictor.Loader
}

// run holds one Run's goroutines: the errgroup of the consumers and loops, the background context
// of the loops that must outlive the consumers (the HTTP server, the model loader), and what to
// close, in reverse order, once they have all returned.
type run struct {
	ctx       context.Context // Run's own context
	g         *errgroup.Group
	gctx      context.Context
	bg        context.Context
	stopBG    context.CancelFunc
	consumers sync.WaitGroup
	closers   []func()
	supervise func(name string, run func(context.Context) error) func(context.Context) error
}

// onClose registers f to run after every goroutine of the run has returned (last in, first out).
func (r *run) onClose(f func()) { r.closers = append(r.closers, f) }

func (r *run) close() {
	for i := len(r.closers) - 1; i >= 0; i-- {
		r.closers[i]()
	}
}

// startConsumer runs a supervised consumer loop in the group; shutdown waits for every consumer.
func (r *run) startConsumer(name string, loop func(context.Context) error) {
	r.consumers.Add(1)
	loop = r.supervise(name, loop)
	r.g.Go(func() error {
		defer r.consumers.Done()
		if err := loop(r.gctx); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		return nil
	})
}

// Run starts the roles and blocks until ctx ends, then shuts down gracefully: stop intake, finish
// the batches in flight, flush ClickHouse, publish the learner's last version, commit offsets,
// close. It returns nil after a clean shutdown.
func (m *Main) Run(ctx context.Context) (err error) {
	m.setDefaults()
	defer m.close()
	if err := m.open(ctx); err != nil {
		return err
	}
	st, err := m.buildStages(ctx)
	if err != nil {
		return err
	}
	defer st.store.Close() // after the roles: it stops the cache's tracking connection
	g, gctx := errgroup.WithContext(ctx)
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	r := &run{ctx: ctx, g: g, gctx: gctx, bg: bg, stopBG: stopBG, supervise: m.supervised}
	r.onClose(stopBG)
	defer r.close()

	// The roles, in the order they start; each is one stage's loop.
	for _, start := range []func(*run, *stages) error{m.startModels, m.startScore, m.startJoin, m.startLearn, m.startCorrelate} {
		if err := start(r, st); err != nil {
			return err
		}
	}
	if m.webhook != nil {
		// Stopped with the background loops, after the consumers: it then sends what is queued.
		g.Go(func() error { return m.webhook.Run(bg) })
	}
	if m.writer != nil {
		// The writer's own flusher keeps rows moving while a consumer is blocked in Add at the
		// buffer bound (a long ClickHouse outage); consumers still flush before they commit.
		g.Go(func() error { return m.writer.Run(bg) })
	}
	srv, err := m.startHTTP(r, st)
	if err != nil {
		return err
	}

	m.ready.Store(true)
	m.readyOnce.Do(func() { close(m.Ready) })
	m.Logger.Info("streamlearn running", "roles", m.Roles, "kafka", strings.Join(m.Config.Kafka.SeedBrokers(), ","), "http", m.HTTPAddr)
	m.shutdownWhenDone(r, srv)
	err = g.Wait()
	if err == nil {
		m.Logger.Info("streamlearn stopped cleanly")
	}
	return err
}

// setDefaults fills the logger, the Prometheus registry and the Ready channel where the caller left
// them nil, and the metrics and holder id of this run.
func (m *Main) setDefaults() {
	cfg := m.Config
	if m.Logger == nil {
		m.Logger = telemetry.NewLogger(cfg.Log.Level, cfg.Log.Format)
	}
	if m.Registry == nil {
		m.Registry = prometheus.NewRegistry()
		m.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	if m.Ready == nil {
		m.Ready = make(chan struct{})
	}
	m.holder = holderID()
	m.metrics = telemetry.NewMetrics(m.Registry)
	m.Registry.MustRegister(telemetry.NewFreshness(m.servedModels, nil))
	m.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "streamlearn_drifted_features",
		Help: "Features flagged as drifted in the correlator's latest scored window (0 where no correlator runs)."},
		func() float64 {
			if c := m.correlator.Load(); c != nil {
				return float64(len(c.Status().DriftedFeatures))
			}
			return 0
		}))
}

// shutdownWhenDone is the shutdown sequence: when the group's context ends the consumers finish
// their batches and return; then the HTTP server drains and the background loops stop.
func (m *Main) shutdownWhenDone(r *run, srv *http.Server) {
	r.g.Go(func() error {
		<-r.gctx.Done()
		m.ready.Store(false)
		r.consumers.Wait()
		if srv != nil {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(r.ctx), 10*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
		}
		r.stopBG()
		return nil
	})
}

// buildStages builds what the roles share and loads the default model (open has connected the
// clients and resolved the embedded broker's address).
func (m *Main) buildStages(ctx context.Context) (*stages, error) {
	cfg := m.Config
	kopts, err := cfg.Kafka.ClientOpts()
	if err != nil {
		return nil, err
	}
	prefix := cfg.Redis.KeyPrefix
	st := &stages{kopts: kopts, registry: registry.NewRegistry(m.rdb, prefix)}
	m.registry = st.registry
	st.store, err = featurestore.NewOnline(m.rdb, cfg.Features, featurestore.Options{Prefix: prefix, TTL: cfg.Redis.EntityTTL,
		OnLate:    func(wire.Event, time.Duration) { m.metrics.LateEvents.Inc() },
		NearCache: cfg.Redis.NearCacheEntries, Logger: m.Logger})
	if err != nil {
		return nil, err
	}
	m.registerStoreStats(st.store)
	st.joins = joinstore.NewStore(m.rdb, prefix, cfg.Join.Horizon)
	if cfg.Join.ImplicitLabel != nil {
		st.joins.WithImplicitLabel(*cfg.Join.ImplicitLabel)
	}
	st.out = &kafkasink.Output{Client: m.producer, PredictionsTopic: cfg.Kafka.Topics.Predictions, ExamplesTopic: cfg.Kafka.Topics.Examples}
	m.models = predictor.NewModels()
	var fresh newestServed
	st.loader = &predictor.Loader{
		Registry: m.registry, Models: m.models, Bootstrap: cfg.Model, Logger: m.Logger,
		Deltas:  m.deltaStore(),
		OnDelta: func(model, result string) { m.metrics.Deltas.WithLabelValues(model, result).Inc() },
		OnSwap: func(s *predictor.Served) {
			m.metrics.ModelVersion.WithLabelValues(s.Model).Set(float64(s.Version))
			if fresh.newer(s.Model, s.Version, s.DeltaSeq) { // a rollback to an old snapshot is not a measure of freshness
				m.metrics.ObserveFreshness(s.Model, s.ArrivedTo, s.LoadedAt)
			}
		},
	}
	if err := st.loader.Sync(ctx, cfg.Model.Name); err != nil {
		st.store.Close()
		return nil, fmt.Errorf("load model %s: %w", cfg.Model.Name, err)
	}
	return st, nil
}

// startModels follows the models topic from its end, so every role serves the current champions.
func (m *Main) startModels(r *run, st *stages) error {
	cfg := m.Config
	modelsClient, err := kgo.NewClient(append(append([]kgo.Opt{}, st.kopts...),
		kgo.ConsumeTopics(cfg.Kafka.Topics.Models), kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()))...)
	if err != nil {
		return fmt.Errorf("models client: %w", err)
	}
	r.onClose(modelsClient.Close)
	var modelNames []string
	for _, spec := range cfg.Models() {
		modelNames = append(modelNames, spec.Name)
	}
	r.g.Go(func() error { return st.loader.Run(r.bg, modelsClient, modelNames, 2*time.Second) })
	return nil
}

// startScore runs the score role: events -> features -> predictions (+ pending joins).
func (m *Main) startScore(r *run, st *stages) error {
	if !m.has(RoleScore) {
		return nil
	}
	cfg := m.Config
	cl, err := m.groupClient(st.kopts, "score", cfg.Kafka.Topics.Events)
	if err != nil {
		return err
	}
	r.onClose(cl.Close)
	router, err := m.router(r.ctx, st.loader)
	if err != nil {
		return err
	}
	timer := m.metrics.StageTimer(string(RoleScore), ingest.StageDecode, predictor.StageFeatures, predictor.StageScore, predictor.StageProduce, predictor.StageJoin)
	stream := &predictor.Stream{Features: st.store, Models: m.models, Router: router, Join: st.joins, Out: st.out, Observe: timer}
	c := &ingest.Consumer[wire.Event]{
		Client: cl, DLQ: m.producer, DLQTopic: cfg.Kafka.Topics.DeadLetter, Logger: m.Logger, Stage: "score", Healthy: m.redisHealthy, Observe: timer,
		Decode: func(b []byte, now time.Time) (wire.Event, error) { return ingest.DecodeEvent(b, now, cfg.Ingest) },
		Handle: func(ctx context.Context, evs []wire.Event, _ []*kgo.Record) error { return stream.Handle(ctx, evs) },
		OnInvalid: func(r ingest.Reason) {
			m.metrics.Invalid.WithLabelValues(cfg.Kafka.Topics.Events, string(r)).Inc()
		},
		OnBatch: func(valid, _ int) {
			m.metrics.Events.Add(float64(valid))
			m.metrics.Predictions.Add(float64(valid))
		},
	}
	r.startConsumer("score", c.Run)
	return nil
}

// startJoin runs the join role: outcomes -> examples, and the implicit-label sweep.
func (m *Main) startJoin(r *run, st *stages) error {
	if !m.has(RoleJoin) {
		return nil
	}
	cfg := m.Config
	cl, err := m.groupClient(st.kopts, "join", cfg.Kafka.Topics.Outcomes)
	if err != nil {
		return err
	}
	r.onClose(cl.Close)
	joined := func(n int) { m.metrics.Examples.Add(float64(n)) }
	timer := m.metrics.StageTimer(string(RoleJoin), ingest.StageDecode, join.StageJoin, join.StageProduce)
	outcomes := &join.Outcomes{Store: st.joins, Out: st.out, Joined: joined, Observe: timer}
	c := &ingest.Consumer[wire.Outcome]{
		Client: cl, DLQ: m.producer, DLQTopic: cfg.Kafka.Topics.DeadLetter, Logger: m.Logger, Stage: "join", Healthy: m.redisHealthy, Observe: timer,
		Decode: func(b []byte, now time.Time) (wire.Outcome, error) { return ingest.DecodeOutcome(b, now, cfg.Ingest) },
		Handle: func(ctx context.Context, os []wire.Outcome, _ []*kgo.Record) error { return outcomes.Handle(ctx, os) },
		OnInvalid: func(r ingest.Reason) {
			m.metrics.Invalid.WithLabelValues(cfg.Kafka.Topics.Outcomes, string(r)).Inc()
		},
		OnBatch: func(valid, _ int) { m.metrics.Outcomes.Add(float64(valid)) },
	}
	r.startConsumer("join", c.Run)
	if cfg.Join.ImplicitLabel != nil {
		implicit := &join.Implicit{Store: st.joins, Out: st.out, Interval: cfg.Join.SweepInterval, Joined: joined, Logger: m.Logger}
		r.startConsumer("implicit labels", implicit.Run)
	}
	return nil
}

// startLearn runs the learn role: one leased runner per model, examples -> model versions.
func (m *Main) startLearn(r *run, st *stages) error {
	if !m.has(RoleLearn) {
		return nil
	}
	cfg := m.Config
	devices, err := cuda.NewSelector(cfg.Learner.Device, cuda.Workload{Batch: cfg.Learner.Batch, Active: cfg.Learner.ActiveInputs})
	if err != nil {
		return err
	}
	// Closed after the group has returned: the runners have closed their models by then.
	r.onClose(func() { devices.Close() })
	for _, spec := range cfg.Models() {
		// linear, fm and mlp as learner.device says; tree, forest and auto on the CPU.
		backend, why := devices.ForSpec(spec)
		m.Logger.Info("learner device", "model", spec.Name, "device", why)
		device := "cpu"
		if g, ok := backend.(*cuda.Backend); ok {
			device = "cuda:" + g.Device().Name
		}
		m.metrics.LearnerDevice.WithLabelValues(spec.Name, device).Set(1)
		runner := m.learnRunner(r.gctx, spec, backend, st.kopts)
		if spec.Name == cfg.Model.Name {
			m.runner = runner
		}
		r.startConsumer("learn "+spec.Name, m.learnLeased(st.kopts, runner, st.registry.LeaseKey(spec.Name)))
	}
	return nil
}

// learnRunner builds the online learning loop of one model, with its metrics and ClickHouse rows.
func (m *Main) learnRunner(gctx context.Context, spec learner.Spec, backend learner.Backend, kopts []kgo.Opt) *runner.Runner {
	cfg, log := m.Config, m.Logger
	// Exported at 0 from the start, so that rate() and increase() see the first examples and skips.
	m.metrics.Learned.WithLabelValues(spec.Name)
	m.metrics.SkippedUpdates.WithLabelValues(spec.Name)
	return &runner.Runner{
		Retrain: cfg.Learner.Retrain,
		Observe: m.metrics.StageTimer(string(RoleLearn), runner.StageDecode, runner.StageLearn, runner.StagePublish, runner.StageDelta),
		OnRetrain: func(ev runner.RetrainEvent) {
			m.lastRetrain.Store(&ev)
			m.notifyRetrain(ev)
			if m.writer == nil {
				return
			}
			if err := m.writer.AddRetrainEvents(gctx, retrainEventRow(ev)); err != nil {
				log.Warn("retrain event not written to clickhouse", "model", ev.Model, "err", err)
			}
		},
		Spec: spec, Registry: m.registry, ClientOpts: kopts,
		ExamplesTopic: cfg.Kafka.Topics.Examples, ModelsTopic: cfg.Kafka.Topics.Models, Producer: m.producer,
		PublishInterval: cfg.Learner.PublishInterval, AutoPromote: cfg.Learner.AutoPromote,
		Deltas: m.deltaStore(), DeltaInterval: cfg.Learner.DeltaInterval, DeltaMaxRows: cfg.Learner.DeltaMaxRows,
		OnDelta: func(d *learner.Delta, oversize bool) {
			result := "sent"
			if oversize {
				result = "oversize"
			}
			m.metrics.DeltasSent.WithLabelValues(d.Model, result).Inc()
		},
		MetricsWindow: cfg.Learner.MetricsWindow, Logger: log, Backend: backend, Batch: cfg.Learner.Batch,
		OnLearn: func(n int) { m.metrics.Learned.WithLabelValues(spec.Name).Add(float64(n)) },
		OnSkip:  func(n int64) { m.metrics.SkippedUpdates.WithLabelValues(spec.Name).Add(float64(n)) },
		OnDuplicate: func(n int) {
			m.metrics.DuplicateExamples.WithLabelValues(spec.Name).Add(float64(n))
		},
		DedupeWindow:     cfg.Learner.DedupeWindow,
		SnapshotInterval: cfg.Learner.Snapshots.Interval, ReportOutcomes: cfg.Learner.Snapshots.ReportOutcomes, Segments: cfg.Drift.Segments,
		Retention: learner.Retention{Hourly: cfg.Learner.Snapshots.KeepHourly, Daily: cfg.Learner.Snapshots.KeepDaily},
		OnPublish: func(v learner.Version) {
			m.metrics.Published.WithLabelValues(v.Model).SetToCurrentTime()
			m.metrics.ProgressiveAUC.WithLabelValues(v.Model).Set(v.Metrics.AUC)
			m.metrics.ProgressiveLL.WithLabelValues(v.Model).Set(v.Metrics.LogLoss)
			if v.Kind != "" { // only retained snapshots are listed, not every move of the live head
				m.writeSnapshot(gctx, v)
			}
		},
		OnReport: func(v learner.Version) { m.writeSnapshot(gctx, v) },
	}
}

// writeSnapshot lists a retained snapshot, and its report when it has one, in ClickHouse. The
// snapshot itself is in the registry; the rows are for analysts.
func (m *Main) writeSnapshot(ctx context.Context, v learner.Version) {
	if m.writer == nil {
		return
	}
	if err := m.writer.AddModelVersions(ctx, modelVersionRow(v)); err != nil {
		m.Logger.Warn("model version not written to clickhouse", "model", v.Model, "version", v.Version, "err", err)
	}
	if v.Report == nil {
		return
	}
	if err := m.writer.AddModelReports(ctx, modelReportRows(v)...); err != nil {
		m.Logger.Warn("model report not written to clickhouse", "model", v.Model, "version", v.Version, "err", err)
	}
}

// startCorrelate runs the correlate role: everything -> ClickHouse drift and performance tables.
func (m *Main) startCorrelate(r *run, st *stages) error {
	if !m.has(RoleCorrelate) {
		return nil
	}
	cfg := m.Config
	for _, kind := range []string{drift.AlertFeatureDrift, drift.AlertPerformance, drift.AlertConceptDrift} {
		m.metrics.DriftAlerts.WithLabelValues(cfg.Model.Name, kind) // exported at 0: the first alert shows in increase()
	}
	mc := cfg.Drift.MonitorConfig()
	mc.Regression = cfg.Model.Task == learner.Regression
	t := cfg.Kafka.Topics
	r.startConsumer("correlate", m.correlateLeased(st.kopts, correlator.Options{
		Producer: m.producer, Writer: m.writer, Redis: m.rdb, KeyBase: cfg.Redis.KeyPrefix, Group: cfg.Kafka.Group + "-correlator",
		Topics:  correlator.Topics{Events: t.Events, Predictions: t.Predictions, Outcomes: t.Outcomes, Examples: t.Examples, Control: t.Control},
		Monitor: mc, Model: cfg.Model.Name, Outcomes: cfg.Model.Task != learner.Multiclass,
		Limits: cfg.Ingest, Flush: cfg.Drift.FlushInterval, Log: m.Logger,
		OnAlert: func(a drift.Alert) {
			m.metrics.DriftAlerts.WithLabelValues(a.Model, a.Kind).Inc()
			m.notifyDrift(a)
		},
		Observe: m.metrics.StageTimer(string(RoleCorrelate), correlator.StageObserve, correlator.StageFlush),
	}))
	return nil
}

// startHTTP runs the http role: the API, the console and the metrics. A process without the http
// role serves only the operations endpoints, on http.ops_addr, or nothing when it is not set.
func (m *Main) startHTTP(r *run, st *stages) (*http.Server, error) {
	if !m.has(RoleHTTP) {
		if m.Config.HTTP.OpsAddr == "" {
			return nil, nil
		}
		return m.serveHTTP(r.g, nil, m.Config.HTTP.OpsAddr)
	}
	cfg := m.Config
	router, err := m.router(r.ctx, st.loader)
	if err != nil {
		return nil, err
	}
	api := &predictor.API{
		Features: st.store, Models: m.models, Registry: m.registry, Router: router, Loader: st.loader,
		Announce: m.announce, Shadow: &shadowLog{client: m.producer, topic: cfg.Kafka.Topics.Predictions, log: m.Logger},
		Limits: cfg.Ingest, MaxBodyBytes: cfg.HTTP.MaxBodyBytes, MaxEvents: cfg.HTTP.MaxEvents, RateLimit: cfg.Predictor.RateLimit,
		OnSnapshot: func(v learner.Version) { m.writeSnapshot(context.WithoutCancel(r.gctx), v) },
	}
	return m.serveHTTP(r.g, api, cfg.HTTP.Addr)
}

// deltaStore is where the models' weight deltas are: the registry, when it keeps them.
func (m *Main) deltaStore() learner.DeltaStore {
	ds, _ := m.registry.(learner.DeltaStore)
	return ds
}

// newestServed remembers the newest version (and weight delta of it) served of each model, so
// that only weights newer than every one before count towards freshness.
type newestServed struct {
	mu      sync.Mutex
	version map[string][2]int64
}

func (n *newestServed) newer(model string, version, delta int64) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.version == nil {
		n.version = map[string][2]int64{}
	}
	if v, ok := n.version[model]; ok && (version < v[0] || version == v[0] && delta <= v[1]) {
		return false
	}
	n.version[model] = [2]int64{version, delta}
	return true
}
