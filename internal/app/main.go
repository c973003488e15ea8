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
	goredis "github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"

	"github.com/streamlearn/streamlearn/drift/correlator"
	"github.com/streamlearn/streamlearn/internal/alerting"
	"github.com/streamlearn/streamlearn/internal/config"
	"github.com/streamlearn/streamlearn/internal/console"
	"github.com/streamlearn/streamlearn/internal/kafkaclient"
	"github.com/streamlearn/streamlearn/internal/secrets"
	"github.com/streamlearn/streamlearn/internal/telemetry"
	"github.com/streamlearn/streamlearn/join"
	"github.com/streamlearn/streamlearn/join/joinstore"
	"github.com/streamlearn/streamlearn/learner"
	"github.com/streamlearn/streamlearn/learner/runner"
	"github.com/streamlearn/streamlearn/predictor"
	"github.com/streamlearn/streamlearn/sinks/chsink"
	"github.com/streamlearn/streamlearn/sinks/kafkasink"
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
	runner     *runner.Runner
	correlator atomic.Pointer[correlator.Correlator]
	holder     string   // this process in leases
	routes     []string // the HTTP server's patterns (Routes)
	ready      atomic.Bool
	// lastRetrain is the latest retrain step of any model, for Status.
	lastRetrain atomic.Pointer[runner.RetrainEvent]
	readyOnce   sync.Once

	embedded *kafkaclient.Embedded
	producer *kgo.Client
	lag      *kafkaclient.LagCollector // the consumer groups' lag, on /metrics
	rdb      goredis.UniversalClient
	writer   *chsink.Writer
	webhook  *alerting.Webhook // nil: no alerts.webhook_url
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

// open starts or connects to Kafka, Redis and ClickHouse.
func (m *Main) open(ctx context.Context) error {
	cfg := &m.Config
	if cfg.Kafka.Embedded != "" {
		e, err := kafkaclient.StartEmbedded(cfg.Kafka.Embedded, cfg.Kafka.EmbeddedDataDir, cfg.Kafka.Partitions, cfg.Kafka.Topics.All()...)
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
	m.lag = kafkaclient.NewLagCollector(m.producer, m.Logger)
	m.Registry.MustRegister(m.lag)
	tctx, cancel := withTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := kafkaclient.EnsureTopics(tctx, m.producer, cfg.Kafka.Partitions, cfg.Kafka.ReplicationFactor, cfg.Kafka.Topics.All()...); err != nil {
		return fmt.Errorf("kafka at %s: %w", m.KafkaAddr, err)
	}

	if m.rdb, err = RedisClient(cfg.Redis); err != nil {
		return err
	}
	m.rdb.AddHook(telemetry.NewRedisHook(m.Registry))
	if err := m.rdb.Ping(tctx).Err(); err != nil {
		return fmt.Errorf("redis at %s: %w", cfg.Redis.Addr, err)
	}
	if m.has(RoleCorrelate) || m.has(RoleLearn) {
		if m.writer, err = chsink.Open(tctx, cfg.ClickHouse, m.Logger, m.Registry); err != nil {
			return err
		}
	}
	return m.openWebhook()
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
	group := m.Config.Kafka.Group + "-" + role
	opts := append(append(append([]kgo.Opt{}, base...), m.Config.Kafka.GroupOpts()...),
		kgo.ConsumerGroup(group),
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
	if m.lag != nil {
		m.lag.Watch(group)
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

func modelVersionRow(v learner.Version) wire.ModelVersionRow {
	spec, _ := jsonString(v.Spec)
	offsets, _ := jsonString(v.Offsets)
	return wire.ModelVersionRow{
		Time: v.CreatedAt, Model: v.Model, Version: v.Version, Parent: v.Parent, Spec: spec,
		ExamplesFrom: v.From, ExamplesTo: v.To, Examples: v.Examples, AUC: v.Metrics.AUC, LogLoss: v.Metrics.LogLoss, Status: v.Note,
		Kind: v.Kind, Tags: v.Tags, Binary: v.Binary, Offsets: offsets,
		// A later row (tags, the report) replaces the first.
		Updated: time.Now(),
	}
}

// modelReportRows are the figures of a snapshot's report, one a row.
func modelReportRows(v learner.Version) []wire.ModelReportRow {
	rep := v.Report
	row := func(section, key string, n int64, value, aux float64) wire.ModelReportRow {
		return wire.ModelReportRow{Time: v.CreatedAt, Model: v.Model, Version: v.Version, Section: section, Key: key, N: n, Value: value, Aux: aux}
	}
	p := rep.Progressive
	rows := []wire.ModelReportRow{row("progressive", "auc", p.N, p.AUC, 0), row("progressive", "logloss", p.N, p.LogLoss, 0)}
	if h := rep.HeldOut; h != nil {
		rows = append(rows, row("held_out", "auc", h.N, h.AUC, 0), row("held_out", "logloss", h.N, h.LogLoss, 0), row("held_out", "brier", h.N, h.Brier, 0))
	}
	for _, sg := range rep.Segments {
		rows = append(rows, row("segment_auc", sg.Segment, sg.N, sg.AUC, 0), row("segment_logloss", sg.Segment, sg.N, sg.LogLoss, 0))
	}
	for _, b := range rep.Calibration {
		rows = append(rows, row("calibration", fmt.Sprintf("%.2f-%.2f", b.Lo, b.Hi), b.N, b.MeanScore, b.MeanLabel))
	}
	for _, w := range rep.TopWeights {
		rows = append(rows, row("weights", w.Feature, 0, w.Weight, 0))
	}
	return rows
}

func retrainEventRow(ev runner.RetrainEvent) wire.RetrainEventRow {
	return wire.RetrainEventRow{
		Time: ev.Time, Model: ev.Model, Step: ev.Step, Reason: ev.Reason, EventID: ev.AlertID,
		ChampionVersion: ev.ChampionVersion, ChallengerVersion: ev.ChallengerVersion,
		ChampionMetric: ev.ChampionMetric, ChallengerMetric: ev.ChallengerMetric,
	}
}

// serveHTTP starts the API server on addr in g and returns it; with a nil api it serves only
// /metrics, /healthz, /readyz and /v1/status (http.ops_addr).
func (m *Main) serveHTTP(g *errgroup.Group, api *predictor.API, addr string) (*http.Server, error) {
	cfg := m.Config.HTTP
	tokens, err := authTokens(cfg)
	if err != nil {
		return nil, err
	}
	if rl := m.Config.Predictor.RateLimit; len(tokens) == 0 && rl.PerSecond > 0 && rl.By == predictor.ClientByToken {
		m.Logger.Warn("predictor.rate_limit.by is token but no http.auth_token is set: clients are limited by address")
	}
	ready := newReadiness(m.Logger, m.components()...)
	mux := newRouteMux()
	var cons *console.Console
	if api != nil {
		api.Register(mux)
		if cons, err = m.console(len(tokens) > 0); err != nil {
			return nil, err
		}
		cons.Register(mux)
	}
	m.registerOps(mux, ready, api != nil)
	m.routes = mux.patterns
	handler, err := guard(cfg, tokens, mux.ServeMux)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("http listen %s: %w", addr, err)
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
	if cons != nil {
		g.Go(func() error { return cons.Run(readyCtx) })
	}
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
	_ predictor.Output = (*kafkasink.Output)(nil)
	_ join.Output      = (*kafkasink.Output)(nil)
	_ predictor.Joins  = (*joinstore.Store)(nil)
)
