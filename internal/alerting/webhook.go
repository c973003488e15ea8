// Package alerting delivers streamlearn's alerts (drift alerts, the steps of a retrain) to people:
// it POSTs them to a webhook in the JSON that Prometheus's Alertmanager sends to its webhook
// receivers, so anything that takes Alertmanager's webhooks (Alertmanager bridges to chat and
// paging, custom receivers) takes streamlearn's alerts too.
//
// Notify never blocks: alerts wait in a bounded queue, and one that finds it full is dropped and
// counted. One sender delivers them in order, retrying a failed delivery with backoff.
package alerting

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
)

// Alert statuses.
const (
	StatusFiring   = "firing"
	StatusResolved = "resolved"
)

// Alert is one alert of a webhook message, as Alertmanager encodes it. Labels identify the alert
// (its fingerprint is theirs: a receiver deduplicates a repeated delivery by it); annotations
// describe it.
type Alert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"` // zero ("0001-01-01T00:00:00Z") while firing
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// Message is the body of one webhook call: Alertmanager's webhook payload, version 4.
type Message struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   int               `json:"truncatedAlerts"`
	Status            string            `json:"status"`
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Alerts            []Alert           `json:"alerts"`
}

// Config configures a Webhook. Zero fields take the defaults named.
type Config struct {
	// URL receives the POSTs (required). It is never logged whole: chat webhooks keep their
	// secret in the path.
	URL string
	// Token, when set, is sent as "Authorization: Bearer <token>". It is never logged.
	Token string
	// Receiver is the message's receiver field (default "streamlearn").
	Receiver string
	// ExternalURL is the message's externalURL field: where people find more (default "").
	ExternalURL string
	// Timeout bounds one POST (default 10s).
	Timeout time.Duration
	// MaxAttempts bounds the POSTs of one message (default 8); a message still failing then is
	// counted as failed and given up.
	MaxAttempts int
	// QueueSize bounds the messages waiting (default 256); more are dropped and counted.
	QueueSize int
	// MinBackoff and MaxBackoff bound the wait between attempts, doubled after each (defaults
	// 500ms and 30s; each wait is jittered down to half).
	MinBackoff, MaxBackoff time.Duration
	// DrainTimeout bounds how long Run goes on delivering what is queued once its context ends
	// (default 5s); each message then gets one attempt.
	DrainTimeout time.Duration
	// Client sends the requests (default: a client with Timeout).
	Client *http.Client
}

func (c Config) withDefaults() Config {
	if c.Receiver == "" {
		c.Receiver = "streamlearn"
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 8
	}
	if c.QueueSize <= 0 {
		c.QueueSize = 256
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = 500 * time.Millisecond
	}
	if c.MaxBackoff < c.MinBackoff {
		c.MaxBackoff = max(30*time.Second, c.MinBackoff)
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = 5 * time.Second
	}
	if c.Client == nil {
		c.Client = &http.Client{Timeout: c.Timeout}
	}
	return c
}

// CheckURL checks a webhook URL: absolute, http or https, with a host.
func CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("not a URL") // the parse error would repeat the URL, secret and all
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("scheme %q is not http or https", u.Scheme)
	}
	if u.Host == "" {
		return errors.New("has no host")
	}
	return nil
}

// Webhook delivers messages to one URL (see the package comment).
type Webhook struct {
	cfg   Config
	host  string // scheme://host, what the logs show of the URL
	log   *slog.Logger
	queue chan Message

	sent, failed, dropped prometheus.Counter
	retries               prometheus.Counter
}

// New returns a webhook sender; Run delivers what Notify queues. Its metrics are registered on reg
// (nil: not registered):
//
//	streamlearn_alert_webhook_notifications_total{result="sent|failed|dropped"}
//	streamlearn_alert_webhook_retries_total
//	streamlearn_alert_webhook_queue_length
func New(cfg Config, log *slog.Logger, reg prometheus.Registerer) (*Webhook, error) {
	if err := CheckURL(cfg.URL); err != nil {
		return nil, fmt.Errorf("alert webhook url: %w", err)
	}
	cfg = cfg.withDefaults()
	if log == nil {
		log = slog.Default()
	}
	u, _ := url.Parse(cfg.URL)
	w := &Webhook{cfg: cfg, host: u.Scheme + "://" + u.Host, log: log, queue: make(chan Message, cfg.QueueSize)}
	results := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "streamlearn_alert_webhook_notifications_total",
		Help: "Alert notifications for the webhook, by result: sent (a 2xx answer), failed (given up after retries, or refused with a 4xx), dropped (the queue was full)."},
		[]string{"result"})
	w.sent, w.failed, w.dropped = results.WithLabelValues("sent"), results.WithLabelValues("failed"), results.WithLabelValues("dropped")
	w.retries = prometheus.NewCounter(prometheus.CounterOpts{Name: "streamlearn_alert_webhook_retries_total",
		Help: "Webhook calls made again after a failed one."})
	queued := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "streamlearn_alert_webhook_queue_length",
		Help: "Alert notifications waiting for the webhook."}, func() float64 { return float64(len(w.queue)) })
	if reg != nil {
		for _, c := range []prometheus.Collector{results, w.retries, queued} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("register alert webhook metrics: %w", err)
			}
		}
	}
	return w, nil
}

