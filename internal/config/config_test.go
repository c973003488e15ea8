package config_test

import (
	"maps"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/streamlearn/streamlearn/deploy"
	"github.com/streamlearn/streamlearn/internal/config"
	"github.com/streamlearn/streamlearn/learner"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestExampleConfigIsValid(t *testing.T) {
	cfg, err := config.Parse(deploy.ExampleConfig, env(map[string]string{"REDIS_ADDR": "10.0.0.5:6379"}))
	if err != nil {
		t.Fatalf("example config: %v", err)
	}
	if got, want := cfg.Redis.Addr, "10.0.0.5:6379"; got != want {
		t.Errorf("redis.addr = %q, want %q (from the environment)", got, want)
	}
	if got, want := cfg.Kafka.Brokers[0], "127.0.0.1:9092"; got != want {
		t.Errorf("kafka.brokers = %q, want the default %q", got, want)
	}
	if cfg.Drift.Window != time.Hour {
		t.Errorf("drift.window = %s", cfg.Drift.Window)
	}
	if got, want := cfg.Kafka.ProducerBatchMaxBytes, int32(1_000_000); got != want {
		t.Errorf("kafka.producer_batch_max_bytes = %d, want %d (under the broker's default 1048588)", got, want)
	}
}

func TestEmptyConfigIsDefaults(t *testing.T) {
	cfg, err := config.Parse(nil, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Model.Name != "default" || cfg.HTTP.Addr != "127.0.0.1:8080" {
		t.Errorf("defaults not applied: %+v", cfg)
	}
	if cfg.Learner.DeltaInterval != 250*time.Millisecond || cfg.Learner.DeltaMaxRows != 65536 {
		t.Errorf("learner deltas: interval %s, max rows %d, want 250ms and 65536", cfg.Learner.DeltaInterval, cfg.Learner.DeltaMaxRows)
	}
	off, err := config.Parse([]byte("learner:\n  delta_interval: 0s\n"), env(nil))
	if err != nil || off.Learner.DeltaInterval != 0 {
		t.Errorf("delta_interval: 0s = %v, %v; want deltas off", off.Learner.DeltaInterval, err)
	}
}

func TestParseErrorsNameTheField(t *testing.T) {
	tests := []struct{ yaml, want string }{
		{"redis:\n  db: 99\n", "redis.db"},
		{"http:\n  tls_cert_file: a.pem\n", "http.tls_cert_file"},
		{"kafka:\n  partitions: 0\n", "kafka.partitions"},
		{"log:\n  level: loud\n", "log.level"},
		{"drift:\n  window: 10ms\n", "drift.window"},
		{"kafka:\n  topics:\n    events: x\n    outcomes: x\n", "kafka.topics"},
		{"redis:\n  adress: typo\n", "adress"},
		{"redis:\n  password: ${REDIS_PASSWORD}\n", "REDIS_PASSWORD"},
		{"ingest:\n  max_record_bytes: 2000000\n", "ingest.max_record_bytes"},
		{"kafka:\n  producer_batch_max_bytes: 500000\n", "kafka.producer_batch_max_bytes"},
		{"kafka:\n  producer_batch_max_bytes: 0\n", "kafka.producer_batch_max_bytes"},
		{"clickhouse:\n  password: a\n  password_file: /run/pw\n", "clickhouse.password_file"},
		{"alerts:\n  webhook_url: ftp://example.com/hook\n", "alerts.webhook_url"},
		{"alerts:\n  webhook_url: hooks.example.com/x\n", "alerts.webhook_url"},
		{"alerts:\n  webhook_token_file: /run/secrets/hook\n", "alerts.webhook_token_file"},
		{"alerts:\n  webhook_url: https://h.example/x\n  webhook_timeout: 10ms\n", "alerts.webhook_timeout"},
		{"alerts:\n  webhook_max_attempts: 0\n", "alerts.webhook_max_attempts"},
		{"alerts:\n  webhook_queue: 0\n", "alerts.webhook_queue"},
		{"learner:\n  delta_interval: 5ms\n", "learner.delta_interval"},
		{"learner:\n  delta_interval: -1s\n", "learner.delta_interval"},
		{"learner:\n  delta_max_rows: 0\n", "learner.delta_max_rows"},
	}
	for _, tt := range tests {
		_, err := config.Parse([]byte(tt.yaml), env(nil))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%q) = %v, want an error naming %q", tt.yaml, err, tt.want)
		}
	}
}

func TestExpand(t *testing.T) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte("a: ${A}\nb: ${B:-fallback}\nc: $NOT_A_REF\n# d: ${UNSET}\ne: x # ${UNSET}\n"), &doc); err != nil {
		t.Fatal(err)
	}
	if err := config.Expand(&doc, env(map[string]string{"A": "x"})); err != nil {
		t.Fatal(err)
	}
	var got map[string]string
	if err := doc.Decode(&got); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"a": "x", "b": "fallback", "c": "$NOT_A_REF", "e": "x"}
	if !maps.Equal(got, want) {
		t.Errorf("Expand = %v, want %v", got, want)
	}
}

