package app

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/streamlearn/streamlearn/internal/console"
	"github.com/streamlearn/streamlearn/internal/telemetry"
	"github.com/streamlearn/streamlearn/predictor"
)

// openAPI is the OpenAPI 3 description of the API server's routes, served at /openapi.json.
// TestOpenAPIMatchesRoutes keeps its paths and methods equal to the registered patterns and its
// schemas' properties equal to the JSON fields of the types they describe.
//
//go:embed openapi.json
var openAPI []byte

// routeMux is a ServeMux that records the patterns registered on it, in order.
type routeMux struct {
	*http.ServeMux
	patterns []string
}

func newRouteMux() *routeMux { return &routeMux{ServeMux: http.NewServeMux()} }

func (r *routeMux) Handle(pattern string, h http.Handler) {
	r.patterns = append(r.patterns, pattern)
	r.ServeMux.Handle(pattern, h)
}

func (r *routeMux) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	r.Handle(pattern, http.HandlerFunc(h))
}

// Routes returns the patterns ("GET /v1/models") the HTTP server (http.addr, else
// http.ops_addr) serves, in the order they were registered; nil before it starts.
func (m *Main) Routes() []string { return append([]string(nil), m.routes...) }

// registerOps adds /metrics, /healthz, /readyz and /v1/status, and /openapi.json where the API is
// served (the document describes the API server).
func (m *Main) registerOps(mux *routeMux, ready *readiness, api bool) {
	if api {
		mux.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(openAPI)
		})
	}
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		predictor.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		problems := ready.problems()
		if !m.ready.Load() {
			problems = append([]string{"process"}, problems...)
		}
		if len(problems) > 0 {
			predictor.WriteJSON(w, http.StatusServiceUnavailable, readyBody{Status: "not ready", Problems: problems})
			return
		}
		predictor.WriteJSON(w, http.StatusOK, readyBody{Status: "ready"})
	})
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		predictor.WriteJSON(w, http.StatusOK, m.Status())
	})
}

// console returns the web console of the API server: it samples this process's metrics, reads
// ClickHouse where this process writes to it (the correlate or learn role) and the dead-letter topic.
func (m *Main) console(auth bool) (*console.Console, error) {
	kopts, err := m.Config.Kafka.ClientOpts()
	if err != nil {
		return nil, err
	}
	opts := console.Options{
		Gatherer: m.Registry, Kafka: m.producer, KafkaOpts: kopts, DeadLetterTopic: m.Config.Kafka.Topics.DeadLetter,
		Model: m.Config.Model.Name, AuthRequired: auth, Logger: m.Logger,
	}
	if m.writer != nil {
		opts.ClickHouse, opts.Database = m.writer.Conn(), m.writer.Database()
	}
	return console.New(opts), nil
}

// readyBody is the answer of /readyz. Problems names what keeps the process from being ready:
// "process" (starting or stopping), "redis", "kafka" or "clickhouse".
type readyBody struct {
	Status   string   `json:"status"`
	Problems []string `json:"problems,omitempty"`
}

// Status is a summary of what the process is doing, for people and the demo's screen.
type Status struct {
	Model          string    `json:"model"`
	ServingVersion int64     `json:"serving_version"`
	LearnedVersion int64     `json:"learned_version"`
	ProgressiveAUC float64   `json:"progressive_auc"`
	ProgressiveLL  float64   `json:"progressive_logloss"`
	MetricsN       int64     `json:"metrics_n"`
	DriftWindow    time.Time `json:"drift_window,omitempty"`
	Drifted        []string  `json:"drifted_features"`
	MaxPSI         float64   `json:"max_psi"`
	WindowAUC      float64   `json:"window_auc"`
	DriftRows      int64     `json:"drift_rows"`
	// Retrain is the latest retrain step ("" before any): step, model and reason.
	Retrain string `json:"retrain,omitempty"`
}

// Status returns the process's current summary.
func (m *Main) Status() Status {
	s := Status{Model: m.Config.Model.Name, Drifted: []string{}}
	if m.models != nil {
		if sv := m.models.Get(s.Model); sv != nil {
			s.ServingVersion = sv.Version
		}
	}
	if m.runner != nil {
		rs := m.runner.Status()
		s.LearnedVersion, s.ProgressiveAUC, s.ProgressiveLL, s.MetricsN = rs.Version, rs.Metrics.AUC, rs.Metrics.LogLoss, rs.Metrics.N
	}
	if ev := m.lastRetrain.Load(); ev != nil {
		s.Retrain = fmt.Sprintf("%s %s (%s): %s", ev.Model, ev.Step, ev.AlertID, ev.Reason)
	}
	if c := m.correlator.Load(); c != nil {
		ds := c.Status()
		s.DriftWindow, s.MaxPSI, s.WindowAUC, s.DriftRows = ds.WindowStart, ds.MaxPSI, ds.WindowAUC, ds.Rows
		s.Drifted = append(s.Drifted, ds.DriftedFeatures...)
	}
	return s
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}

// instrument counts requests and times them by route pattern.
func instrument(mt *telemetry.Metrics, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(rec, r)
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		mt.HTTPRequests.WithLabelValues(route, strconv.Itoa(rec.code)).Inc()
		mt.HTTPDuration.WithLabelValues(route).Observe(time.Since(start).Seconds())
	})
}

func jsonString(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}
