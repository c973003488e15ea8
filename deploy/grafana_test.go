package deploy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/streamlearn/streamlearn/internal/testenv"
	"github.com/streamlearn/streamlearn/sinks/chsink"
	"github.com/streamlearn/streamlearn/wire"
)

const (
	promDS = "streamlearn-prometheus"
	chDS   = "streamlearn-clickhouse"
)

// query is one query of a dashboard: a panel's target or a template variable's query.
type query struct {
	where    string // dashboard file and panel title
	ds       string // data source uid
	expr     string // PromQL (Prometheus)
	rawSQL   string // SQL (ClickHouse)
	panelDS  string // the panel's own data source uid ("" for a variable)
	variable bool
}

// dashboardQueries reads every dashboard of grafana/dashboards.
func dashboardQueries(t *testing.T) []query {
	t.Helper()
	files, err := filepath.Glob("grafana/dashboards/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboards in grafana/dashboards (%v)", err)
	}
	type ds struct {
		UID string `json:"uid"`
	}
	var out []query
	for _, f := range files {
		var d struct {
			UID    string `json:"uid"`
			Panels []struct {
				Title      string `json:"title"`
				Datasource ds     `json:"datasource"`
				Targets    []struct {
					Datasource ds     `json:"datasource"`
					Expr       string `json:"expr"`
					RawSQL     string `json:"rawSql"`
				} `json:"targets"`
			} `json:"panels"`
			Templating struct {
				List []struct {
					Name       string `json:"name"`
					Datasource ds     `json:"datasource"`
					Query      string `json:"query"`
				} `json:"list"`
			} `json:"templating"`
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if d.UID == "" || len(d.Panels) == 0 {
			t.Errorf("%s: no uid or no panels", f)
		}
		for _, p := range d.Panels {
			if len(p.Targets) == 0 {
				t.Errorf("%s: panel %q has no query", f, p.Title)
			}
			for _, tg := range p.Targets {
				out = append(out, query{where: f + ": " + p.Title, ds: tg.Datasource.UID, panelDS: p.Datasource.UID, expr: tg.Expr, rawSQL: tg.RawSQL})
			}
		}
		for _, v := range d.Templating.List {
			out = append(out, query{where: f + ": variable " + v.Name, ds: v.Datasource.UID, rawSQL: v.Query, variable: true})
		}
	}
	return out
}

