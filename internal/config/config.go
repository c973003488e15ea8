// Package config reads streamlearn's YAML configuration: defaults for everything, ${ENV} expansion,
// strict decoding (unknown keys are errors) and validation with errors that name the field.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/streamlearn/streamlearn/drift"
	"github.com/streamlearn/streamlearn/features"
	"github.com/streamlearn/streamlearn/ingest"
	"github.com/streamlearn/streamlearn/internal/alerting"
	"github.com/streamlearn/streamlearn/internal/kafkaclient"
	"github.com/streamlearn/streamlearn/learner"
	"github.com/streamlearn/streamlearn/predictor"
	"github.com/streamlearn/streamlearn/sinks/chsink"
)

// Config is the whole configuration of the binary. Every field has a default (DefaultConfig).
type Config struct {
	Kafka      kafkaclient.Config `yaml:"kafka"`
	Redis      Redis              `yaml:"redis"`
	ClickHouse chsink.Config      `yaml:"clickhouse"`
	HTTP       HTTP               `yaml:"http"`
	Ingest     ingest.Limits      `yaml:"ingest"`
	// Features declares the per-entity features: raw fields, transforms, window aggregates, crosses.
	Features features.Config `yaml:"features"`
	// Model is the champion model learned from the stream.
	Model learner.Spec `yaml:"model"`
	// Challengers are more models learned from the same examples, with other hyperparameters; each
	// starts from the default spec and needs its own name.
	Challengers []ModelSpec `yaml:"challengers"`
	Join        Join        `yaml:"join"`
	Learner     Learner     `yaml:"learner"`
	Drift       Drift       `yaml:"drift"`
	Log         Log         `yaml:"log"`
	// Predictor routes live traffic between models (champion, challengers, shadows) and limits clients.
	Predictor predictor.Config `yaml:"predictor"`
	// Alerts sends drift alerts and retrain steps to people (a webhook).
	Alerts Alerts `yaml:"alerts"`
}

// Alerts configures the alert webhook: drift alerts and the steps of each retrain, POSTed in
// Alertmanager's webhook format (internal/alerting).
type Alerts struct {
	// WebhookURL receives the alerts (default "": none sent). Its path may hold a secret (chat
	// webhooks): it is never logged.
	WebhookURL string `yaml:"webhook_url"`
	// WebhookTokenFile, when set, holds a token sent as "Authorization: Bearer <token>" (white
	// space around it ignored; an empty file is an error at start). Never logged.
	WebhookTokenFile string `yaml:"webhook_token_file"`
	// WebhookTimeout bounds one call (default 10s).
	WebhookTimeout time.Duration `yaml:"webhook_timeout"`
	// WebhookMaxAttempts bounds the calls per alert, retried with backoff from 0.5s to 30s on
	// network errors, 408, 429 and 5xx (default 8).
	WebhookMaxAttempts int `yaml:"webhook_max_attempts"`
	// WebhookQueue bounds the alerts waiting to be sent; more are dropped and counted (default 256).
	WebhookQueue int `yaml:"webhook_queue"`
}

// DefaultAlerts returns the alerts section's defaults: no webhook.
func DefaultAlerts() Alerts {
	return Alerts{WebhookTimeout: 10 * time.Second, WebhookMaxAttempts: 8, WebhookQueue: 256}
}

// Validate reports every invalid field of the alerts section.
func (a Alerts) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("alerts."+format, args...)) }
	if a.WebhookURL != "" {
		if err := alerting.CheckURL(a.WebhookURL); err != nil {
			bad("webhook_url: %w", err)
		}
	} else if a.WebhookTokenFile != "" {
		bad("webhook_token_file: set without alerts.webhook_url")
	}
	if a.WebhookTimeout < 100*time.Millisecond || a.WebhookTimeout > 5*time.Minute {
		bad("webhook_timeout: %s is not in 100ms..5m", a.WebhookTimeout)
	}
	if a.WebhookMaxAttempts < 1 || a.WebhookMaxAttempts > 100 {
		bad("webhook_max_attempts: %d is not in 1..100", a.WebhookMaxAttempts)
	}
	if a.WebhookQueue < 1 || a.WebhookQueue > 100_000 {
		bad("webhook_queue: %d is not in 1..100000", a.WebhookQueue)
	}
	return errors.Join(errs...)
}

