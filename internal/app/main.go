// Package app wires streamlearn's parts into one process: the Kafka consumers of each role, Redis,
// ClickHouse, the learner, the predictor and the HTTP server. Main.Run is the whole binary, so
// end-to-end tests run it in-process on port 0.
package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	goredis "github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"

	featredis "github.com/streamlearn/streamlearn/features/redis"
	"github.com/streamlearn/streamlearn/ingest"
	"github.com/streamlearn/streamlearn/internal/config"
	"github.com/streamlearn/streamlearn/internal/kafka"
	"github.com/streamlearn/streamlearn/internal/secrets"
	"github.com/streamlearn/streamlearn/internal/telemetry"
	"github.com/streamlearn/streamlearn/join"
	joinredis "github.com/streamlearn/streamlearn/join/redis"
	"github.com/streamlearn/streamlearn/learner"
	"github.com/streamlearn/streamlearn/learner/cuda"
	learnkafka "github.com/streamlearn/streamlearn/learner/kafka"
	learnredis "github.com/streamlearn/streamlearn/learner/redis"
	"github.com/streamlearn/streamlearn/predictor"
	"github.com/streamlearn/streamlearn/sinks/clickhouse"
	sinkkafka "github.com/streamlearn/streamlearn/sinks/kafka"
	"github.com/streamlearn/streamlearn/wire"
)

// Role is one part of the pipeline a process can run.
type Role string

// The roles. serve runs them all.
const (
	RoleScore     Role = "score"     // events -> features -> predictions (+ pending joins)
	RoleJoin      Role = "join"      // outcomes -> examples
	RoleLearn     Role = "learn"     // examples -> model versions
	RoleCorrelate Role = "correlate" // everything -> ClickHouse drift and performance tables
	RoleHTTP      Role = "http"      // the HTTP API
)

// AllRoles is what serve runs.
var AllRoles = []Role{RoleScore, RoleJoin, RoleLearn, RoleCorrelate, RoleHTTP}

// Main is one streamlearn process.
type Main struct {
	Config config.Config
	Roles  []Role
	Logger *slog.Logger
	// Registry receives the metrics; nil creates a private one (served on /metrics).
	Registry *prometheus.Registry

	// Set once Run has started everything (Ready is closed then).
	HTTPAddr  string
	KafkaAddr string
	Ready     chan struct{}

	metrics    *telemetry.Metrics
	models     *predictor.Models
	registry   learner.Registry
	runner     *learnkafka.Runner
	correlator atomic.Pointer[correlator]
	holder     string // this process in leases
	ready      atomic.Bool
	// lastRetrain is the latest retrain step of any model, for Status.
	lastRetrain atomic.Pointer[learnkafka.RetrainEvent]
	readyOnce   sync.Once

	embedded *kafka.Embedded
	producer *kgo.Client
	rdb      goredis.UniversalClient
	writer   *clickhouse.Writer
}

// New returns a Main for cfg running roles (all when none).
func New(cfg config.Config, roles ...Role) *Main {
	if len(roles) == 0 {
		roles = AllRoles
	}
	return &Main{Config: cfg, Roles: roles, Ready: make(chan struct{})}
}

func (m *Main) has(r Role) bool {
	for _, x := range m.Roles {
		if x == r {
			return true
		}
	}
	return false
}

