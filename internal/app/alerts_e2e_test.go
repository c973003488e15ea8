package app_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamlearn/streamlearn/internal/alerting"
	"github.com/streamlearn/streamlearn/internal/app"
	"github.com/streamlearn/streamlearn/wire"
)

// hookReceiver is an alert webhook receiver on a real HTTP server that refuses its first failFirst
// calls with 503 and, when it has a token, the calls without it with 401.
type hookReceiver struct {
	failFirst int
	token     string

	mu       sync.Mutex
	calls    int
	badAuth  int
	messages []alerting.Message
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls++
	if h.token != "" && r.Header.Get("Authorization") != "Bearer "+h.token {
		h.badAuth++
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if h.calls <= h.failFirst {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	var m alerting.Message
	if err := json.Unmarshal(body, &m); err != nil || m.Version != "4" || len(m.Alerts) != 1 {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	h.messages = append(h.messages, m)
}

// deliveries returns "<alertname>/<step>" of each alert taken for alertID, in order (the step is
// "" for the drift alert).
func (h *hookReceiver) deliveries(alertID string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, m := range h.messages {
		a := m.Alerts[0]
		if a.Labels["alert_id"] == alertID {
			out = append(out, a.Labels["alertname"]+"/"+a.Annotations["step"])
		}
	}
	return out
}

// TestDriftAlertReachesWebhook streams drifting synthetic data through the whole process with an
// alert webhook configured (a token file, a receiver that fails its first calls): the drift alert
// the correlator raises, and the first steps of the retrain it commands, reach the receiver once
// each, in order, with Alertmanager's payload; the webhook's metrics count them.
func TestDriftAlertReachesWebhook(t *testing.T) {
	const token = "hook-token-1"
	rcv := &hookReceiver{failFirst: 2, token: token}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	tokenFile := filepath.Join(t.TempDir(), "hook-token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	cfg := testConfig(t)
	cfg.Drift.Trigger.FeatureDrift.MinEvents = 200
	cfg.Drift.Trigger.Performance.MinExamples = 200
	cfg.Alerts.WebhookURL = srv.URL + "/alerts/secret-path"
	cfg.Alerts.WebhookTokenFile = tokenFile
	r := start(t, cfg)
	evs := driftStream(3600, 1800, 21)
	for i := 0; i < len(evs); i += 600 {
		publish(t, cfg.Kafka.Brokers, cfg.Kafka.Topics.Events, eventMessages(evs[i:i+600])...)
		publish(t, cfg.Kafka.Brokers, cfg.Kafka.Topics.Outcomes, outcomeMessages(evs[i:i+600])...)
	}
	recs := readAll(t, cfg.Kafka.Brokers, cfg.Kafka.Topics.Control, 60*time.Second, func(rs []*kgo.Record) bool { return len(rs) > 0 })
	if len(recs) == 0 {
		t.Fatal("no retrain command on the control topic")
	}
	var cmd wire.RetrainCommand
	if err := json.Unmarshal(recs[0].Value, &cmd); err != nil {
		t.Fatal(err)
	}

	want := []string{alertDrift + "/", alertRetrain + "/triggered", alertRetrain + "/training", alertRetrain + "/shadow"}
	waitFor(t, 60*time.Second, "the drift alert and the retrain's first steps at the webhook", func() bool {
		return len(rcv.deliveries(cmd.AlertID)) >= len(want)
	})
	if got := rcv.deliveries(cmd.AlertID); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("deliveries for %s: %v, want %v (each once, in order)", cmd.AlertID, got, want)
	}

	rcv.mu.Lock()
	var drift, training *alerting.Message
	for i, m := range rcv.messages {
		a := m.Alerts[0]
		switch {
		case a.Labels["alert_id"] != cmd.AlertID:
		case a.Labels["alertname"] == alertDrift:
			drift = &rcv.messages[i]
		case a.Annotations["step"] == "training":
			training = &rcv.messages[i]
		}
	}
	badAuth, calls, taken := rcv.badAuth, rcv.calls, len(rcv.messages)
	rcv.mu.Unlock()
	if badAuth != 0 {
		t.Errorf("%d calls without the token", badAuth)
	}
	if calls != taken+rcv.failFirst {
		t.Errorf("%d calls for %d alerts taken, want one each plus the %d refused", calls, taken, rcv.failFirst)
	}
	a := drift.Alerts[0]
	if drift.Status != alerting.StatusFiring || a.Labels["model"] != cfg.Model.Name || a.Labels["kind"] != cmd.Kind ||
		a.Fingerprint != alerting.Fingerprint(a.Labels) || a.Annotations["description"] == "" || a.StartsAt.IsZero() || !a.EndsAt.IsZero() {
		t.Errorf("drift alert message %+v", drift)
	}
	if training.Status != alerting.StatusFiring || training.Alerts[0].Labels["alertname"] != alertRetrain ||
		training.GroupKey != `{}:{alertname="StreamlearnRetrain", model="`+cfg.Model.Name+`"}` {
		t.Errorf("training step message %+v", training)
	}

	results := map[string]float64{}
	for _, mf := range gather(t, r.Registry) {
		if mf.GetName() == "streamlearn_alert_webhook_notifications_total" {
			for _, m := range mf.Metric {
				results[m.GetLabel()[0].GetValue()] = m.Counter.GetValue()
			}
		}
	}
	if results["sent"] < float64(len(want)) || results["failed"] != 0 || results["dropped"] != 0 {
		t.Errorf("notifications by result %v, want ≥ %d sent, none failed or dropped", results, len(want))
	}
	checkOperatorMetrics(t, r)
}

const (
	alertDrift   = "StreamlearnDriftAlert"
	alertRetrain = "StreamlearnRetrain"
)

// checkOperatorMetrics checks, on a process that has scored, joined, learned and correlated, that
// every stage's latency, Redis's and ClickHouse's calls and the model's age are on /metrics.
func checkOperatorMetrics(t *testing.T, r *running) {
	t.Helper()
	counts := map[string]uint64{}
	sums := map[string]float64{}
	gauges := map[string]float64{}
	for _, mf := range gather(t, r.Registry) {
		for _, m := range mf.Metric {
			key := mf.GetName()
			for _, l := range m.GetLabel() {
				key += "," + l.GetValue()
			}
			if h := m.GetHistogram(); h != nil {
				counts[key] = h.GetSampleCount()
				sums[key] = h.GetSampleSum()
			}
			if g := m.GetGauge(); g != nil {
				gauges[key] = g.GetValue()
			}
		}
	}
	for _, key := range []string{
		"streamlearn_stage_duration_seconds,score,decode", "streamlearn_stage_duration_seconds,score,features",
		"streamlearn_stage_duration_seconds,score,score", "streamlearn_stage_duration_seconds,score,produce",
		"streamlearn_stage_duration_seconds,score,join", "streamlearn_stage_duration_seconds,join,decode",
		"streamlearn_stage_duration_seconds,join,join", "streamlearn_stage_duration_seconds,join,produce",
		"streamlearn_stage_duration_seconds,learn,decode", "streamlearn_stage_duration_seconds,learn,learn",
		"streamlearn_stage_duration_seconds,learn,publish", "streamlearn_stage_duration_seconds,correlate,observe",
		"streamlearn_stage_duration_seconds,correlate,flush",
		"streamlearn_clickhouse_call_duration_seconds,insert", "streamlearn_clickhouse_call_duration_seconds,ping",
	} {
		if counts[key] == 0 {
			t.Errorf("%s has no samples", key)
		}
	}
	redisOps := 0
	for key, n := range counts {
		if strings.HasPrefix(key, "streamlearn_redis_command_duration_seconds,") && n > 0 {
			redisOps++
		}
	}
	if redisOps < 3 {
		t.Errorf("Redis calls timed under %d operations, want several", redisOps)
	}
	// Freshness: each new version served, from its newest example's arrival; the test's stream is
	// short, so every one is well under a minute.
	if n, sum := counts["streamlearn_model_freshness_seconds,default"], sums["streamlearn_model_freshness_seconds,default"]; n == 0 || sum <= 0 || sum/float64(n) > 60 {
		t.Errorf("streamlearn_model_freshness_seconds{model=default}: %d samples, sum %.3f s", n, sum)
	}
	if _, ok := gauges["streamlearn_model_version_age_seconds,default"]; !ok {
		t.Error("no streamlearn_model_version_age_seconds{model=default}")
	}
}

// TestWebhookTokenFileMustHoldAToken: an empty token file stops the start, naming the setting.
func TestWebhookTokenFileMustHoldAToken(t *testing.T) {
	cfg := testConfig(t)
	cfg.Alerts.WebhookURL = "http://127.0.0.1:1/hook"
	cfg.Alerts.WebhookTokenFile = filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(cfg.Alerts.WebhookTokenFile, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := app.New(cfg).Run(t.Context())
	if err == nil || !strings.Contains(err.Error(), "alerts.webhook_token_file") {
		t.Fatalf("Run = %v, want an error naming alerts.webhook_token_file", err)
	}
}
