package chsink

import (
	"context"
	"errors"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
)

// The operations of streamlearn_clickhouse_call_duration_seconds and
// streamlearn_clickhouse_call_errors_total.
const (
	opInsert = "insert" // PrepareBatch to Send: one INSERT
	opSelect = "select" // Query, QueryRow, Select
	opExec   = "exec"   // Exec: DDL and migrations
	opPing   = "ping"   // health checks
)

// callMetrics time the calls the writer (and whoever uses Writer.Conn) makes to ClickHouse.
type callMetrics struct {
	duration *prometheus.HistogramVec
	errors   *prometheus.CounterVec
}

func newCallMetrics() *callMetrics {
	m := &callMetrics{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "streamlearn", Subsystem: "clickhouse", Name: "call_duration_seconds",
			Help:    "Latency of calls to ClickHouse, by operation (insert: one INSERT from prepare to send; select; exec; ping).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"op"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "streamlearn", Subsystem: "clickhouse", Name: "call_errors_total",
			Help: "Calls to ClickHouse that failed, by operation (insert, select, exec, ping).",
		}, []string{"op"}),
	}
	for _, op := range []string{opInsert, opSelect, opExec, opPing} {
		m.duration.WithLabelValues(op)
		m.errors.WithLabelValues(op)
	}
	return m
}

func (m *callMetrics) observe(op string, start time.Time, err error) {
	m.duration.WithLabelValues(op).Observe(time.Since(start).Seconds())
	if err != nil && !errors.Is(err, context.Canceled) {
		m.errors.WithLabelValues(op).Inc()
	}
}

// timedConn is a driver.Conn whose calls are timed and counted by callMetrics.
type timedConn struct {
	driver.Conn
	m *callMetrics
}

var _ driver.Conn = (*timedConn)(nil)

func (c *timedConn) Select(ctx context.Context, dest any, query string, args ...any) error {
	start := time.Now()
	err := c.Conn.Select(ctx, dest, query, args...)
	c.m.observe(opSelect, start, err)
	return err
}

func (c *timedConn) Query(ctx context.Context, query string, args ...any) (driver.Rows, error) {
	start := time.Now()
	rows, err := c.Conn.Query(ctx, query, args...)
	c.m.observe(opSelect, start, err)
	return rows, err
}

func (c *timedConn) QueryRow(ctx context.Context, query string, args ...any) driver.Row {
	start := time.Now()
	row := c.Conn.QueryRow(ctx, query, args...)
	c.m.observe(opSelect, start, row.Err())
	return row
}

func (c *timedConn) Exec(ctx context.Context, query string, args ...any) error {
	start := time.Now()
	err := c.Conn.Exec(ctx, query, args...)
	c.m.observe(opExec, start, err)
	return err
}

func (c *timedConn) Ping(ctx context.Context) error {
	start := time.Now()
	err := c.Conn.Ping(ctx)
	c.m.observe(opPing, start, err)
	return err
}

func (c *timedConn) PrepareBatch(ctx context.Context, query string, opts ...driver.PrepareBatchOption) (driver.Batch, error) {
	start := time.Now()
	b, err := c.Conn.PrepareBatch(ctx, query, opts...)
	if err != nil {
		c.m.observe(opInsert, start, err)
		return nil, err
	}
	return &timedBatch{Batch: b, m: c.m, start: start}, nil
}

// timedBatch observes its INSERT once: at Send, or at an Abort before any Send (an insert given up).
type timedBatch struct {
	driver.Batch
	m     *callMetrics
	start time.Time
	done  bool
}

func (b *timedBatch) Send() error {
	err := b.Batch.Send()
	if !b.done {
		b.done = true
		b.m.observe(opInsert, b.start, err)
	}
	return err
}

func (b *timedBatch) Abort() error {
	if !b.done {
		b.done = true
		b.m.observe(opInsert, b.start, errors.New("insert aborted"))
	}
	return b.Batch.Abort()
}