// Run starts the roles and blocks until ctx ends, then shuts down gracefully: stop intake, finish
// the batches in flight, flush ClickHouse, publish the learner's last version, commit offsets,
// close. It returns nil after a clean shutdown.
func (m *Main) Run(ctx context.Context) (err error) {
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
	log := m.Logger
	m.holder = holderID()
	m.metrics = telemetry.NewMetrics(m.Registry)
	defer m.close()

	if err := m.open(ctx); err != nil {
		return err
	}
	cfg = m.Config // open resolved the embedded broker's address
	kopts, err := cfg.Kafka.ClientOpts()
	if err != nil {
		return err
	}
	prefix := cfg.Redis.KeyPrefix
	registry := learnredis.NewRegistry(m.rdb, prefix)
	m.registry = registry
	store, err := featredis.NewOnline(m.rdb, cfg.Features, featredis.Options{Prefix: prefix, TTL: cfg.Redis.EntityTTL,
		OnLate: func(wire.Event, time.Duration) { m.metrics.LateEvents.Inc() }})
	if err != nil {
		return err
	}
	m.registerStoreStats(store)
	joins := joinredis.NewStore(m.rdb, prefix, cfg.Join.Horizon)
	if cfg.Join.ImplicitLabel != nil {
		joins.WithImplicitLabel(*cfg.Join.ImplicitLabel)
	}
	out := &sinkkafka.Output{Client: m.producer, PredictionsTopic: cfg.Kafka.Topics.Predictions, ExamplesTopic: cfg.Kafka.Topics.Examples}
	m.models = predictor.NewModels()
	loader := &predictor.Loader{
		Registry: m.registry, Models: m.models, Bootstrap: cfg.Model, Logger: log,
		OnSwap: func(s *predictor.Served) { m.metrics.ModelVersion.WithLabelValues(s.Model).Set(float64(s.Version)) },
	}
	if err := loader.Sync(ctx, cfg.Model.Name); err != nil {
		return fmt.Errorf("load model %s: %w", cfg.Model.Name, err)
	}

	g, gctx := errgroup.WithContext(ctx)
	// Background loops that must outlive the consumers (the HTTP server, the model loader) stop on
	// their own context once the consumers have finished.
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBG()
	var consumers sync.WaitGroup
	startConsumer := func(name string, run func(context.Context) error) {
		consumers.Add(1)
		run = m.supervised(name, run)
		g.Go(func() error {
			defer consumers.Done()
			if err := run(gctx); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			return nil
		})
	}

	modelsClient, err := kgo.NewClient(append(append([]kgo.Opt{}, kopts...),
		kgo.ConsumeTopics(cfg.Kafka.Topics.Models), kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()))...)
	if err != nil {
		return fmt.Errorf("models client: %w", err)
	}
	defer modelsClient.Close()
	var modelNames []string
	for _, spec := range cfg.Models() {
		modelNames = append(modelNames, spec.Name)
	}
	g.Go(func() error { return loader.Run(bg, modelsClient, modelNames, 2*time.Second) })

	if m.has(RoleScore) {
		cl, err := m.groupClient(kopts, "score", cfg.Kafka.Topics.Events)
		if err != nil {
			return err
		}
		defer cl.Close()
		router, err := m.router(ctx, loader)
		if err != nil {
			return err
		}
		stream := &predictor.Stream{Features: store, Models: m.models, Router: router, Join: joins, Out: out}
		c := &ingest.Consumer[wire.Event]{
			Client: cl, DLQ: m.producer, DLQTopic: cfg.Kafka.Topics.DeadLetter, Logger: log, Stage: "score", Healthy: m.redisHealthy,
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
		startConsumer("score", c.Run)
	}
	if m.has(RoleJoin) {
		cl, err := m.groupClient(kopts, "join", cfg.Kafka.Topics.Outcomes)
		if err != nil {
			return err
		}
		defer cl.Close()
		joined := func(n int) { m.metrics.Examples.Add(float64(n)) }
		outcomes := &join.Outcomes{Store: joins, Out: out, Joined: joined}
		c := &ingest.Consumer[wire.Outcome]{
			Client: cl, DLQ: m.producer, DLQTopic: cfg.Kafka.Topics.DeadLetter, Logger: log, Stage: "join", Healthy: m.redisHealthy,
			Decode: func(b []byte, now time.Time) (wire.Outcome, error) { return ingest.DecodeOutcome(b, now, cfg.Ingest) },
			Handle: func(ctx context.Context, os []wire.Outcome, _ []*kgo.Record) error { return outcomes.Handle(ctx, os) },
			OnInvalid: func(r ingest.Reason) {
				m.metrics.Invalid.WithLabelValues(cfg.Kafka.Topics.Outcomes, string(r)).Inc()
			},
			OnBatch: func(valid, _ int) { m.metrics.Outcomes.Add(float64(valid)) },
		}
		startConsumer("join", c.Run)
		if cfg.Join.ImplicitLabel != nil {
			implicit := &join.Implicit{Store: joins, Out: out, Interval: cfg.Join.SweepInterval, Joined: joined, Logger: log}
			startConsumer("implicit labels", implicit.Run)
		}
	}
	if m.has(RoleLearn) {
		devices, err := cuda.NewSelector(cfg.Learner.Device, cuda.Workload{Batch: cfg.Learner.Batch, Active: cfg.Learner.ActiveInputs})
		if err != nil {
			return err
		}
		// Deferred after g.Wait: the runners have closed their models by then.
		defer devices.Close()
		for _, spec := range cfg.Models() {
			backend, why := devices.For(learner.ShapeOf(spec, 1))
			log.Info("learner device", "model", spec.Name, "device", why)
			device := "cpu"
			if g, ok := backend.(*cuda.Backend); ok {
				device = "cuda:" + g.Device().Name
			}
			m.metrics.LearnerDevice.WithLabelValues(spec.Name, device).Set(1)
			runner := &learnkafka.Runner{
				Retrain: cfg.Learner.Retrain,
				OnRetrain: func(ev learnkafka.RetrainEvent) {
					m.lastRetrain.Store(&ev)
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
				MetricsWindow: cfg.Learner.MetricsWindow, Logger: log, Backend: backend, Batch: cfg.Learner.Batch,
				OnLearn: func(n int) { m.metrics.Learned.WithLabelValues(spec.Name).Add(float64(n)) },
				OnSkip:  func(n int64) { m.metrics.SkippedUpdates.WithLabelValues(spec.Name).Add(float64(n)) },
				OnPublish: func(v learner.Version) {
					m.metrics.ProgressiveAUC.WithLabelValues(v.Model).Set(v.Metrics.AUC)
					m.metrics.ProgressiveLL.WithLabelValues(v.Model).Set(v.Metrics.LogLoss)
					if m.writer == nil {
						return
					}
					// The version itself is in the registry; the row only lists it for analysts.
					if err := m.writer.AddModelVersions(gctx, modelVersionRow(v)); err != nil {
						log.Warn("model version not written to clickhouse", "model", v.Model, "version", v.Version, "err", err)
					}
				},
			}
			if spec.Name == cfg.Model.Name {
				m.runner = runner
			}
			startConsumer("learn "+spec.Name, m.learnLeased(kopts, runner, registry.LeaseKey(spec.Name)))
		}
	}
	if m.has(RoleCorrelate) {
		t := cfg.Kafka.Topics
		mc := cfg.Drift.MonitorConfig()
		mc.Regression = cfg.Model.Task == learner.Regression
		startConsumer("correlate", m.correlateLeased(kopts, correlatorDeps{
			Producer: m.producer, Writer: m.writer, Redis: m.rdb, KeyBase: prefix, Group: cfg.Kafka.Group + "-correlator",
			Monitor: mc, Topics: t, Model: cfg.Model.Name, Outcomes: cfg.Model.Task != learner.Multiclass,
			Limits: cfg.Ingest, Flush: cfg.Drift.FlushInterval, Log: log,
		}))
	}
	if m.writer != nil {
		// The writer's own flusher keeps rows moving while a consumer is blocked in Add at the
		// buffer bound (a long ClickHouse outage); consumers still flush before they commit.
		g.Go(func() error { return m.writer.Run(bg) })
	}

	var srv *http.Server
	if m.has(RoleHTTP) {
		router, err := m.router(ctx, loader)
		if err != nil {
			return err
		}
		api := &predictor.API{
			Features: store, Models: m.models, Registry: m.registry, Router: router, Loader: loader,
			Announce: m.announce, Shadow: &shadowLog{client: m.producer, topic: cfg.Kafka.Topics.Predictions, log: log},
			Limits: cfg.Ingest, MaxBodyBytes: cfg.HTTP.MaxBodyBytes, MaxEvents: cfg.HTTP.MaxEvents, RateLimit: cfg.Predictor.RateLimit,
		}
		srv, err = m.serveHTTP(g, api)
		if err != nil {
			return err
		}
	}

	m.ready.Store(true)
	m.readyOnce.Do(func() { close(m.Ready) })
	log.Info("streamlearn running", "roles", m.Roles, "kafka", strings.Join(cfg.Kafka.SeedBrokers(), ","), "http", m.HTTPAddr)

	// Shutdown sequence: when ctx ends the consumers finish their batches and return; then the
	// HTTP server drains and the background loops stop.
	g.Go(func() error {
		<-gctx.Done()
		m.ready.Store(false)
		consumers.Wait()
		if srv != nil {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
		}
		stopBG()
		return nil
	})
	err = g.Wait()
	if err == nil {
		log.Info("streamlearn stopped cleanly")
	}
	return err
}

// open starts or connects to Kafka, Redis and ClickHouse.
func (m *Main) open(ctx context.Context) error {
	cfg := &m.Config
	if cfg.Kafka.Embedded != "" {
		e, err := kafka.StartEmbedded(cfg.Kafka.Embedded, cfg.Kafka.EmbeddedDataDir, cfg.Kafka.Partitions, cfg.Kafka.Topics.All()...)
		if err != nil {
			return err
		}
		m.embedded = e
		cfg.Kafka.Embedded = e.Addr()
	}
	m.KafkaAddr = strings.Join(cfg.Kafka.SeedBrokers(), ",")
	kopts, err := cfg.Kafka.ClientOpts()
	if err != nil {
		return err
	}
	m.producer, err = kgo.NewClient(append(append([]kgo.Opt{}, kopts...), cfg.Kafka.ProducerOpts()...)...)
	if err != nil {
		return fmt.Errorf("kafka producer: %w", err)
	}
	tctx, cancel := withTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := kafka.EnsureTopics(tctx, m.producer, cfg.Kafka.Partitions, cfg.Kafka.ReplicationFactor, cfg.Kafka.Topics.All()...); err != nil {
		return fmt.Errorf("kafka at %s: %w", m.KafkaAddr, err)
	}

	if m.rdb, err = RedisClient(cfg.Redis); err != nil {
		return err
	}
	if err := m.rdb.Ping(tctx).Err(); err != nil {
		return fmt.Errorf("redis at %s: %w", cfg.Redis.Addr, err)
	}
	if m.has(RoleCorrelate) || m.has(RoleLearn) {
		if m.writer, err = clickhouse.Open(tctx, cfg.ClickHouse, m.Logger, m.Registry); err != nil {
			return err
		}
	}
	return nil
}

func (m *Main) close() {
	if m.writer != nil {
		if err := m.writer.Close(); err != nil {
			m.Logger.Warn("close clickhouse", "err", err)
		}
	}
	if m.producer != nil {
		fctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = m.producer.Flush(fctx)
		cancel()
		m.producer.Close()
	}
	if m.rdb != nil {
		m.rdb.Close()
	}
	if m.embedded != nil {
		m.embedded.Close()
	}
}

// redisHealthy checks that Redis takes writes, for the consumers to tell a record's failure from a
// dependency's: a write, not a PING, since a Redis at maxmemory or a read-only replica answers
// PING but refuses what the handlers do.
func (m *Main) redisHealthy(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return m.rdb.Set(ctx, m.Config.Redis.KeyPrefix+"health:"+m.holder, time.Now().UnixMilli(), 10*time.Second).Err()
}

// groupClient returns a consumer in the role's group that commits only what the role says is done.
func (m *Main) groupClient(base []kgo.Opt, role string, topics ...string) (*kgo.Client, error) {
	opts := append(append([]kgo.Opt{}, base...),
		kgo.ConsumerGroup(m.Config.Kafka.Group+"-"+role),
		kgo.ConsumeTopics(topics...),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(100*time.Millisecond),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("%s consumer: %w", role, err)
	}
	return cl, nil
}

// RedisClient returns a client for the configured Redis server or cluster.
func RedisClient(c config.Redis) (goredis.UniversalClient, error) {
	pass := c.Password
	if c.PasswordFile != "" {
		var err error
		if pass, err = secrets.ReadFile(c.PasswordFile); err != nil {
			return nil, fmt.Errorf("redis password_file: %w", err)
		}
	}
	var tc *tls.Config
	if c.TLS {
		var err error
		if tc, err = secrets.ClientTLS(secrets.TLSFiles{CAFile: c.TLSCAFile}); err != nil {
			return nil, fmt.Errorf("redis tls: %w", err)
		}
	}
	if len(c.Addrs) > 0 {
		return goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: c.Addrs, Username: c.Username, Password: pass, TLSConfig: tc, PoolSize: c.PoolSize}), nil
	}
	return goredis.NewClient(&goredis.Options{Addr: c.Addr, Username: c.Username, Password: pass, DB: c.DB, TLSConfig: tc, PoolSize: c.PoolSize}), nil
}

