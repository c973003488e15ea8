package chsink

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	rowsWritten   *prometheus.CounterVec
	inserts       *prometheus.CounterVec
	flushErrors   *prometheus.CounterVec
	flushDuration prometheus.Histogram
	buffered      prometheus.GaugeFunc
	maxBuffered   prometheus.GaugeFunc
	calls         *callMetrics
}

func newMetrics(w *Writer, calls *callMetrics) *metrics {
	return &metrics{
		calls: calls,
		rowsWritten: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "streamlearn", Subsystem: "clickhouse", Name: "rows_written_total",
			Help: "Rows written to ClickHouse, by table (a retried batch counts again).",
		}, []string{"table"}),
		inserts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "streamlearn", Subsystem: "clickhouse", Name: "inserts_total",
			Help: "Successful INSERTs, by table.",
		}, []string{"table"}),
		flushErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "streamlearn", Subsystem: "clickhouse", Name: "flush_errors_total",
			Help: "Failed INSERT attempts, by table.",
		}, []string{"table"}),
		flushDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "streamlearn", Subsystem: "clickhouse", Name: "flush_duration_seconds",
			Help:    "Duration of flushes that wrote rows, retries included.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
		}),
		buffered: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "streamlearn", Subsystem: "clickhouse", Name: "buffered_rows",
			Help: "Rows held in memory, not yet written to ClickHouse.",
		}, func() float64 { return float64(w.Buffered()) }),
		maxBuffered: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "streamlearn", Subsystem: "clickhouse", Name: "max_buffered_rows",
			Help: "clickhouse.max_buffered_rows: at this many buffered rows, adding rows waits for a flush (back-pressure).",
		}, func() float64 { return float64(w.cfg.MaxBufferedRows) }),
	}
}

func (m *metrics) register(reg prometheus.Registerer) error {
	if reg == nil {
		return nil
	}
	// Every table's counters are exported at 0 from the start, so that increase() sees the first error.
	for _, t := range createdTables() {
		if t == TableSchemaMigrations {
			continue
		}
		m.rowsWritten.WithLabelValues(t)
		m.inserts.WithLabelValues(t)
		m.flushErrors.WithLabelValues(t)
	}
	for _, c := range []prometheus.Collector{m.rowsWritten, m.inserts, m.flushErrors, m.flushDuration, m.buffered, m.maxBuffered, m.calls.duration, m.calls.errors} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("register clickhouse metrics: %w", err)
		}
	}
	return nil
}
