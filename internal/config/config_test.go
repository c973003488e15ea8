package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/streamlearn/streamlearn/deploy"
	"github.com/streamlearn/streamlearn/internal/config"
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
}

func TestEmptyConfigIsDefaults(t *testing.T) {
	cfg, err := config.Parse(nil, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Model.Name != "default" || cfg.HTTP.Addr != "127.0.0.1:8080" {
		t.Errorf("defaults not applied: %+v", cfg)
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
	}
	for _, tt := range tests {
		_, err := config.Parse([]byte(tt.yaml), env(nil))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%q) = %v, want an error naming %q", tt.yaml, err, tt.want)
		}
	}
}

func TestExpand(t *testing.T) {
	got, err := config.Expand([]byte("a: ${A}\nb: ${B:-fallback}\nc: $NOT_A_REF"), env(map[string]string{"A": "x"}))
	if err != nil {
		t.Fatal(err)
	}
	if want := "a: x\nb: fallback\nc: $NOT_A_REF"; string(got) != want {
		t.Errorf("Expand = %q, want %q", got, want)
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
