package app

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/streamlearn/streamlearn/internal/kafka"
	"github.com/streamlearn/streamlearn/internal/telemetry"
	"github.com/streamlearn/streamlearn/predictor"
)

// registerOps adds /metrics, /healthz, /readyz and /v1/status.
func (m *Main) registerOps(mux *http.ServeMux) {
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		predictor.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if problems := m.checkReady(r.Context()); len(problems) > 0 {
			predictor.WriteJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "not ready", "problems": problems})
			return
		}
		predictor.WriteJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		predictor.WriteJSON(w, http.StatusOK, m.Status())
	})
}

// checkReady returns what keeps the process from being ready: starting or stopping, or a
// dependency that does not answer.
func (m *Main) checkReady(ctx context.Context) []string {
	var problems []string
	if !m.ready.Load() {
		problems = append(problems, "starting or shutting down")
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := m.rdb.Ping(ctx).Err(); err != nil {
		problems = append(problems, "redis: "+err.Error())
	}
	if err := kafka.CheckTopics(ctx, m.producer, m.Config.Kafka.Topics.All()...); err != nil {
		problems = append(problems, "kafka: "+err.Error())
	}
	if m.writer != nil {
		if err := m.writer.Ping(ctx); err != nil {
			problems = append(problems, "clickhouse: "+err.Error())
		}
	}
	return problems
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
	if m.correlator != nil {
		ds := m.correlator.Status()
		s.DriftWindow, s.MaxPSI, s.WindowAUC, s.DriftRows = ds.WindowStart, ds.MaxPSI, ds.WindowAUC, ds.Rows
		s.Drifted = append(s.Drifted, ds.DriftedFeatures...)
		m.metrics.DriftedFeats.Set(float64(len(ds.DriftedFeatures)))
	}
	return s
}

// authenticate requires "Authorization: Bearer <token>" on /v1/ routes when token is set.
func authenticate(token string, next http.Handler) http.Handler {
	if token == "" {
		return next
	}
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/v1/") &&
			subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="streamlearn"`)
			predictor.WriteError(w, http.StatusUnauthorized, predictor.Error{Error: "missing or wrong bearer token", Reason: "unauthorized"})
			return
		}
		next.ServeHTTP(w, r)
	})
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