// ModelSpec is a learner.Spec read from YAML over the defaults, for lists of models.
type ModelSpec learner.Spec

// UnmarshalYAML decodes a spec over learner.DefaultSpec.
func (m *ModelSpec) UnmarshalYAML(n *yaml.Node) error {
	s := learner.DefaultSpec()
	if err := n.Decode(&s); err != nil {
		return err
	}
	*m = ModelSpec(s)
	return nil
}

// Models returns the champion model's spec followed by the challengers'.
func (c Config) Models() []learner.Spec {
	out := []learner.Spec{c.Model}
	for _, ch := range c.Challengers {
		out = append(out, learner.Spec(ch))
	}
	return out
}

// Redis says where per-entity features, pending joins and the model registry live.
type Redis struct {
	// Addr is a single server (host:port). Addrs, when set, lists Redis Cluster seed nodes instead.
	Addr         string   `yaml:"addr"`
	Addrs        []string `yaml:"addrs"`
	Username     string   `yaml:"username"`
	Password     string   `yaml:"password"`
	PasswordFile string   `yaml:"password_file"`
	DB           int      `yaml:"db"`
	TLS          bool     `yaml:"tls"`
	TLSCAFile    string   `yaml:"tls_ca_file"`
	// KeyPrefix starts every key streamlearn writes (default "sl:").
	KeyPrefix string `yaml:"key_prefix"`
	// EntityTTL is how long an idle entity's state is kept (default 8 days).
	EntityTTL time.Duration `yaml:"entity_ttl"`
	// PoolSize is the connection pool size per node (default 32).
	PoolSize int `yaml:"pool_size"`
	// NearCacheEntries bounds the predictor's in-process cache of the entity values its live
	// lookups read (default 65536; 0 turns it off). Redis keeps it coherent (client tracking): a
	// cached entity is dropped as soon as Redis reports a write, expiry or eviction of it; on Redis
	// Cluster (addrs) through one tracking connection per master.
	NearCacheEntries int `yaml:"near_cache_entries"`
}

// HTTP configures the API server.
type HTTP struct {
	Addr string `yaml:"addr"`
	// OpsAddr, when set, is where a process without the http role (ingest, learner, drift) serves
	// /metrics, /healthz, /readyz and /v1/status, for probes and scraping (default "": none).
	OpsAddr string `yaml:"ops_addr"`
	// TLSCertFile and TLSKeyFile enable HTTPS.
	TLSCertFile string `yaml:"tls_cert_file"`
	TLSKeyFile  string `yaml:"tls_key_file"`
	// AuthToken, or any token of AuthTokenFile (one a line), is required as "Authorization: Bearer
	// <token>" on /v1/ routes when set. A blank token, or a file without one, is an error at start.
	// /metrics, /healthz and /readyz stay open.
	AuthToken     string `yaml:"auth_token"`
	AuthTokenFile string `yaml:"auth_token_file"`
	// MaxBodyBytes bounds a request body (default 1 MiB); MaxEvents bounds a scoring batch (default 1000).
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	MaxEvents    int   `yaml:"max_events"`
	// AllowedOrigins are origins ("https://console.example.com") besides the server's own whose
	// browser pages may call the API (CORS included); other cross-origin POSTs are refused (default none).
	AllowedOrigins []string `yaml:"allowed_origins"`
	// WriteTimeout bounds the time from a request's headers to the end of its response (default 30s).
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// MaxHeaderBytes bounds a request's headers (default 64 KiB).
	MaxHeaderBytes int `yaml:"max_header_bytes"`
	// MaxConcurrent bounds the requests served at once; more get 503 with Retry-After (default 256).
	// /healthz and /readyz are not counted.
	MaxConcurrent int `yaml:"max_concurrent"`
}

// DefaultHTTP returns the API server's defaults.
func DefaultHTTP() HTTP {
	return HTTP{Addr: "127.0.0.1:8080", MaxBodyBytes: 1 << 20, MaxEvents: 1000,
		WriteTimeout: 30 * time.Second, MaxHeaderBytes: 64 << 10, MaxConcurrent: 256}
}

