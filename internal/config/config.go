// Package config reads streamlearn's YAML configuration: defaults for everything, ${ENV} expansion,
// strict decoding (unknown keys are errors) and validation with errors that name the field.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/streamlearn/streamlearn/drift"
	"github.com/streamlearn/streamlearn/features"
	"github.com/streamlearn/streamlearn/ingest"
	"github.com/streamlearn/streamlearn/internal/kafka"
	"github.com/streamlearn/streamlearn/learner"
	learnkafka "github.com/streamlearn/streamlearn/learner/kafka"
	"github.com/streamlearn/streamlearn/predictor"
	"github.com/streamlearn/streamlearn/sinks/clickhouse"
)

// Config is the whole configuration of the binary. Every field has a default (DefaultConfig).
type Config struct {
	Kafka      kafka.Config      `yaml:"kafka"`
	Redis      Redis             `yaml:"redis"`
	ClickHouse clickhouse.Config `yaml:"clickhouse"`
	HTTP       HTTP              `yaml:"http"`
	Ingest     ingest.Limits     `yaml:"ingest"`
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
}

// HTTP configures the API server.
type HTTP struct {
	Addr string `yaml:"addr"`
	// TLSCertFile and TLSKeyFile enable HTTPS.
	TLSCertFile string `yaml:"tls_cert_file"`
	TLSKeyFile  string `yaml:"tls_key_file"`
	// AuthToken, or the token read from AuthTokenFile, is required as "Authorization: Bearer <token>"
	// on /v1/ routes when set. /metrics, /healthz and /readyz stay open.
	AuthToken     string `yaml:"auth_token"`
	AuthTokenFile string `yaml:"auth_token_file"`
	// MaxBodyBytes bounds a request body (default 1 MiB); MaxEvents bounds a scoring batch (default 1000).
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	MaxEvents    int   `yaml:"max_events"`
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
	// AutoPromote makes every published version the champion (default true).
	AutoPromote bool `yaml:"auto_promote"`
	// MetricsWindow is the number of recent examples progressive AUC and logloss cover (default 5000).
	MetricsWindow int `yaml:"metrics_window"`
	// Retrain says how retrain commands from the drift trigger are carried out.
	Retrain learnkafka.RetrainPolicy `yaml:"retrain"`
	// Device is where models train: cpu (one example at a time), cuda (an NVIDIA GPU, in minibatches
	// of Batch; an error without one) or auto (the GPU where it beats the CPU, default).
	Device string `yaml:"device"`
	// Batch is the minibatch size on the GPU (default 256).
	Batch int `yaml:"batch"`
	// ActiveInputs is the typical number of nonzero model inputs per example, which --device auto
	// weighs with Batch (default 64).
	ActiveInputs int `yaml:"active_inputs"`
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
	return Config{
		Kafka:      kafka.DefaultConfig(),
		Redis:      Redis{Addr: "127.0.0.1:6379", KeyPrefix: "sl:", EntityTTL: 8 * 24 * time.Hour, PoolSize: 32},
		ClickHouse: clickhouse.DefaultConfig(),
		HTTP:       HTTP{Addr: "127.0.0.1:8080", MaxBodyBytes: 1 << 20, MaxEvents: 1000},
		Ingest:     ingest.DefaultLimits(),
		Features:   features.DefaultConfig(),
		Model:      spec,
		Join:       Join{Horizon: 24 * time.Hour, SweepInterval: time.Second},
		Learner:    Learner{PublishInterval: 2 * time.Second, AutoPromote: true, MetricsWindow: 5000, Retrain: learnkafka.DefaultRetrainPolicy(), Device: "auto", Batch: 256, ActiveInputs: 64},
		Drift:      Drift{Window: time.Hour, AllowedLateness: time.Hour, Bins: 10, PSIThreshold: 0.2, FlushInterval: time.Second, MaxSegmentValues: 100, Threshold: 0.5, Trigger: drift.DefaultTriggerConfig()},
		Log:        Log{Level: "info", Format: "text"},
		Predictor:  predictor.DefaultConfig(),
	}
}

// MonitorConfig returns the drift monitor's configuration.
func (d Drift) MonitorConfig() drift.MonitorConfig {
	c := drift.DefaultMonitorConfig()
	c.Window, c.AllowedLateness, c.Bins, c.PSIThreshold = d.Window, d.AllowedLateness, d.Bins, d.PSIThreshold
	c.OutcomeLateness, c.Segments, c.MaxSegmentValues, c.Threshold, c.Trigger = d.OutcomeLateness, d.Segments, d.MaxSegmentValues, d.Threshold, d.Trigger
	return c
}