func modelVersionRow(v learner.Version) clickhouse.ModelVersionRow {
	spec, _ := jsonString(v.Spec)
	return clickhouse.ModelVersionRow{
		Time: v.CreatedAt, Model: v.Model, Version: v.Version, Parent: v.Parent, Spec: spec,
		ExamplesFrom: v.From, ExamplesTo: v.To, Examples: v.Examples, AUC: v.Metrics.AUC, LogLoss: v.Metrics.LogLoss, Status: v.Note,
	}
}

func retrainEventRow(ev learnkafka.RetrainEvent) clickhouse.RetrainEventRow {
	return clickhouse.RetrainEventRow{
		Time: ev.Time, Model: ev.Model, Step: ev.Step, Reason: ev.Reason, EventID: ev.AlertID,
		ChampionVersion: ev.ChampionVersion, ChallengerVersion: ev.ChallengerVersion,
		ChampionMetric: ev.ChampionMetric, ChallengerMetric: ev.ChallengerMetric,
	}
}

// serveHTTP starts the API server in g and returns it.
func (m *Main) serveHTTP(g *errgroup.Group, api *predictor.API) (*http.Server, error) {
	cfg := m.Config.HTTP
	tokens, err := authTokens(cfg)
	if err != nil {
		return nil, err
	}
	if rl := m.Config.Predictor.RateLimit; len(tokens) == 0 && rl.PerSecond > 0 && rl.By == predictor.ClientByToken {
		m.Logger.Warn("predictor.rate_limit.by is token but no http.auth_token is set: clients are limited by address")
	}
	ready := newReadiness(m.Logger, m.components()...)
	mux := http.NewServeMux()
	api.Register(mux)
	m.registerOps(mux, ready)
	handler, err := guard(cfg, tokens, mux)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("http listen %s: %w", cfg.Addr, err)
	}
	m.HTTPAddr = ln.Addr().String()
	srv := &http.Server{
		Handler: instrument(m.metrics, handler), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: cfg.WriteTimeout, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: cfg.MaxHeaderBytes,
	}
	readyCtx, stopReady := context.WithCancel(context.Background())
	srv.RegisterOnShutdown(stopReady)
	ready.refresh(readyCtx)
	g.Go(func() error { ready.run(readyCtx); return nil })
	g.Go(func() error {
		var err error
		if cfg.TLSCertFile != "" {
			err = srv.ServeTLS(ln, cfg.TLSCertFile, cfg.TLSKeyFile)
		} else {
			err = srv.Serve(ln)
		}
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	})
	return srv, nil
}

// withTimeout is context.WithTimeout without a deadline on the context: clickhouse-go turns a
// deadline into a max_execution_time setting, and ClickHouse 18.16 (older than settings sent as
// strings) hangs on any setting sent with an INSERT. Cancellation alone reaches the driver fine.
func withTimeout(parent context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(parent)
	t := time.AfterFunc(d, cancel)
	return ctx, func() { t.Stop(); cancel() }
}

// The adapters fit the stages' interfaces (checked here, in the wiring, so that sinks import no stage).
var (
	_ predictor.Output = (*sinkkafka.Output)(nil)
	_ join.Output      = (*sinkkafka.Output)(nil)
	_ predictor.Joins  = (*joinredis.Store)(nil)
)
