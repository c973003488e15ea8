package alerting_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"

	"github.com/streamlearn/streamlearn/internal/alerting"
	"github.com/streamlearn/streamlearn/internal/telemetry"
)

// receiver is a webhook receiver on a real HTTP server: it answers the first failFirst calls with
// failStatus, and records the messages it took (2xx) and every call.
type receiver struct {
	srv        *httptest.Server
	failFirst  int
	failStatus int
	block      chan struct{} // when set, a call waits for it to close before answering
	called     chan struct{} // when set, told of every call as it arrives

	mu    sync.Mutex
	calls int
	taken []alerting.Message
}

func newReceiver(t *testing.T, failFirst, failStatus int) *receiver {
	t.Helper()
	return startReceiver(t, &receiver{failFirst: failFirst, failStatus: failStatus})
}

// startReceiver serves r, set up as the test wants it.
func startReceiver(t *testing.T, r *receiver) *receiver {
	t.Helper()
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	if r.called != nil {
		r.called <- struct{}{}
	}
	if r.block != nil {
		<-r.block
	}
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	if r.calls <= r.failFirst {
		w.WriteHeader(r.failStatus)
		return
	}
	var m alerting.Message
	if err := json.Unmarshal(body, &m); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.taken = append(r.taken, m)
	w.WriteHeader(http.StatusOK)
}

func (r *receiver) snapshot() (calls int, taken []alerting.Message) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls, append([]alerting.Message(nil), r.taken...)
}

// started runs w until the test ends, and returns a function that stops it and waits for Run.
func started(t *testing.T, w *alerting.Webhook) func() {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	stop := func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("Run did not return 30s after its context ended")
		}
	}
	t.Cleanup(func() {
		if ctx.Err() == nil {
			stop()
		}
	})
	return stop
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s after 20s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func newWebhook(t *testing.T, cfg alerting.Config, reg prometheus.Registerer) *alerting.Webhook {
	t.Helper()
	if cfg.MinBackoff == 0 {
		cfg.MinBackoff, cfg.MaxBackoff = time.Millisecond, 4*time.Millisecond
	}
	w, err := alerting.New(cfg, slog.New(slog.DiscardHandler), reg)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func alert(id string) alerting.Alert {
	return alerting.Alert{
		Status:      alerting.StatusFiring,
		Labels:      map[string]string{"alertname": "StreamlearnDriftAlert", "model": "fraud", "alert_id": id, "severity": "info"},
		Annotations: map[string]string{"summary": "drift " + id},
		StartsAt:    time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC),
	}
}

func results(reg prometheus.Gatherer) map[string]float64 {
	out := map[string]float64{}
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() != "streamlearn_alert_webhook_notifications_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			out[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
		}
	}
	return out
}

// TestMessageIsAlertmanagerWebhookPayload checks the body, headers and bearer token of a call
// against Alertmanager's webhook format (version 4).
func TestMessageIsAlertmanagerWebhookPayload(t *testing.T) {
	type call struct{ body, auth, ctype string }
	calls := make(chan call, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		calls <- call{string(b), req.Header.Get("Authorization"), req.Header.Get("Content-Type")}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	reg := prometheus.NewPedanticRegistry()
	w := newWebhook(t, alerting.Config{URL: srv.URL + "/hook", Token: "s3cret", ExternalURL: "http://sl.example:8080"}, reg)
	stop := started(t, w)
	if !w.Notify(alert("fraud:feature_drift:20261130T090000Z")) {
		t.Fatal("Notify dropped the alert on an empty queue")
	}
	c := <-calls
	eventually(t, "sent notification", func() bool { return results(reg)["sent"] == 1 })
	stop()
	raw := []byte(c.body)

	var got map[string]any
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatalf("body is not JSON: %v: %s", err, raw)
	}
	labels := model.LabelSet{"alertname": "StreamlearnDriftAlert", "model": "fraud", "alert_id": "fraud:feature_drift:20261130T090000Z", "severity": "info"}
	want := map[string]any{
		"version": "4", "status": "firing", "receiver": "streamlearn", "truncatedAlerts": float64(0),
		"groupKey":          `{}:{alertname="StreamlearnDriftAlert", model="fraud"}`,
		"groupLabels":       map[string]any{"alertname": "StreamlearnDriftAlert", "model": "fraud"},
		"commonLabels":      map[string]any{"alertname": "StreamlearnDriftAlert", "model": "fraud", "alert_id": "fraud:feature_drift:20261130T090000Z", "severity": "info"},
		"commonAnnotations": map[string]any{"summary": "drift fraud:feature_drift:20261130T090000Z"},
		"externalURL":       "http://sl.example:8080",
		"alerts": []any{map[string]any{
			"status":       "firing",
			"labels":       map[string]any{"alertname": "StreamlearnDriftAlert", "model": "fraud", "alert_id": "fraud:feature_drift:20261130T090000Z", "severity": "info"},
			"annotations":  map[string]any{"summary": "drift fraud:feature_drift:20261130T090000Z"},
			"startsAt":     "2026-11-30T10:00:00Z",
			"endsAt":       "0001-01-01T00:00:00Z",
			"generatorURL": "",
			"fingerprint":  labels.Fingerprint().String(),
		}},
	}
	gotJSON, _ := json.MarshalIndent(got, "", " ")
	wantJSON, _ := json.MarshalIndent(want, "", " ")
	if string(gotJSON) != string(wantJSON) {
		t.Errorf("body:\n%s\nwant:\n%s", gotJSON, wantJSON)
	}
	if c.auth != "Bearer s3cret" || c.ctype != "application/json" {
		t.Errorf("Authorization %q, Content-Type %q", c.auth, c.ctype)
	}
	if len(calls) != 0 {
		t.Errorf("%d more calls", len(calls))
	}
}