// Validate reports every invalid field of the http section.
func (h HTTP) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("http."+format, args...)) }
	if h.Addr == "" {
		bad("addr: required")
	}
	if (h.TLSCertFile == "") != (h.TLSKeyFile == "") {
		errs = append(errs, errors.New("http.tls_cert_file, http.tls_key_file: set both or neither"))
	}
	if h.AuthToken != "" && strings.TrimSpace(h.AuthToken) == "" {
		bad("auth_token: is blank; leave it unset to turn authentication off")
	}
	if h.MaxBodyBytes < 1024 {
		bad("max_body_bytes: %d is below 1024", h.MaxBodyBytes)
	}
	if h.MaxEvents < 1 {
		bad("max_events: %d must be at least 1", h.MaxEvents)
	}
	cop := http.NewCrossOriginProtection()
	for i, o := range h.AllowedOrigins {
		if err := cop.AddTrustedOrigin(o); err != nil {
			bad("allowed_origins[%d]: %w", i, err)
		}
	}
	if h.WriteTimeout < 100*time.Millisecond {
		bad("write_timeout: %s is below 100ms", h.WriteTimeout)
	}
	if h.MaxHeaderBytes < 4096 {
		bad("max_header_bytes: %d is below 4096", h.MaxHeaderBytes)
	}
	if h.MaxConcurrent < 1 {
		bad("max_concurrent: %d must be at least 1", h.MaxConcurrent)
	}
	return errors.Join(errs...)
}

// Join configures the label join.
type Join struct {
	// Horizon is how long a prediction waits for its outcome, and an outcome for its prediction (default 24h).
	Horizon time.Duration `yaml:"horizon"`
	// ImplicitLabel, when set, is the label of a prediction whose outcome does not come within the
	// horizon (e.g. 0: "no chargeback within 30 days"). Unset: such predictions are not learned.
	ImplicitLabel *float64 `yaml:"implicit_label"`
	// SweepInterval is how often expired predictions are looked for (default 1s).
	SweepInterval time.Duration `yaml:"sweep_interval"`
}

// Learner configures online learning.
type Learner struct {
	// PublishInterval is how often a new model version is published while examples arrive (default 2s).
	PublishInterval time.Duration `yaml:"publish_interval"`
	// DeltaInterval is how often the learner of a linear model broadcasts the weights it changed
	// since the live version, as a delta that predictors apply without a new version (default
	// 250ms; 0: off, predictors follow whole versions only). Deltas need AutoPromote.
	DeltaInterval time.Duration `yaml:"delta_interval"`
	// DeltaMaxRows bounds a delta's changed slots: a larger one is not sent, and the version is
	// published early instead, at most twice as often as PublishInterval (default 65536).
	DeltaMaxRows int `yaml:"delta_max_rows"`
	// AutoPromote makes every published version the champion (default true).
	AutoPromote bool `yaml:"auto_promote"`
	// MetricsWindow is the number of recent examples progressive AUC and logloss cover (default 5000).
	MetricsWindow int `yaml:"metrics_window"`
	// Retrain says how retrain commands from the drift trigger are carried out.
	Retrain learner.RetrainPolicy `yaml:"retrain"`
	// Device is where models train: cpu (one example at a time), cuda (an NVIDIA GPU, in minibatches
	// of Batch; an error without one) or auto (the GPU where it beats the CPU, default). It places
	// models of family linear, fm and mlp; tree, forest and auto train on the CPU whatever it says.
	Device string `yaml:"device"`
	// Batch is the minibatch size on the GPU (default 256).
	Batch int `yaml:"batch"`
	// ActiveInputs is the typical number of nonzero model inputs per example, which --device auto
	// weighs with Batch (default 64).
	ActiveInputs int `yaml:"active_inputs"`
	// LeaseTTL is the lease each model's single active learner holds in Redis: a standby process
	// takes over within it when the active one dies (default 10s).
	LeaseTTL time.Duration `yaml:"lease_ttl"`
	// DedupeWindow is how many recent examples per partition the learner remembers by event id, so
	// that a copy of an example (made again by a stage that died between producing and
	// acknowledging it) is learned once (default 100000; -1: off).
	DedupeWindow int `yaml:"dedupe_window"`
	// Snapshots says when the registry retains snapshots and which it keeps.
	Snapshots Snapshots `yaml:"snapshots"`
}

