package chsink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/streamlearn/streamlearn/wire"
)

// Writer buffers rows and writes them to ClickHouse. Its methods are safe for concurrent use.
type Writer struct {
	cfg     Config
	conn    driver.Conn
	logger  *slog.Logger
	metrics *metrics

	mu       sync.Mutex
	room     *sync.Cond // broadcast when buffered drops or the Writer closes
	buffered int        // rows of all tables not written yet, pending and inflight
	closed   bool

	flushing chan struct{} // holds a token while a flush runs: flushes run one at a time
	kick     chan struct{} // tells Run that BatchRows are buffered

	predictions   *table[wire.PredictionRow]
	outcomes      *table[wire.OutcomeRow]
	featureDrift  *table[wire.FeatureDriftRow]
	performance   *table[wire.PerformanceRow]
	driftAlerts   *table[wire.DriftAlertRow]
	retrainEvents *table[wire.RetrainEventRow]
	modelVersions *table[wire.ModelVersionRow]
	modelReports  *table[wire.ModelReportRow]
	tables        []buffer

	closeOnce sync.Once
	closeErr  error
}

// Open connects to ClickHouse, creates the database and migrates its tables. Zero fields of cfg take
// their defaults. A nil logger means slog.Default(), a nil reg registers no metrics. The Writer
// writes only when Flush is called, by the caller or by Run.
func Open(ctx context.Context, cfg Config, logger *slog.Logger, reg prometheus.Registerer) (*Writer, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("open clickhouse: %w", err)
	}
	if logger == nil {
		logger = slog.Default()
	}
	dial, err := dialer(cfg)
	if err != nil {
		return nil, fmt.Errorf("open clickhouse: %w", err)
	}
	raw, err := dial(ctx, cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("open clickhouse: %w", err)
	}
	// Every call from here on is timed, the migrations' included.
	conn := &timedConn{Conn: raw, m: newCallMetrics()}
	sc := schema{db: cfg.Database, cluster: cfg.Cluster, replicated: cfg.Replicated}
	if sc.cluster == "" {
		err = migrateHost(ctx, conn, sc, logger)
	} else {
		err = migrateCluster(ctx, conn, sc, dial, logger)
	}
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("open clickhouse: %w", err)
	}
	w := newWriter(cfg, conn, logger)
	if err := w.metrics.register(reg); err != nil {
		conn.Close()
		return nil, fmt.Errorf("open clickhouse: %w", err)
	}
	attrs := []any{"config", cfg}
	if v, err := conn.ServerVersion(); err == nil {
		attrs = append(attrs, "server_version", v.String())
	}
	logger.Info("clickhouse writer open", attrs...)
	return w, nil
}

// dialer returns a function that connects to addrs with cfg's credentials and settings and pings.
func dialer(cfg Config) (func(ctx context.Context, addrs []string) (driver.Conn, error), error) {
	tlsConfig, err := cfg.tlsConfig()
	if err != nil {
		return nil, err
	}
	password, err := cfg.password()
	if err != nil {
		return nil, err
	}
	var settings clickhouse.Settings
	if cfg.Cluster != "" {
		// An INSERT into a Distributed table returns once every shard has its rows, so that
		// offsets are committed after the rows are durable where they belong.
		settings = clickhouse.Settings{"insert_distributed_sync": 1}
	}
	return func(ctx context.Context, addrs []string) (driver.Conn, error) {
		conn, err := clickhouse.Open(&clickhouse.Options{
			Protocol:    clickhouse.Native, // 18.16 rejects the driver's HTTP protocol
			Addr:        addrs,
			Auth:        clickhouse.Auth{Username: cfg.Username, Password: password},
			TLS:         tlsConfig,
			DialTimeout: cfg.DialTimeout,
			Settings:    settings,
			Compression: &clickhouse.Compression{Method: clickhouse.CompressionLZ4},
			ClientInfo:  clickhouse.ClientInfo{Products: []struct{ Name, Version string }{{Name: "streamlearn"}}},
		})
		if err != nil {
			return nil, err
		}
		if err := conn.Ping(ctx); err != nil {
			conn.Close()
			return nil, fmt.Errorf("ping %v: %w", addrs, err)
		}
		return conn, nil
	}, nil
}

func newWriter(cfg Config, conn *timedConn, logger *slog.Logger) *Writer {
	db := cfg.Database
	w := &Writer{
		cfg:      cfg,
		conn:     conn,
		logger:   logger,
		flushing: make(chan struct{}, 1),
		kick:     make(chan struct{}, 1),

		predictions: newTable(db, TablePredictions, predictionColumns, predictionPartition, nil),
		outcomes:    newTable(db, TableOutcomes, outcomeColumns, outcomePartition, nil),
		featureDrift: newTable(db, TableFeatureDrift, featureDriftColumns, featureDriftPartition,
			func(r *wire.FeatureDriftRow) { r.Updated = stamp(r.Updated) }),
		performance: newTable(db, TableModelPerformance, performanceColumns, performancePartition,
			func(r *wire.PerformanceRow) { r.Updated = stamp(r.Updated) }),
		driftAlerts: newTable(db, TableDriftAlerts, driftAlertColumns, driftAlertPartition,
			func(r *wire.DriftAlertRow) { r.Features = slices.Clone(r.Features) }), // the caller may reuse its slice
		retrainEvents: newTable(db, TableRetrainEvents, retrainEventColumns, retrainEventPartition, nil),
		modelVersions: newTable(db, TableModelVersions, modelVersionColumns, nil,
			func(r *wire.ModelVersionRow) {
				if r.Updated.IsZero() {
					r.Updated = r.Time
				}
				r.Tags = slices.Clone(r.Tags)
			}),
		modelReports: newTable(db, TableModelReports, modelReportColumns, nil,
			func(r *wire.ModelReportRow) { r.Updated = stamp(r.Updated) }),
	}
	w.room = sync.NewCond(&w.mu)
	w.tables = []buffer{w.predictions, w.outcomes, w.featureDrift, w.performance, w.driftAlerts, w.retrainEvents, w.modelVersions, w.modelReports}
	w.metrics = newMetrics(w, conn.m)
	return w
}

// stamp gives a row without a version time the current one.
func stamp(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now()
	}
	return t
}

// Ping checks that ClickHouse answers.
func (w *Writer) Ping(ctx context.Context) error {
	if err := w.conn.Ping(ctx); err != nil {
		return fmt.Errorf("ping clickhouse: %w", err)
	}
	return nil
}

// Conn returns the connection pool, for queries.
func (w *Writer) Conn() driver.Conn { return w.conn }

// Database returns the database that holds the tables.
func (w *Writer) Database() string { return w.cfg.Database }

// Close flushes the buffered rows, waiting at most Config.CloseTimeout, and closes the connections.
// Rows still buffered then are lost, and the error says how many. End Run first; after Close, Add
// and Flush return ErrClosed, and an Add waiting for room returns it at once.
func (w *Writer) Close() error {
	w.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), w.cfg.CloseTimeout)
		defer cancel()
		var errs []error
		if err := w.Flush(ctx); err != nil {
			errs = append(errs, fmt.Errorf("close clickhouse: %d rows not written: %w", w.Buffered(), err))
		}
		w.mu.Lock()
		w.closed = true
		w.room.Broadcast()
		w.mu.Unlock()
		if err := w.conn.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close clickhouse: %w", err))
		}
		w.closeErr = errors.Join(errs...)
	})
	return w.closeErr
}