// TestRetriesDeliverEachAlertOnce has a receiver fail its first calls: every alert is delivered
// exactly once, in the order notified, after retries.
func TestRetriesDeliverEachAlertOnce(t *testing.T) {
	for _, status := range []int{http.StatusServiceUnavailable, http.StatusTooManyRequests, http.StatusInternalServerError} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			const failFirst, alerts = 4, 6
			rcv := newReceiver(t, failFirst, status)
			reg := prometheus.NewPedanticRegistry()
			w := newWebhook(t, alerting.Config{URL: rcv.srv.URL, MaxAttempts: 10}, reg)
			started(t, w)
			var ids []string
			for i := range alerts {
				id := "m:feature_drift:" + string(rune('a'+i))
				ids = append(ids, id)
				w.Notify(alert(id))
			}
			eventually(t, "every alert sent", func() bool { return results(reg)["sent"] == alerts })
			calls, taken := rcv.snapshot()
			if calls != failFirst+alerts {
				t.Errorf("%d calls, want %d (%d failed + one per alert)", calls, failFirst+alerts, failFirst)
			}
			var got []string
			for _, m := range taken {
				if len(m.Alerts) != 1 {
					t.Fatalf("message with %d alerts", len(m.Alerts))
				}
				got = append(got, m.Alerts[0].Labels["alert_id"])
			}
			if strings.Join(got, ",") != strings.Join(ids, ",") {
				t.Errorf("delivered %v, want each of %v once, in order", got, ids)
			}
			if r := results(reg); r["failed"] != 0 || r["dropped"] != 0 {
				t.Errorf("results %v, want none failed or dropped", r)
			}
			if got := telemetry.Sum(reg, "streamlearn_alert_webhook_retries_total"); got != failFirst {
				t.Errorf("retries_total = %v, want %d", got, failFirst)
			}
		})
	}
}

// TestGivesUp: a receiver that keeps failing gets MaxAttempts calls; one that refuses (4xx) one.
func TestGivesUp(t *testing.T) {
	for _, tt := range []struct {
		status, wantCalls int
	}{{http.StatusBadGateway, 3}, {http.StatusBadRequest, 1}, {http.StatusUnauthorized, 1}} {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			rcv := newReceiver(t, 1000, tt.status)
			reg := prometheus.NewPedanticRegistry()
			w := newWebhook(t, alerting.Config{URL: rcv.srv.URL, MaxAttempts: 3}, reg)
			started(t, w)
			w.Notify(alert("a"))
			eventually(t, "a failed notification", func() bool { return results(reg)["failed"] == 1 })
			// The next alert is still delivered (to a receiver that now takes it).
			rcv.mu.Lock()
			calls := rcv.calls
			rcv.failFirst = 0
			rcv.mu.Unlock()
			if calls != tt.wantCalls {
				t.Errorf("%d calls for a %d, want %d", calls, tt.status, tt.wantCalls)
			}
			w.Notify(alert("b"))
			eventually(t, "the next alert sent", func() bool { return results(reg)["sent"] == 1 })
		})
	}
}