// Load reads a YAML file over the defaults. ${VAR} and ${VAR:-default} are replaced from the
// environment before parsing; a reference to an unset variable without a default is an error.
func Load(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read config: %w", err)
	}
	return Parse(b, os.LookupEnv)
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}`)

// Expand replaces ${VAR} and ${VAR:-default} using lookup. Whole-line comments are left alone, so
// documentation may mention ${VAR} without setting it.
func Expand(src []byte, lookup func(string) (string, bool)) ([]byte, error) {
	var missing []string
	lines := bytes.SplitAfter(src, []byte("\n"))
	for i, line := range lines {
		if bytes.HasPrefix(bytes.TrimSpace(line), []byte("#")) {
			continue
		}
		lines[i] = envRef.ReplaceAllFunc(line, func(m []byte) []byte {
			sub := envRef.FindSubmatch(m)
			name := string(sub[1])
			if v, ok := lookup(name); ok && v != "" {
				return []byte(v)
			}
			if len(sub[2]) > 0 {
				return sub[3]
			}
			missing = append(missing, name)
			return nil
		})
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("config refers to unset environment variables: %s", strings.Join(missing, ", "))
	}
	return bytes.Join(lines, nil), nil
}

// Parse decodes YAML (after ${ENV} expansion) over the defaults and validates the result.
func Parse(src []byte, lookup func(string) (string, bool)) (Config, error) {
	expanded, err := Expand(src, lookup)
	if err != nil {
		return Config{}, err
	}
	cfg := DefaultConfig()
	dec := yaml.NewDecoder(bytes.NewReader(expanded))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, errEOF(err)) {
		return Config{}, fmt.Errorf("parse config: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// errEOF lets an empty file mean "all defaults".
func errEOF(err error) error {
	if err != nil && err.Error() == "EOF" {
		return err
	}
	return nil
}

// Validate checks every section; the error lists every bad field.
func (c Config) Validate() error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	add(c.Kafka.Validate())
	if c.Redis.Addr == "" && len(c.Redis.Addrs) == 0 {
		add(errors.New("redis.addr: required (or redis.addrs for a cluster)"))
	}
	if c.Redis.EntityTTL < time.Minute {
		add(fmt.Errorf("redis.entity_ttl: %s is shorter than a minute", c.Redis.EntityTTL))
	}
	if c.Redis.DB < 0 || c.Redis.DB > 15 {
		add(fmt.Errorf("redis.db: %d must be in 0..15", c.Redis.DB))
	}
	if err := c.ClickHouse.Validate(); err != nil {
		add(fmt.Errorf("clickhouse: %w", err))
	}
	if c.HTTP.Addr == "" {
		add(errors.New("http.addr: required"))
	}
	if (c.HTTP.TLSCertFile == "") != (c.HTTP.TLSKeyFile == "") {
		add(errors.New("http.tls_cert_file, http.tls_key_file: set both or neither"))
	}
	if c.HTTP.MaxBodyBytes < 1024 {
		add(fmt.Errorf("http.max_body_bytes: %d is below 1024", c.HTTP.MaxBodyBytes))
	}
	if c.HTTP.MaxEvents < 1 {
		add(fmt.Errorf("http.max_events: %d must be at least 1", c.HTTP.MaxEvents))
	}
	if c.Ingest.MaxRecordBytes < 256 {
		add(fmt.Errorf("ingest.max_record_bytes: %d is below 256", c.Ingest.MaxRecordBytes))
	}
	if c.Ingest.MaxFields < 1 || c.Ingest.MaxIDBytes < 1 || c.Ingest.MaxStringBytes < 1 {
		add(errors.New("ingest.max_fields, ingest.max_id_bytes, ingest.max_string_bytes: must be positive"))
	}
	add(c.Features.Validate())
	if err := c.Model.Validate(); err != nil {
		add(err)
	}
	add(c.Predictor.Validate())
	names := map[string]bool{c.Model.Name: true}
	for i, ch := range c.Challengers {
		if err := learner.Spec(ch).Validate(); err != nil {
			add(fmt.Errorf("challengers[%d]: %w", i, err))
		}
		if names[ch.Name] {
			add(fmt.Errorf("challengers[%d].name: %q is already used by another model", i, ch.Name))
		}
		names[ch.Name] = true
	}
	if c.Join.SweepInterval < 10*time.Millisecond {
		add(fmt.Errorf("join.sweep_interval: %s is below 10ms", c.Join.SweepInterval))
	}
	if c.Join.Horizon < time.Second {
		add(fmt.Errorf("join.horizon: %s is shorter than a second", c.Join.Horizon))
	}
	if c.Learner.PublishInterval < 10*time.Millisecond {
		add(fmt.Errorf("learner.publish_interval: %s is below 10ms", c.Learner.PublishInterval))
	}
	if r := c.Learner.Retrain; r.MinOutcomes < 10 || r.Margin < 0 || r.MaxShadow < time.Second {
		add(fmt.Errorf("learner.retrain: min_outcomes %d must be ≥ 10, margin %g ≥ 0, max_shadow %s ≥ 1s", r.MinOutcomes, r.Margin, r.MaxShadow))
	}
	switch c.Learner.Device {
	case "auto", "cpu", "cuda":
	default:
		add(fmt.Errorf("learner.device: %q is not auto, cpu or cuda", c.Learner.Device))
	}
	if c.Learner.Batch < 1 || c.Learner.Batch > 1<<16 {
		add(fmt.Errorf("learner.batch: %d is not in 1..65536", c.Learner.Batch))
	}
	if c.Learner.ActiveInputs < 1 {
		add(fmt.Errorf("learner.active_inputs: %d is below 1", c.Learner.ActiveInputs))
	}
	if c.Learner.MetricsWindow < 10 {
		add(fmt.Errorf("learner.metrics_window: %d is below 10", c.Learner.MetricsWindow))
	}
	if c.Drift.Window < time.Second {
		add(fmt.Errorf("drift.window: %s is shorter than a second", c.Drift.Window))
	}
	if c.Drift.FlushInterval < 10*time.Millisecond {
		add(fmt.Errorf("drift.flush_interval: %s is below 10ms", c.Drift.FlushInterval))
	}
	if err := c.Drift.MonitorConfig().Validate(); err != nil {
		add(fmt.Errorf("drift: %w", err))
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		add(fmt.Errorf("log.level: %q is not debug, info, warn or error", c.Log.Level))
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		add(fmt.Errorf("log.format: %q is not text or json", c.Log.Format))
	}
	return errors.Join(errs...)
}