// Snapshots configures the registry's retained snapshots. Every publish moves the model's live
// head; a snapshot is retained on a schedule, at each retrain step, on promotion and on demand.
type Snapshots struct {
	// Interval is how often a scheduled snapshot is retained while the model learns (default 1h).
	Interval time.Duration `yaml:"interval"`
	// KeepHourly is how long one snapshot an hour is kept (default 48h); KeepDaily how long one a
	// day is (default 2160h, 90 days). Tagged snapshots and past champions are kept for ever.
	KeepHourly time.Duration `yaml:"keep_hourly"`
	KeepDaily  time.Duration `yaml:"keep_daily"`
	// ReportOutcomes is how many examples after a snapshot its held-out report covers (default 2000).
	ReportOutcomes int `yaml:"report_outcomes"`
}

// Drift configures the drift and outcome correlator.
type Drift struct {
	// Window is the event-time window of the drift and performance tables (default 1h).
	Window          time.Duration `yaml:"window"`
	AllowedLateness time.Duration `yaml:"allowed_lateness"`
	Bins            int           `yaml:"bins"`
	PSIThreshold    float64       `yaml:"psi_threshold"`
	// FlushInterval is how often rows are written to ClickHouse and offsets committed (default 1s).
	FlushInterval time.Duration `yaml:"flush_interval"`
	// OutcomeLateness is the allowed lateness of the performance windows: examples arrive in label
	// order, so set it to the label delay within which labels should count, at most join.horizon
	// (default: allowed_lateness).
	OutcomeLateness time.Duration `yaml:"outcome_lateness"`
	// Segments are event fields (strings, or booleans and numbers) whose values split the performance
	// rows over all versions: segment "country=DE" and so on (default none).
	Segments []string `yaml:"segments"`
	// MaxSegmentValues bounds the values tracked per segment field; later ones go to
	// "field=__other__" (default 100).
	MaxSegmentValues int `yaml:"max_segment_values"`
	// Threshold is a binary model's decision threshold for precision, recall and the 0/1 error the
	// concept-drift detectors watch (default 0.5).
	Threshold float64 `yaml:"threshold"`
	// Trigger is the retrain trigger policy: alerts, drift_alerts rows and retrain commands.
	Trigger drift.TriggerConfig `yaml:"trigger"`
	// MinWindowValues is the least number of values a feature needs in a window, and in its
	// reference, before the window can be flagged drifted (default 200).
	MinWindowValues int64 `yaml:"min_window_values"`
	// Alpha is the significance level of the chi-square test that a drifted flag also needs, over
	// the tests of a window (Bonferroni; default 0.001).
	Alpha float64 `yaml:"alpha"`
	// LeaseTTL is the lease the single active correlator holds in Redis: a standby process takes
	// over within it when the active one dies (default 10s).
	LeaseTTL time.Duration `yaml:"lease_ttl"`
}

// Log configures logging.
type Log struct {
	Level  string `yaml:"level"`  // debug, info (default), warn, error
	Format string `yaml:"format"` // text (default) or json
}

// DefaultConfig returns the configuration used when no file is given: local Redis, ClickHouse and
// Kafka on their standard ports, a binary logistic model learned from every field of the events.
func DefaultConfig() Config {
	spec := learner.DefaultSpec()
	spec.Name = "default"
	// Zero config learns every family side by side and serves the best (learner.Auto); a model
	// section that names another family, linear included, replaces it.
	spec.Family = learner.FamilyAuto
	return Config{
		Kafka:      kafkaclient.DefaultConfig(),
		Redis:      Redis{Addr: "127.0.0.1:6379", KeyPrefix: "sl:", EntityTTL: 8 * 24 * time.Hour, PoolSize: 32, NearCacheEntries: 65536},
		ClickHouse: chsink.DefaultConfig(),
		HTTP:       DefaultHTTP(),
		Ingest:     ingest.DefaultLimits(),
		Features:   features.DefaultConfig(),
		Model:      spec,
		Join:       Join{Horizon: 24 * time.Hour, SweepInterval: time.Second},
		Learner: Learner{PublishInterval: 2 * time.Second, DeltaInterval: 250 * time.Millisecond, DeltaMaxRows: learner.DefaultDeltaMaxRows, AutoPromote: true, MetricsWindow: 5000, Retrain: learner.DefaultRetrainPolicy(), Device: "auto", Batch: 256, ActiveInputs: 64, LeaseTTL: 10 * time.Second, DedupeWindow: 100_000,
			Snapshots: Snapshots{Interval: time.Hour, KeepHourly: 48 * time.Hour, KeepDaily: 90 * 24 * time.Hour, ReportOutcomes: 2000}},
		Drift:     Drift{Window: time.Hour, AllowedLateness: time.Hour, Bins: 10, PSIThreshold: 0.2, FlushInterval: time.Second, MaxSegmentValues: 100, Threshold: 0.5, Trigger: drift.DefaultTriggerConfig(), MinWindowValues: 200, Alpha: 0.001, LeaseTTL: 10 * time.Second},
		Log:       Log{Level: "info", Format: "text"},
		Predictor: predictor.DefaultConfig(),
		Alerts:    DefaultAlerts(),
	}
}