// TestGrafanaDashboards checks the dashboards against the provisioning: every query names a
// provisioned data source (its panel's), a Prometheus query is valid PromQL (promtool) and a
// ClickHouse query is SQL; the dashboards provider reads where compose.yaml mounts them.
func TestGrafanaDashboards(t *testing.T) {
	var dsf struct {
		Datasources []struct {
			UID  string `yaml:"uid"`
			Type string `yaml:"type"`
		} `yaml:"datasources"`
	}
	decodeFile(t, "grafana/provisioning/datasources/streamlearn.yaml", &dsf)
	types := map[string]string{}
	for _, d := range dsf.Datasources {
		types[d.UID] = d.Type
	}
	if types[promDS] != "prometheus" || types[chDS] != "grafana-clickhouse-datasource" {
		t.Fatalf("provisioned data sources %v, want %s (prometheus) and %s (grafana-clickhouse-datasource)", types, promDS, chDS)
	}

	var exprs []string
	for _, q := range dashboardQueries(t) {
		switch {
		case !q.variable && q.ds != q.panelDS:
			t.Errorf("%s: target data source %q, panel's %q", q.where, q.ds, q.panelDS)
		case q.ds == promDS && q.expr != "" && q.rawSQL == "":
			exprs = append(exprs, strings.ReplaceAll(q.expr, "$__rate_interval", "5m"))
		case q.ds == chDS && q.rawSQL != "" && q.expr == "":
		default:
			t.Errorf("%s: data source %q with expr %q and rawSql %q", q.where, q.ds, q.expr, q.rawSQL)
		}
	}

	var provider struct {
		Providers []struct {
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	decodeFile(t, "grafana/provisioning/dashboards/streamlearn.yaml", &provider)
	var cf struct {
		Services map[string]struct {
			Volumes []string `yaml:"volumes"`
		} `yaml:"services"`
	}
	decodeFile(t, "compose.yaml", &cf)
	if len(provider.Providers) != 1 || !strings.Contains(strings.Join(cf.Services["grafana"].Volumes, " "), "./grafana/dashboards:"+provider.Providers[0].Options.Path+":ro") {
		t.Errorf("dashboards provider reads %+v; compose mounts %v", provider.Providers, cf.Services["grafana"].Volumes)
	}

	// promtool parses every PromQL expression, given as recording rules.
	promtool := testenv.Tool(t, "promtool")
	var rules strings.Builder
	rules.WriteString("groups:\n  - name: dashboards\n    rules:\n")
	for i, e := range exprs {
		b, _ := json.Marshal(e)
		fmt.Fprintf(&rules, "      - record: dashboard:expr%d\n        expr: %s\n", i, b)
	}
	path := filepath.Join(t.TempDir(), "dashboards.yml")
	if err := os.WriteFile(path, []byte(rules.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "check", "rules", path).CombinedOutput(); err != nil {
		t.Errorf("promtool check rules on the dashboards' PromQL: %v\n%s", err, out)
	}
}

var timeFilter = regexp.MustCompile(`\$__timeFilter\(([a-z_]+)\)`)

// TestGrafanaClickHouseQueries runs every ClickHouse query of the dashboards, Grafana's macros
// replaced by plain conditions over the last day, against a real ClickHouse with streamlearn's
// schema and a few rows of each table: each must run and return rows.
func TestGrafanaClickHouseQueries(t *testing.T) {
	addr := testenv.ClickHouse(t)
	ctx := testenv.Context(t, 2*time.Minute)
	cfg := chsink.DefaultConfig()
	cfg.Addr = []string{addr}
	cfg.Database = fmt.Sprintf("deploy_grafana_%d", time.Now().UnixNano()%1e9)
	w, err := chsink.Open(ctx, cfg, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = w.Conn().Exec(context.Background(), "DROP DATABASE IF EXISTS "+cfg.Database)
		w.Close()
	})

	const model = "fraud"
	now := time.Now().UTC().Truncate(time.Second)
	hour := now.Add(-2 * time.Hour).Truncate(time.Hour)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(w.AddPredictions(ctx, wire.PredictionRow{ID: "e-1", Entity: "u-1", Model: model, Version: 3, Score: 0.7, Route: "champion", Time: now.Add(-time.Hour), ScoredAt: now.Add(-time.Hour)}))
	must(w.AddFeatureDrift(ctx, wire.FeatureDriftRow{WindowStart: hour, WindowEnd: hour.Add(time.Hour), Model: model, Feature: "amount", Kind: "numeric",
		N: 500, PSI: 1.2, KSPValue: 1e-9, Chi2PValue: 1e-9, ReferenceStart: hour.Add(-time.Hour), Drifted: true, Updated: now}))
	for _, p := range []struct {
		version int64
		segment string
	}{{-1, ""}, {3, ""}, {-1, "country=DE"}} {
		must(w.AddPerformance(ctx, wire.PerformanceRow{WindowStart: hour, WindowEnd: hour.Add(time.Hour), Model: model, Version: p.version, Segment: p.segment,
			N: 400, Positives: 40, LabelCoverage: 0.9, AUC: 0.8, LogLoss: 0.4, Brier: 0.1, ECE: 0.02, Updated: now}))
	}
	must(w.AddDriftAlerts(ctx, wire.DriftAlertRow{Time: now.Add(-time.Hour), Model: model, Kind: "feature_drift", Reason: "amount drifted", Value: 1.2, Threshold: 0.2, Features: []string{"amount"}, AlertID: "a-1"}))
	must(w.AddRetrainEvents(ctx, wire.RetrainEventRow{Time: now.Add(-time.Hour), Model: model, Step: "triggered", Reason: "feature_drift", ChampionVersion: 3, EventID: "a-1"}))
	must(w.AddModelVersions(ctx, wire.ModelVersionRow{Time: now.Add(-time.Hour), Model: model, Version: 3, Parent: 2, Spec: "{}", ExamplesFrom: hour, ExamplesTo: now, Examples: 1000, AUC: 0.8, LogLoss: 0.4, Status: "published", Updated: now}))
	must(w.Flush(ctx))

	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{addr}, Auth: clickhouse.Auth{Database: cfg.Database}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	from, to := now.Add(-24*time.Hour).Unix(), now.Add(time.Minute).Unix()
	n := 0
	for _, q := range dashboardQueries(t) {
		if q.ds != chDS {
			continue
		}
		n++
		sql := timeFilter.ReplaceAllString(q.rawSQL, fmt.Sprintf("$1 >= toDateTime(%d) AND $1 <= toDateTime(%d)", from, to))
		sql = strings.ReplaceAll(sql, "${model}", model)
		if strings.Contains(sql, "$") {
			t.Errorf("%s: a macro or variable the test does not replace: %s", q.where, sql)
			continue
		}
		rows, err := conn.Query(ctx, sql)
		if err != nil {
			t.Errorf("%s: %v\n%s", q.where, err, sql)
			continue
		}
		got := 0
		for rows.Next() {
			got++
		}
		if err := rows.Err(); err != nil {
			t.Errorf("%s: %v", q.where, err)
		}
		rows.Close()
		if got == 0 {
			t.Errorf("%s: no rows from the seeded tables:\n%s", q.where, sql)
		}
	}
	if n == 0 {
		t.Fatal("no ClickHouse queries in the dashboards")
	}
}