// An environment value is the literal text of the one scalar that refers to it: it cannot add keys,
// end the value at a comment or turn into null.
func TestParseEnvValueIsOneScalar(t *testing.T) {
	tests := []struct {
		name, yaml, value string
		get               func(config.Config) any
		want              any
	}{
		{"null", "clickhouse:\n  password: ${V}\n", "null", func(c config.Config) any { return c.ClickHouse.Password }, "null"},
		{"tilde", "redis:\n  username: ${V}\n", "~", func(c config.Config) any { return c.Redis.Username }, "~"},
		{"comment", "clickhouse:\n  password: ${V}\n", "a # b", func(c config.Config) any { return c.ClickHouse.Password }, "a # b"},
		{"colon", "redis:\n  password: ${V}\n", "k: v", func(c config.Config) any { return c.Redis.Password }, "k: v"},
		{"newline", "redis:\n  password: ${V}\n  db: 1\n", "x\ndb: 7", func(c config.Config) any { return c.Redis.Password }, "x\ndb: 7"},
		{"newline keeps db", "redis:\n  password: ${V}\n  db: 1\n", "x\ndb: 7", func(c config.Config) any { return c.Redis.DB }, 1},
		{"quoted", "redis:\n  password: \"${V}\"\n", "\" , x", func(c config.Config) any { return c.Redis.Password }, "\" , x"},
		{"in a list", "kafka:\n  brokers: [\"${V}\"]\n", "a:1\", \"b:2", func(c config.Config) any { return len(c.Kafka.Brokers) }, 1},
		{"number", "redis:\n  db: ${V}\n", "3", func(c config.Config) any { return c.Redis.DB }, 3},
		{"duration", "redis:\n  entity_ttl: ${V}\n", "2h", func(c config.Config) any { return c.Redis.EntityTTL }, 2 * time.Hour},
		{"bool", "redis:\n  tls: ${V}\n", "true", func(c config.Config) any { return c.Redis.TLS }, true},
		{"empty keeps the default", "clickhouse:\n  username: ${V:-}\n", "", func(c config.Config) any { return c.ClickHouse.Username }, "default"},
		{"not a reference", "redis:\n  password: $V\n", "x", func(c config.Config) any { return c.Redis.Password }, "$V"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.Parse([]byte(tt.yaml), env(map[string]string{"V": tt.value}))
			if err != nil {
				t.Fatal(err)
			}
			if got := tt.get(cfg); got != tt.want {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestParseErrorLinesAreTheSource(t *testing.T) {
	src := "# a comment\n\nredis:\n\n  password: ${V}\n\n\n  adress: typo\n"
	_, err := config.Parse([]byte(src), env(map[string]string{"V": "a"}))
	if err == nil || !strings.Contains(err.Error(), "line 8: field adress") {
		t.Errorf("Parse = %v, want an error naming line 8", err)
	}
}

func TestChallengersStartFromDefaults(t *testing.T) {
	cfg, err := config.Parse([]byte("challengers:\n  - name: fast\n    alpha: 0.9\n  - name: adagrad\n    optimizer: adagrad\n"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	ms := cfg.Models()
	if len(ms) != 3 || ms[1].Name != "fast" || ms[1].Alpha != 0.9 || ms[1].HashBits != cfg.Model.HashBits || ms[2].Optimizer != "adagrad" {
		t.Fatalf("models = %+v", ms)
	}
	if _, err := config.Parse([]byte("challengers:\n  - name: default\n"), env(nil)); err == nil || !strings.Contains(err.Error(), "challengers[0].name") {
		t.Errorf("a challenger named like the champion: %v", err)
	}
}

func TestAlertsConfig(t *testing.T) {
	cfg, err := config.Parse([]byte("alerts:\n  webhook_url: https://hooks.example.com/T0/secret\n  webhook_token_file: /run/secrets/hook\n  webhook_max_attempts: 3\n"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	a := cfg.Alerts
	if a.WebhookURL != "https://hooks.example.com/T0/secret" || a.WebhookTokenFile != "/run/secrets/hook" || a.WebhookMaxAttempts != 3 ||
		a.WebhookTimeout != 10*time.Second || a.WebhookQueue != 256 {
		t.Errorf("alerts = %+v, want the file's keys over the defaults (10s timeout, queue 256)", a)
	}
	if d := config.DefaultConfig().Alerts; d.WebhookURL != "" {
		t.Errorf("default alerts.webhook_url = %q, want none", d.WebhookURL)
	}
	_, err = config.Parse([]byte("alerts:\n  webhook_url: ftp://hooks.example.com/T0/secret\n"), env(nil))
	if err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("a bad webhook_url: %v; want an error that does not repeat the URL", err)
	}
}

// TestModelFamilies: zero config is family auto; a challenger names its own family and settings
// over the linear defaults; a bad family setting is refused, naming the field.
func TestModelFamilies(t *testing.T) {
	if f := config.DefaultConfig().Model.Family; f != learner.FamilyAuto {
		t.Fatalf("zero-config family %q, want auto", f)
	}
	cfg, err := config.Parse([]byte("model:\n  family: forest\n  tree: {trees: 4}\nchallengers:\n  - name: fm\n    family: fm\n    fm: {factors: 4}\n  - name: plain\n"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	ms := cfg.Models()
	if ms[0].Family != "forest" || ms[0].Tree.Trees != 4 || ms[1].Family != "fm" || ms[1].FM.Factors != 4 || ms[2].Family != "" {
		t.Fatalf("models = %+v", ms)
	}
	for src, want := range map[string]string{
		"model:\n  family: svm\n":                       "model.family",
		"model:\n  family: mlp\n  mlp: {hidden: [0]}\n": "model.mlp.hidden[0]",
		"model:\n  family: fm\n  task: regression\n":    "model.family",
	} {
		if _, err := config.Parse([]byte(src), env(nil)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want an error naming %s", src, err, want)
		}
	}
}