// Notify queues one message holding a (its fingerprint filled in) and returns at once: false when
// the queue was full and the alert was dropped.
func (w *Webhook) Notify(a Alert) bool {
	msg := w.message(a)
	select {
	case w.queue <- msg:
		return true
	default:
		w.dropped.Inc()
		w.log.Warn("alert webhook queue full; alert dropped", "alertname", a.Labels["alertname"], "queue", cap(w.queue))
		return false
	}
}

// message wraps a in a message of its own, grouped by alert name and model as Alertmanager would
// with group_by: [alertname, model].
func (w *Webhook) message(a Alert) Message {
	a.Fingerprint = Fingerprint(a.Labels)
	group := map[string]string{}
	for _, k := range []string{"alertname", "model"} {
		if v, ok := a.Labels[k]; ok {
			group[k] = v
		}
	}
	return Message{
		Version: "4", GroupKey: "{}:" + labelString(group), Status: a.Status, Receiver: w.cfg.Receiver,
		GroupLabels: group, CommonLabels: a.Labels, CommonAnnotations: a.Annotations, ExternalURL: w.cfg.ExternalURL,
		Alerts: []Alert{a},
	}
}

// Fingerprint is Alertmanager's fingerprint of an alert's labels (16 hex digits).
func Fingerprint(labels map[string]string) string {
	ls := make(model.LabelSet, len(labels))
	for k, v := range labels {
		ls[model.LabelName(k)] = model.LabelValue(v)
	}
	return ls.Fingerprint().String()
}

// labelString writes labels as Alertmanager writes a group key's: {a="x", b="y"}, sorted.
func labelString(labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%q", k, labels[k])
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// Run delivers queued messages, one at a time and in order, until ctx ends; then it delivers what
// is still queued, one attempt each, for at most Config.DrainTimeout, and returns nil.
func (w *Webhook) Run(ctx context.Context) error {
	for {
		select {
		case msg := <-w.queue:
			if !w.deliver(ctx, msg, w.cfg.MaxAttempts) {
				w.drain(ctx, &msg)
				return nil
			}
		case <-ctx.Done():
			w.drain(ctx, nil)
			return nil
		}
	}
}

// drain gives first (the message interrupted by the end of ctx, if any) and every queued message
// one last attempt within the drain timeout.
func (w *Webhook) drain(ctx context.Context, first *Message) {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.cfg.DrainTimeout)
	defer cancel()
	if first != nil && !w.deliver(dctx, *first, 1) {
		w.failed.Inc()
	}
	for {
		select {
		case msg := <-w.queue:
			if !w.deliver(dctx, msg, 1) {
				w.failed.Inc()
			}
		default:
			return
		}
	}
}

// deliver POSTs msg until it is taken, refused for good or attempts are spent; it counts the
// outcome and returns true, or returns false, counting nothing, when ctx ended first.
func (w *Webhook) deliver(ctx context.Context, msg Message, attempts int) bool {
	body, err := json.Marshal(msg)
	if err != nil { // maps of strings and times: cannot fail
		w.failed.Inc()
		w.log.Error("encode alert for the webhook", "err", err)
		return true
	}
	backoff := w.cfg.MinBackoff
	for n := 1; ; n++ {
		err := w.post(ctx, body)
		switch {
		case err == nil:
			w.sent.Inc()
			return true
		case ctx.Err() != nil:
			return false
		case isPermanent(err):
			w.failed.Inc()
			w.log.Error("alert webhook refused the alert; not retried", "webhook", w.host, "alertname", msg.CommonLabels["alertname"], "err", err)
			return true
		case n >= attempts:
			w.failed.Inc()
			w.log.Error("alert webhook failed; alert given up", "webhook", w.host, "alertname", msg.CommonLabels["alertname"], "attempts", n, "err", err)
			return true
		}
		wait := backoff/2 + rand.N(backoff/2+1)
		w.log.Warn("alert webhook failed; retrying", "webhook", w.host, "attempt", n, "retry_in", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-t.C:
		}
		w.retries.Inc()
		backoff = min(2*backoff, w.cfg.MaxBackoff)
	}
}

// permanentError is an answer that a retry would get again (a 4xx other than 408 and 429).
type permanentError struct{ error }

func (w *Webhook) post(ctx context.Context, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return permanentError{errors.New("bad webhook request")}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "streamlearn")
	if w.cfg.Token != "" {
		req.Header.Set("Authorization", "Bearer "+w.cfg.Token)
	}
	resp, err := w.cfg.Client.Do(req)
	if err != nil {
		// The error names the URL, which may hold a secret: keep only what went wrong.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return fmt.Errorf("post: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode == http.StatusRequestTimeout, resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode >= 500:
		return fmt.Errorf("status %s", resp.Status)
	default:
		return permanentError{fmt.Errorf("status %s", resp.Status)}
	}
}

func isPermanent(err error) bool {
	_, ok := errors.AsType[permanentError](err)
	return ok
}