// MonitorConfig returns the drift monitor's configuration.
func (d Drift) MonitorConfig() drift.MonitorConfig {
	c := drift.DefaultMonitorConfig()
	c.Window, c.AllowedLateness, c.Bins, c.PSIThreshold = d.Window, d.AllowedLateness, d.Bins, d.PSIThreshold
	c.OutcomeLateness, c.Segments, c.MaxSegmentValues, c.Threshold, c.Trigger = d.OutcomeLateness, d.Segments, d.MaxSegmentValues, d.Threshold, d.Trigger
	c.MinWindowValues, c.Alpha = d.MinWindowValues, d.Alpha
	return c
}

// Load reads a YAML file over the defaults. ${VAR} and ${VAR:-default} in scalar values are replaced
// from the environment after parsing; a reference to an unset variable without a default is an error.
func Load(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read config: %w", err)
	}
	return Parse(b, os.LookupEnv)
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}`)

// Expand replaces ${VAR} and ${VAR:-default} in the scalars of a parsed YAML tree using lookup. An
// empty variable counts as unset. The result is always the text of that one scalar, so a value such
// as "null", "a # b" or "x\ny: 1" cannot change the document's structure; comments are never
// expanded. A plain scalar that becomes a number or a boolean is one (so "db: ${DB}" works), and
// one that becomes empty is null, which keeps the field's default.
func Expand(n *yaml.Node, lookup func(string) (string, bool)) error {
	var missing []string
	expandNode(n, lookup, &missing)
	if len(missing) > 0 {
		return fmt.Errorf("config refers to unset environment variables: %s", strings.Join(missing, ", "))
	}
	return nil
}

func expandNode(n *yaml.Node, lookup func(string) (string, bool), missing *[]string) {
	// Aliases are not followed: their anchor is expanded where it stands, and only once.
	if n.Kind == yaml.ScalarNode && envRef.MatchString(n.Value) {
		n.Value = expandString(n.Value, lookup, missing)
		if n.Style&(yaml.TaggedStyle|yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) == 0 {
			n.Tag = plainTag(n.Value)
		}
	}
	for _, c := range n.Content {
		expandNode(c, lookup, missing)
	}
}

func expandString(s string, lookup func(string) (string, bool), missing *[]string) string {
	return envRef.ReplaceAllStringFunc(s, func(m string) string {
		sub := envRef.FindStringSubmatch(m)
		if v, ok := lookup(sub[1]); ok && v != "" {
			return v
		}
		if sub[2] != "" {
			return sub[3]
		}
		*missing = append(*missing, sub[1])
		return ""
	})
}

// plainTag is the tag YAML gives a plain scalar with text v, except that only empty text is null:
// "null" and "~" from the environment are strings.
func plainTag(v string) string {
	if v == "" {
		return "!!null"
	}
	tag := (&yaml.Node{Kind: yaml.ScalarNode, Value: v}).ShortTag()
	if tag == "!!null" {
		return "!!str"
	}
	return tag
}

// Parse decodes YAML over the defaults, expands ${ENV} references in its values and validates the
// result.
func Parse(src []byte, lookup func(string) (string, bool)) (Config, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return Config{}, fmt.Errorf("parse config: %w", err)
	}
	cfg := DefaultConfig()
	if len(doc.Content) > 0 { // an empty file means all defaults
		if err := Expand(&doc, lookup); err != nil {
			return Config{}, err
		}
		if err := decodeStrict(&doc, &cfg); err != nil {
			return Config{}, fmt.Errorf("parse config: %w", err)
		}
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// decodeStrict decodes doc into v, rejecting unknown keys. yaml.v3 checks keys only when it decodes
// text, so doc is encoded again; the lines its errors name are mapped back to the source's.
func decodeStrict(doc *yaml.Node, v any) error {
	text, err := yaml.Marshal(doc)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(text))
	dec.KnownFields(true)
	err = dec.Decode(v)
	if te, ok := errors.AsType[*yaml.TypeError](err); ok {
		var again yaml.Node
		if yaml.Unmarshal(text, &again) == nil {
			lines := map[int]int{}
			mapLines(&again, doc, lines)
			for i, e := range te.Errors {
				te.Errors[i] = errLine.ReplaceAllStringFunc(e, func(m string) string {
					n, _ := strconv.Atoi(errLine.FindStringSubmatch(m)[1])
					if orig, ok := lines[n]; ok {
						n = orig
					}
					return "line " + strconv.Itoa(n) + ":"
				})
			}
		}
	}
	return err
}

var errLine = regexp.MustCompile(`^line (\d+):`)

// mapLines records, for two trees of the same shape, the line in b of each line in a.
func mapLines(a, b *yaml.Node, lines map[int]int) {
	if _, ok := lines[a.Line]; !ok {
		lines[a.Line] = b.Line
	}
	if len(a.Content) != len(b.Content) {
		return
	}
	for i := range a.Content {
		mapLines(a.Content[i], b.Content[i], lines)
	}
}

// Room kept free so that every dead letter can be produced: a dead letter adds headers to its
// record, and a batch its own overhead to the records in it.
const (
	deadLetterHeaderRoom = 16 << 10
	batchOverheadRoom    = 64 << 10
)

// deadLettersFit checks that a record within ingest.max_record_bytes is dead-lettered whole and that
// the largest dead letter (ingest.MaxDeadLetterBytes: larger ones are cut) fits a producer batch.
func (c Config) deadLettersFit() error {
	var errs []error
	if most := ingest.MaxDeadLetterBytes - deadLetterHeaderRoom; c.Ingest.MaxRecordBytes > most {
		errs = append(errs, fmt.Errorf("ingest.max_record_bytes: %d is above %d, the most that a dead letter holds whole with its headers",
			c.Ingest.MaxRecordBytes, most))
	}
	if least := int32(ingest.MaxDeadLetterBytes + batchOverheadRoom); c.Kafka.ProducerBatchMaxBytes < least {
		errs = append(errs, fmt.Errorf("kafka.producer_batch_max_bytes: %d is below %d, the largest dead letter with a batch's overhead",
			c.Kafka.ProducerBatchMaxBytes, least))
	}
	return errors.Join(errs...)
}

// Validate checks every section; the error lists every bad field.
func (c Config) Validate() error {
	errs := []error{c.Kafka.Validate(), c.Redis.Validate()}
	if err := c.ClickHouse.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("clickhouse: %w", err))
	}
	errs = append(errs, c.HTTP.Validate())
	if c.Ingest.MaxRecordBytes < 256 {
		errs = append(errs, fmt.Errorf("ingest.max_record_bytes: %d is below 256", c.Ingest.MaxRecordBytes))
	}
	errs = append(errs, c.deadLettersFit())
	if c.Ingest.MaxFields < 1 || c.Ingest.MaxIDBytes < 1 || c.Ingest.MaxStringBytes < 1 {
		errs = append(errs, errors.New("ingest.max_fields, ingest.max_id_bytes, ingest.max_string_bytes: must be positive"))
	}
	errs = append(errs, c.Features.Validate(), c.Model.Validate(), c.Predictor.Validate(), c.Alerts.Validate(),
		c.validateChallengers(), c.Join.Validate(), c.Learner.Validate(), c.Drift.Validate(), c.Log.Validate())
	return errors.Join(errs...) // Join drops the nils
}

// validateChallengers checks each challenger's spec and that no two models share a name.
func (c Config) validateChallengers() error {
	var errs []error
	names := map[string]bool{c.Model.Name: true}
	for i, ch := range c.Challengers {
		if err := learner.Spec(ch).Validate(); err != nil {
			errs = append(errs, fmt.Errorf("challengers[%d]: %w", i, err))
		}
		if names[ch.Name] {
			errs = append(errs, fmt.Errorf("challengers[%d].name: %q is already used by another model", i, ch.Name))
		}
		names[ch.Name] = true
	}
	return errors.Join(errs...)
}

// Validate checks the redis section.
func (r Redis) Validate() error {
	var errs []error
	if r.Addr == "" && len(r.Addrs) == 0 {
		errs = append(errs, errors.New("redis.addr: required (or redis.addrs for a cluster)"))
	}
	if r.EntityTTL < time.Minute {
		errs = append(errs, fmt.Errorf("redis.entity_ttl: %s is shorter than a minute", r.EntityTTL))
	}
	if r.NearCacheEntries < 0 || r.NearCacheEntries > 1<<24 {
		errs = append(errs, fmt.Errorf("redis.near_cache_entries: %d must be in 0..16777216", r.NearCacheEntries))
	}
	if r.DB < 0 || r.DB > 15 {
		errs = append(errs, fmt.Errorf("redis.db: %d must be in 0..15", r.DB))
	}
	return errors.Join(errs...)
}

// Validate checks the join section.
func (j Join) Validate() error {
	var errs []error
	if j.SweepInterval < 10*time.Millisecond {
		errs = append(errs, fmt.Errorf("join.sweep_interval: %s is below 10ms", j.SweepInterval))
	}
	if j.Horizon < time.Second {
		errs = append(errs, fmt.Errorf("join.horizon: %s is shorter than a second", j.Horizon))
	}
	return errors.Join(errs...)
}

// Validate checks the learner section.
func (l Learner) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if l.LeaseTTL < 100*time.Millisecond {
		add("learner.lease_ttl: %s is below 100ms", l.LeaseTTL)
	}
	if sn := l.Snapshots; sn.Interval < time.Second || sn.KeepHourly < 0 || sn.KeepDaily < sn.KeepHourly ||
		sn.ReportOutcomes < 1 || sn.ReportOutcomes > 1_000_000 {
		add("learner.snapshots: interval %s must be ≥ 1s, keep_hourly %s ≥ 0, keep_daily %s ≥ keep_hourly, report_outcomes %d in 1..1000000",
			sn.Interval, sn.KeepHourly, sn.KeepDaily, sn.ReportOutcomes)
	}
	if l.PublishInterval < 10*time.Millisecond {
		add("learner.publish_interval: %s is below 10ms", l.PublishInterval)
	}
	if d := l.DeltaInterval; d != 0 && d < 10*time.Millisecond {
		add("learner.delta_interval: %s is neither 0 (off) nor at least 10ms", d)
	}
	if n := l.DeltaMaxRows; n < 1 || n > 1<<24 {
		add("learner.delta_max_rows: %d is not in 1..16777216", n)
	}
	if r := l.Retrain; r.MinOutcomes < 10 || r.Margin < 0 || r.MaxShadow < time.Second {
		add("learner.retrain: min_outcomes %d must be ≥ 10, margin %g ≥ 0, max_shadow %s ≥ 1s", r.MinOutcomes, r.Margin, r.MaxShadow)
	}
	switch l.Device {
	case "auto", "cpu", "cuda":
	default:
		add("learner.device: %q is not auto, cpu or cuda", l.Device)
	}
	if l.Batch < 1 || l.Batch > 1<<16 {
		add("learner.batch: %d is not in 1..65536", l.Batch)
	}
	if l.ActiveInputs < 1 {
		add("learner.active_inputs: %d is below 1", l.ActiveInputs)
	}
	if l.MetricsWindow < 10 {
		add("learner.metrics_window: %d is below 10", l.MetricsWindow)
	}
	return errors.Join(errs...)
}

// Validate checks the drift section.
func (d Drift) Validate() error {
	var errs []error
	if d.LeaseTTL < 100*time.Millisecond {
		errs = append(errs, fmt.Errorf("drift.lease_ttl: %s is below 100ms", d.LeaseTTL))
	}
	if d.Window < time.Second {
		errs = append(errs, fmt.Errorf("drift.window: %s is shorter than a second", d.Window))
	}
	if d.FlushInterval < 10*time.Millisecond {
		errs = append(errs, fmt.Errorf("drift.flush_interval: %s is below 10ms", d.FlushInterval))
	}
	if err := d.MonitorConfig().Validate(); err != nil {
		errs = append(errs, fmt.Errorf("drift: %w", err))
	}
	return errors.Join(errs...)
}

// Validate checks the log section.
func (l Log) Validate() error {
	var errs []error
	switch l.Level {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log.level: %q is not debug, info, warn or error", l.Level))
	}
	switch l.Format {
	case "text", "json":
	default:
		errs = append(errs, fmt.Errorf("log.format: %q is not text or json", l.Format))
	}
	return errors.Join(errs...)
}
