package main_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCheck runs `streamlearn check` on valid and invalid configs and flags: exit 0 with a summary,
// or non-zero with every bad field named; it never connects (the addresses lead nowhere).
func TestCheck(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := build(t)
	dir := t.TempDir()
	file := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	example, _ := filepath.Abs("../../deploy/streamlearn.example.yaml")
	bad := file("bad.yaml", "redis:\n  db: 99\nlog:\n  level: loud\n")
	unknown := file("unknown.yaml", "kafka:\n  brokerz: [a:1]\n")
	cluster := file("cluster.yaml", "clickhouse:\n  addr: [ch-1:9000, ch-2:9000]\n  cluster: streamlearn\n")
	badCluster := file("bad-cluster.yaml", "clickhouse:\n  cluster: \"a'b\"\n")
	replicated := file("replicated.yaml", "clickhouse:\n  addr: [ch-1:9000]\n  cluster: streamlearn\n  replicated: true\n")
	replicatedAlone := file("replicated-alone.yaml", "clickhouse:\n  replicated: true\n")
	env := file("env.yaml", "redis:\n  addr: ${CHECK_TEST_UNSET_VAR}\n")
	tests := []struct {
		name string
		args []string
		ok   bool
		want []string // in the output
	}{
		{"defaults", nil, true, []string{"ok: serve config is valid", "127.0.0.1:9092"}},
		{"example config", []string{"--config", example}, true, []string{"ok: serve config is valid", "models: default"}},
		{"a role's command line", []string{"ingest", "--config", example, "--kafka", "192.0.2.1:9092,192.0.2.2:9092",
			"--redis", "192.0.2.3:6379", "--clickhouse", "192.0.2.4:9000"}, true,
			[]string{"ok: ingest config is valid", "192.0.2.1:9092,192.0.2.2:9092", "192.0.2.3:6379", "192.0.2.4:9000"}},
		{"embedded broker", []string{"predictor", "--embedded-kafka", "127.0.0.1:0"}, true, []string{"embedded 127.0.0.1:0"}},
		{"clickhouse cluster", []string{"drift", "--config", cluster}, true, []string{"clickhouse: cluster streamlearn via ch-1:9000,ch-2:9000"}},
		{"bad cluster name", []string{"--config", badCluster}, false, []string{"clickhouse.cluster"}},
		{"replicated cluster", []string{"drift", "--config", replicated}, true, []string{"clickhouse: replicated cluster streamlearn via ch-1:9000"}},
		{"replicated without a cluster", []string{"--config", replicatedAlone}, false, []string{"clickhouse.replicated: needs clickhouse.cluster"}},
		{"bad fields", []string{"--config", bad}, false, []string{"redis.db", "log.level"}},
		{"bad flags", []string{"--config", example, "--device", "gpu", "--log-level", "loud"}, false, []string{"learner.device", "log.level"}},
		{"unknown key", []string{"--config", unknown}, false, []string{"brokerz"}},
		{"unset variable", []string{"--config", env}, false, []string{"CHECK_TEST_UNSET_VAR"}},
		{"missing file", []string{"--config", filepath.Join(dir, "none.yaml")}, false, []string{"read config"}},
		{"unknown role", []string{"broker"}, false, []string{`role "broker"`}},
		{"unknown flag", []string{"--kafak", "x"}, false, []string{"unknown flag"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			cmd := exec.Command(bin, append([]string{"check"}, tt.args...)...)
			cmd.Env = append(os.Environ(), "KAFKA_BROKERS=", "REDIS_ADDR=", "CLICKHOUSE_ADDR=")
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			switch {
			case tt.ok && err != nil:
				t.Fatalf("check failed: %v\n%s", err, out)
			case !tt.ok && !errors.As(err, &exit):
				t.Fatalf("check passed (err %v), want a non-zero exit:\n%s", err, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("output does not contain %q:\n%s", w, out)
				}
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("check took %s: it must not connect", d)
			}
		})
	}
}
