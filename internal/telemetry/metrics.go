// Package telemetry holds the Prometheus metrics of the pipeline, registered on a registry the
// caller passes in (no global registry), and the logger set-up.
package telemetry

import (
	"log/slog"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the pipeline's own metrics.
type Metrics struct {
	Events         prometheus.Counter
	Outcomes       prometheus.Counter
	Invalid        *prometheus.CounterVec
	Predictions    prometheus.Counter
	Examples       prometheus.Counter
	Learned        *prometheus.CounterVec
	ModelVersion   *prometheus.GaugeVec
	ProgressiveAUC *prometheus.GaugeVec
	ProgressiveLL  *prometheus.GaugeVec
	LearnerDevice  *prometheus.GaugeVec
	LateEvents     prometheus.Counter
	HTTPRequests   *prometheus.CounterVec
	HTTPDuration   *prometheus.HistogramVec
	RoleRestarts   *prometheus.CounterVec
	SkippedUpdates *prometheus.CounterVec
	// DuplicateExamples counts copies of examples the learner skipped (learned once).
	DuplicateExamples *prometheus.CounterVec
	DriftAlerts       *prometheus.CounterVec
	Published         *prometheus.GaugeVec
	// StageDuration times each stage's work on one batch, by role and stage (StageTimer).
	StageDuration *prometheus.HistogramVec
	// Freshness is, for each new version (or weight delta) this process starts serving, the time
	// from its newest example's arrival on the examples topic to that moment (ObserveFreshness).
	Freshness *prometheus.HistogramVec
	// DeltasSent counts the learner's weight deltas (result sent, or oversize: held back, the
	// version published early instead); Deltas the deltas a process read to serve (applied,
	// skipped, failed).
	DeltasSent *prometheus.CounterVec
	Deltas     *prometheus.CounterVec
}

// StageBuckets are the buckets of streamlearn_stage_duration_seconds: 50µs to about 26s, a
// factor of 2 apart, for per-batch work from an in-memory scoring loop to a ClickHouse flush.
var StageBuckets = prometheus.ExponentialBuckets(50e-6, 2, 20)

// NewMetrics creates the metrics and registers them on reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Events:   prometheus.NewCounter(prometheus.CounterOpts{Name: "streamlearn_events_total", Help: "Valid events scored from the events topic."}),
		Outcomes: prometheus.NewCounter(prometheus.CounterOpts{Name: "streamlearn_outcomes_total", Help: "Valid outcomes read from the outcomes topic."}),
		Invalid: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "streamlearn_invalid_records_total", Help: "Records sent to the dead-letter topic, by source topic and reason."},
			[]string{"topic", "reason"}),
		Predictions:    prometheus.NewCounter(prometheus.CounterOpts{Name: "streamlearn_predictions_total", Help: "Prediction records produced."}),
		Examples:       prometheus.NewCounter(prometheus.CounterOpts{Name: "streamlearn_examples_joined_total", Help: "Outcomes joined with their predictions into examples."}),
		Learned:        prometheus.NewCounterVec(prometheus.CounterOpts{Name: "streamlearn_examples_learned_total", Help: "Examples learned, by model."}, []string{"model"}),
		ModelVersion:   prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "streamlearn_model_version", Help: "Version serving, by model."}, []string{"model"}),
		ProgressiveAUC: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "streamlearn_progressive_auc", Help: "Progressive-validation AUC over the learner's metrics window."}, []string{"model"}),
		ProgressiveLL:  prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "streamlearn_progressive_logloss", Help: "Progressive-validation logloss over the learner's metrics window."}, []string{"model"}),
		LearnerDevice: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "streamlearn_learner_device", Help: "1 for the device each model trains on (cpu, or cuda with the GPU's name)."},
			[]string{"model", "device"}),
		LateEvents: prometheus.NewCounter(prometheus.CounterOpts{Name: "streamlearn_features_late_events_total", Help: "Events older than the feature store's allowed lateness: scored, not applied."}),
		HTTPRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "streamlearn_http_requests_total", Help: "HTTP requests by route and status code."},
			[]string{"route", "code"}),
		HTTPDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "streamlearn_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .5, 1}}, []string{"route"}),
		RoleRestarts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "streamlearn_role_restarts_total", Help: "Roles restarted after a panic, by role."},
			[]string{"role"}),
		SkippedUpdates: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "streamlearn_learner_skipped_updates_total",
			Help: "Model updates refused because they would have made the model's state non-finite, by model."}, []string{"model"}),
		DuplicateExamples: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "streamlearn_learner_duplicate_examples_total",
			Help: "Copies of examples on the examples topic that the learner skipped, learning each example once, by model."}, []string{"model"}),
		DriftAlerts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "streamlearn_drift_alerts_total",
			Help: "Drift alerts raised by the correlator (each a drift_alerts row and a retrain command), by model and kind."}, []string{"model", "kind"}),
		Published: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "streamlearn_model_published_timestamp_seconds",
			Help: "Unix time of the latest version this process's learner published, by model."}, []string{"model"}),
		StageDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "streamlearn_stage_duration_seconds",
			Help:    "Time a stage spent on one batch, by role (score, join, learn, correlate) and stage (decode, features, score, produce, join, learn, publish, delta, flush).",
			Buckets: StageBuckets}, []string{"role", "stage"}),
		Freshness: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "streamlearn_model_freshness_seconds",
			Help: "For each new version or weight delta this process starts serving, seconds from the arrival of the newest example it learned (its time on the examples topic) " +
				"until it served, by model. The examples first served by a version arrived at most one publish (or delta) interval before that one.",
			Buckets: prometheus.ExponentialBuckets(0.025, 2, 14)}, []string{"model"}),
		DeltasSent: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "streamlearn_learner_deltas_total",
			Help: "Weight deltas of the live version this process's learner took, by model and result: sent, or oversize (too large: not sent, the version is published early instead)."}, []string{"model", "result"}),
		Deltas: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "streamlearn_model_deltas_total",
			Help: "Weight deltas this process read to serve, by model and result: applied, skipped (another version serves, or it is pinned) or failed."}, []string{"model", "result"}),
	}
	if reg != nil {
		reg.MustRegister(m.Events, m.Outcomes, m.Invalid, m.Predictions, m.Examples, m.Learned, m.ModelVersion,
			m.ProgressiveAUC, m.ProgressiveLL, m.LearnerDevice, m.LateEvents, m.HTTPRequests, m.HTTPDuration, m.RoleRestarts, m.SkippedUpdates,
			m.DuplicateExamples, m.DriftAlerts, m.Published, m.StageDuration, m.Freshness, m.DeltasSent, m.Deltas)
	}
	return m
}

