package deploy_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamlearn/streamlearn/internal/testenv"
)

// TestAlertRules checks deploy/prometheus with promtool: the rules and the config load, and the
// unit tests of alerts_test.yml (each alert firing, and staying quiet, on made-up series) pass.
func TestAlertRules(t *testing.T) {
	promtool := testenv.Tool(t, "promtool")
	for _, args := range [][]string{
		{"check", "rules", "alerts.yml"},
		{"check", "config", "prometheus.yml"},
		{"test", "rules", "alerts_test.yml"},
	} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = "prometheus"
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// ruleExprs returns the expressions of every rule in a Prometheus rules file.
func ruleExprs(t *testing.T, path string) []string {
	t.Helper()
	var f struct {
		Groups []struct {
			Rules []struct {
				Expr string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	decodeFile(t, path, &f)
	var out []string
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			out = append(out, r.Expr)
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s has no rules", path)
	}
	return out
}

var metricName = regexp.MustCompile(`\bstreamlearn_[a-zA-Z0-9_]+`)

// usedMetrics returns the streamlearn metric names in PromQL expressions, with the place each is used.
func usedMetrics(where string, exprs []string) map[string]string {
	out := map[string]string{}
	for _, e := range exprs {
		for _, name := range metricName.FindAllString(e, -1) {
			out[name] = where
		}
	}
	return out
}

// TestMonitoringMetricsExported runs the binary on a small stream (valid and malformed events,
// outcomes) and checks that every metric the alert rules and dashboards query is on its /metrics.
func TestMonitoringMetricsExported(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	used := usedMetrics("prometheus/alerts.yml", ruleExprs(t, "prometheus/alerts.yml"))
	for name, where := range dashboardMetrics(t) {
		used[name] = where
	}
	families := scrapeRunningBinary(t)
	for name, where := range used {
		if _, ok := families[name]; ok {
			continue
		}
		base := name
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			base = strings.TrimSuffix(base, suffix)
		}
		if families[base] == "histogram" || families[base] == "summary" {
			continue
		}
		t.Errorf("%s queries %s, which the binary does not export", where, name)
	}
}

// dashboardMetrics returns the metrics the Grafana dashboards' Prometheus queries use.
func dashboardMetrics(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, q := range dashboardQueries(t) {
		if q.ds == promDS {
			for _, name := range metricName.FindAllString(q.expr, -1) {
				out[name] = q.where
			}
		}
	}
	return out
}

// scrapeRunningBinary starts `streamlearn serve` on the test servers, streams events (one
// malformed) and outcomes through it until a model version is published, and returns the metric
// families of its /metrics with their types.
func scrapeRunningBinary(t *testing.T) map[string]string {
	t.Helper()
	bin := binary(t)
	redis, ch := testenv.Redis(t), testenv.ClickHouse(t)
	kafkaAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	httpAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	cfgFile := filepath.Join(t.TempDir(), "streamlearn.yaml")
	now := time.Now().UnixNano()
	// A webhook is configured (nothing is sent to it: no drift here) so that its metrics are exported.
	cfg := fmt.Sprintf("redis:\n  key_prefix: \"deploytest:%d:\"\nclickhouse:\n  database: deploytest_%d\nlearner:\n  publish_interval: 200ms\nalerts:\n  webhook_url: http://127.0.0.1:%d/hook\n",
		now, now%1e9, testenv.FreePort(t))
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(bin, "serve", "--config", cfgFile, "--embedded-kafka", kafkaAddr, "--redis", redis,
		"--clickhouse", ch, "--http", httpAddr, "--log-level", "warn")
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	base := "http://" + httpAddr
	waitFor(t, 60*time.Second, "ready", &stderr, func() bool { code, _ := get(base + "/readyz"); return code == 200 })

	cl, err := kgo.NewClient(kgo.SeedBrokers(kafkaAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var recs []*kgo.Record
	for i := range 400 {
		ev := fmt.Sprintf(`{"id": "d-%d", "entity": "u-%d", "fields": {"amount": %d, "country": "c%d"}}`, i, i%20, i%50, i%3)
		recs = append(recs, &kgo.Record{Topic: "events", Key: fmt.Appendf(nil, "u-%d", i%20), Value: []byte(ev)})
	}
	recs = append(recs, &kgo.Record{Topic: "events", Value: []byte("not json")})
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	recs = recs[:0]
	for i := range 400 {
		recs = append(recs, &kgo.Record{Topic: "outcomes", Key: fmt.Appendf(nil, "d-%d", i), Value: fmt.Appendf(nil, `{"id": "d-%d", "label": %d}`, i, (i%50)/25)})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	var text string
	waitFor(t, 60*time.Second, "a published version served, and a dead letter, on /metrics", &stderr, func() bool {
		_, text = get(base + "/metrics")
		return strings.Contains(text, "\nstreamlearn_model_published_timestamp_seconds{") &&
			strings.Contains(text, "\nstreamlearn_model_data_age_seconds{") &&
			strings.Contains(text, "\nstreamlearn_invalid_records_total{") &&
			strings.Contains(text, "\nstreamlearn_kafka_consumer_lag{")
	})
	families := map[string]string{}
	for line := range strings.Lines(text) {
		if f, ok := strings.CutPrefix(line, "# TYPE "); ok {
			name, typ, _ := strings.Cut(strings.TrimSpace(f), " ")
			families[name] = typ
		}
	}
	return families
}

func get(url string) (int, string) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func waitFor(t *testing.T, d time.Duration, what string, log *bytes.Buffer, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s after %s; log:\n%s", what, d, log.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}