// TestFullQueueDropsWithoutBlocking: while the receiver holds a call, Notify fills the queue and
// then drops, at once; what was queued is delivered once the receiver answers.
func TestFullQueueDropsWithoutBlocking(t *testing.T) {
	rcv := startReceiver(t, &receiver{block: make(chan struct{}), called: make(chan struct{}, 16)})
	reg := prometheus.NewPedanticRegistry()
	w := newWebhook(t, alerting.Config{URL: rcv.srv.URL, QueueSize: 2}, reg)
	started(t, w)
	w.Notify(alert("in-flight"))
	<-rcv.called // the sender holds it: the queue is empty again
	start := time.Now()
	accepted := []bool{w.Notify(alert("q1")), w.Notify(alert("q2")), w.Notify(alert("over1")), w.Notify(alert("over2"))}
	if took := time.Since(start); took > time.Second {
		t.Errorf("Notify took %s with a stuck receiver", took)
	}
	if want := []bool{true, true, false, false}; fmt.Sprint(accepted) != fmt.Sprint(want) {
		t.Errorf("Notify accepted %v, want %v (queue of 2)", accepted, want)
	}
	if got := telemetry.Sum(reg, "streamlearn_alert_webhook_queue_length"); got != 2 {
		t.Errorf("queue_length = %v, want 2", got)
	}
	close(rcv.block)
	eventually(t, "the queued alerts sent", func() bool { return results(reg)["sent"] == 3 })
	if r := results(reg); r["dropped"] != 2 {
		t.Errorf("results %v, want 2 dropped", r)
	}
	_, taken := rcv.snapshot()
	var got []string
	for _, m := range taken {
		got = append(got, m.Alerts[0].Labels["alert_id"])
	}
	if strings.Join(got, ",") != "in-flight,q1,q2" {
		t.Errorf("delivered %v", got)
	}
}

// TestShutdownDeliversWhatIsQueued: alerts queued when Run's context ends are still delivered.
func TestShutdownDeliversWhatIsQueued(t *testing.T) {
	rcv := newReceiver(t, 0, 0)
	reg := prometheus.NewPedanticRegistry()
	w := newWebhook(t, alerting.Config{URL: rcv.srv.URL}, reg)
	for _, id := range []string{"a", "b", "c"} {
		w.Notify(alert(id)) // before Run: queued
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := w.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if _, taken := rcv.snapshot(); len(taken) != 3 || results(reg)["sent"] != 3 {
		t.Errorf("delivered %d at shutdown, results %v; want 3 sent", len(taken), results(reg))
	}
}

// TestSlowReceiverTimesOut: a call that outlasts Timeout is retried, not waited for.
func TestSlowReceiverTimesOut(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		mu.Lock()
		calls++
		first := calls == 1
		mu.Unlock()
		if first {
			select {
			case <-release:
			case <-req.Context().Done():
			}
		}
		_, _ = io.Copy(io.Discard, req.Body)
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	defer close(release)
	reg := prometheus.NewPedanticRegistry()
	w := newWebhook(t, alerting.Config{URL: srv.URL, Timeout: 100 * time.Millisecond}, reg)
	started(t, w)
	w.Notify(alert("slow"))
	eventually(t, "the alert sent on the second call", func() bool { return results(reg)["sent"] == 1 })
	mu.Lock()
	defer mu.Unlock()
	if calls != 2 {
		t.Errorf("%d calls, want 2 (one timed out)", calls)
	}
}

func TestCheckURL(t *testing.T) {
	for _, tt := range []struct {
		url string
		ok  bool
	}{
		{"https://hooks.example.com/services/T0/B0/secret", true},
		{"http://127.0.0.1:9093/api/v2/alerts", true},
		{"ftp://example.com/x", false},
		{"/relative", false},
		{"https://", false},
		{"http://[::1", false},
	} {
		err := alerting.CheckURL(tt.url)
		if (err == nil) != tt.ok {
			t.Errorf("CheckURL(%q) = %v, want ok %v", tt.url, err, tt.ok)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("CheckURL's error repeats the URL: %v", err)
		}
	}
}