// StageTimer returns the observer of one role's stages, for the stages' Observe hooks: the
// stages given are resolved to their series once, so that an observation costs a map lookup and
// no allocation; another stage name is resolved when first seen. Every series given is exported
// from the start (at count 0).
func (m *Metrics) StageTimer(role string, stages ...string) func(stage string, d time.Duration) {
	obs := make(map[string]prometheus.Observer, len(stages))
	for _, s := range stages {
		obs[s] = m.StageDuration.WithLabelValues(role, s)
	}
	return func(stage string, d time.Duration) {
		o, ok := obs[stage]
		if !ok {
			o = m.StageDuration.WithLabelValues(role, stage)
		}
		o.Observe(d.Seconds())
	}
}

// NewLogger returns a logger writing to stderr at level ("debug", "info", "warn", "error") in
// format ("text" or "json").
func NewLogger(level, format string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: l}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

// Sum adds up every series of a counter or gauge family in g (0 when absent).
func Sum(g prometheus.Gatherer, name string) float64 {
	mfs, err := g.Gather()
	if err != nil {
		return 0
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.Metric {
			switch {
			case m.Counter != nil:
				sum += m.Counter.GetValue()
			case m.Gauge != nil:
				sum += m.Gauge.GetValue()
			}
		}
	}
	return sum
}

// ObserveFreshness records that model started serving a version at servedAt whose newest example
// arrived at arrivedTo; an unknown arrival (zero) is not recorded.
func (m *Metrics) ObserveFreshness(model string, arrivedTo, servedAt time.Time) {
	if arrivedTo.IsZero() {
		return
	}
	m.Freshness.WithLabelValues(model).Observe(max(0, servedAt.Sub(arrivedTo).Seconds()))
}
