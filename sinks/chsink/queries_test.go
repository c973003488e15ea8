package chsink_test

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/streamlearn/streamlearn/internal/testenv"
	"github.com/streamlearn/streamlearn/sinks/chsink"
	"github.com/streamlearn/streamlearn/wire"
)

const queriesFile = "../../docs/queries.sql"

type namedQuery struct{ name, sql string }

// parseQueries splits a file into the queries that follow "-- name: xxx" lines.
func parseQueries(t *testing.T, path string) []namedQuery {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var qs []namedQuery
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if name, ok := strings.CutPrefix(line, "-- name:"); ok {
			qs = append(qs, namedQuery{name: strings.TrimSpace(name)})
			continue
		}
		if len(qs) == 0 || strings.HasPrefix(strings.TrimSpace(line), "--") {
			continue
		}
		qs[len(qs)-1].sql += line + "\n"
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for i := range qs {
		qs[i].sql = strings.TrimSuffix(strings.TrimSpace(qs[i].sql), ";")
		if qs[i].name == "" || qs[i].sql == "" || strings.Contains(qs[i].sql, ";") {
			t.Fatalf("%s: query %d (%q) is empty or holds more than one statement", path, i+1, qs[i].name)
		}
	}
	return qs
}

// seedAnalytics writes a small history: model fraud v1 served until a promotion 2 days ago, then
// v2; feature amount drifted in 3 windows; half the predictions got labels.
func seedAnalytics(t testing.TB, w *chsink.Writer, now time.Time) {
	t.Helper()
	promoted := now.Add(-48 * time.Hour).Truncate(time.Hour)
	for h := 96; h > 0; h-- {
		start := now.Add(-time.Duration(h) * time.Hour).Truncate(time.Hour)
		version, auc := int64(1), 0.70
		if !start.Before(promoted) {
			version, auc = 2, 0.80
		}
		for _, seg := range []struct {
			name string
			auc  float64
		}{{"", auc}, {"country=DE", auc + 0.05}, {"country=FR", auc - 0.05}} {
			mustAdd(t, w.AddPerformance(context.Background(), wire.PerformanceRow{WindowStart: start, WindowEnd: start.Add(time.Hour), Model: "fraud", Version: version,
				Segment: seg.name, N: 100, Positives: 10, LabelCoverage: 0.5, MeanDelaySeconds: 30, AUC: seg.auc, LogLoss: 0.4, Brier: 0.1, ECE: 0.02}))
		}
		for _, f := range []string{"amount", "country"} {
			drifted := f == "amount" && h <= 3
			psi := 0.05
			if drifted {
				psi = 0.4
			}
			mustAdd(t, w.AddFeatureDrift(context.Background(), wire.FeatureDriftRow{WindowStart: start, WindowEnd: start.Add(time.Hour), Model: "fraud", Feature: f,
				Kind: "numeric", N: 100, PSI: psi, KS: psi / 2, KSPValue: 0.5, Drifted: drifted}))
		}
	}
	for i, step := range []string{"triggered", "training", "shadow", "promoted"} {
		mustAdd(t, w.AddRetrainEvents(context.Background(), wire.RetrainEventRow{Time: promoted.Add(time.Duration(i-3) * 10 * time.Minute), Model: "fraud", Step: step,
			Reason: "psi(amount) > 0.2", ChampionVersion: 1, ChallengerVersion: 2, ChampionMetric: 0.70, ChallengerMetric: 0.81, EventID: "r-1"}))
	}
	mustAdd(t, w.AddModelVersions(context.Background(),
		wire.ModelVersionRow{Time: now.Add(-30 * 24 * time.Hour), Model: "fraud", Version: 1, Examples: 1000, AUC: 0.72, Status: "retired"},
		wire.ModelVersionRow{Time: promoted.Add(-20 * time.Minute), Model: "fraud", Version: 2, Parent: 1, Examples: 5000, AUC: 0.82, Status: "champion"},
	))
	for i := range 100 {
		version := int64(1)
		if i >= 60 {
			version = 2
		}
		at := now.Add(-time.Duration(100-i) * 5 * time.Minute)
		id := fmt.Sprintf("e-%d", i)
		mustAdd(t, w.AddPredictions(context.Background(), wire.PredictionRow{ID: id, Model: "fraud", Version: version, Score: 0.3, Route: "champion", Time: at, ScoredAt: at}))
		if i%2 == 0 {
			mustAdd(t, w.AddOutcomes(context.Background(), wire.OutcomeRow{ID: id, Label: 1, Time: at.Add(time.Duration(i) * time.Second), ReceivedAt: at.Add(time.Duration(i) * time.Second),
				Model: "fraud", Version: version, Score: 0.3, Joined: true, DelaySeconds: float64(i)}))
		}
	}
	mustAdd(t, w.AddDriftAlerts(context.Background(), wire.DriftAlertRow{Time: now.Add(-time.Hour), Model: "fraud", Kind: "feature", Reason: "psi above threshold",
		Value: 0.4, Threshold: 0.2, Features: []string{"amount", "country"}, AlertID: "a-1"}))
}

type resultRows = []map[string]any

// queryChecks says what a sensible answer to each query is, given seedAnalytics.
var queryChecks = map[string]func(t *testing.T, rows resultRows){
	"drifted_features_this_week": func(t *testing.T, rows resultRows) {
		wantRows(t, rows, 1)
		wantValue(t, rows[0], "feature", "amount")
		wantValue(t, rows[0], "drifted_windows", uint64(3))
		wantFloat(t, rows[0], "max_psi", 0.4)
	},
	"auc_around_retrains": func(t *testing.T, rows resultRows) {
		wantRows(t, rows, 1)
		wantFloat(t, rows[0], "auc_before", 0.70)
		wantFloat(t, rows[0], "auc_after", 0.80)
		wantFloat(t, rows[0], "auc_change", 0.10)
	},
	"versions_offline_vs_online": func(t *testing.T, rows resultRows) {
		wantRows(t, rows, 2)
		wantFloat(t, rows[1], "offline_auc", 0.82)
		wantFloat(t, rows[1], "online_auc", 0.80)
		wantValue(t, rows[1], "online_examples", int64(4800))
	},
	"performance_by_segment": func(t *testing.T, rows resultRows) {
		wantRows(t, rows, 6)
		for _, r := range rows {
			if r["version"] == int64(2) && r["segment_name"] == "country=DE" {
				wantFloat(t, r, "mean_auc", 0.85)
				return
			}
		}
		t.Errorf("no row for version 2, country=DE: %v", rows)
	},
	"label_delay_and_coverage": func(t *testing.T, rows resultRows) {
		var predicted, labeled uint64
		for _, r := range rows {
			predicted += r["predicted"].(uint64)
			labeled += r["labeled"].(uint64)
		}
		if predicted != 100 || labeled != 50 {
			t.Errorf("predicted, labeled = %d, %d; want 100, 50", predicted, labeled)
		}
	},
	"prediction_volume_per_version": func(t *testing.T, rows resultRows) {
		perVersion := map[int64]uint64{}
		for _, r := range rows {
			perVersion[r["version"].(int64)] += r["predicted"].(uint64)
		}
		if perVersion[1] != 60 || perVersion[2] != 40 {
			t.Errorf("predictions per version = %v, want 1:60 2:40", perVersion)
		}
	},
	"recent_drift_alerts": func(t *testing.T, rows resultRows) {
		wantRows(t, rows, 1)
		wantValue(t, rows[0], "feature_list", "amount, country")
	},
	"retrain_outcomes": func(t *testing.T, rows resultRows) {
		wantRows(t, rows, 1)
		wantValue(t, rows[0], "trigger_reason", "psi(amount) > 0.2")
		wantValue(t, rows[0], "last_step", "promoted")
		wantValue(t, rows[0], "challenger", int64(2))
		wantValue(t, rows[0], "duration_seconds", int64(1800))
	},
}

func TestAnalystQueries(t *testing.T) {
	addr := testenv.ClickHouse(t)
	w := open(t, testConfig(t, addr), nil)
	ctx := testenv.Context(t, 2*time.Minute)
	seedAnalytics(t, w, time.Now())
	if err := w.Flush(ctx); err != nil {
		t.Fatalf("seed: %v", err)
	}
	runAnalystQueries(ctx, t, connTo(t, addr, w.Database()))
}

// runAnalystQueries runs every query of docs/queries.sql on conn and checks its answer against
// what seedAnalytics wrote.
func runAnalystQueries(ctx context.Context, t *testing.T, conn driver.Conn) {
	t.Helper()
	queries := parseQueries(t, queriesFile)
	seen := map[string]bool{}
	for _, q := range queries {
		seen[q.name] = true
		t.Run(q.name, func(t *testing.T) {
			check, ok := queryChecks[q.name]
			if !ok {
				t.Fatalf("no check for query %s: add one to queryChecks", q.name)
			}
			rows, err := queryMaps(ctx, conn, q.sql)
			if err != nil {
				t.Fatalf("query failed: %v\n%s", err, q.sql)
			}
			check(t, rows)
			if t.Failed() {
				t.Logf("rows: %v", rows)
			}
		})
	}
	for name := range queryChecks {
		if !seen[name] {
			t.Errorf("check %s has no query in %s", name, queriesFile)
		}
	}
}

func wantRows(t *testing.T, rows resultRows, n int) {
	t.Helper()
	if len(rows) != n {
		t.Fatalf("got %d rows, want %d", len(rows), n)
	}
}

func wantValue(t *testing.T, row map[string]any, col string, want any) {
	t.Helper()
	if got := row[col]; got != want {
		t.Errorf("%s = %#v, want %#v", col, got, want)
	}
}

func wantFloat(t *testing.T, row map[string]any, col string, want float64) {
	t.Helper()
	got, ok := row[col].(float64)
	if !ok || math.Abs(got-want) > 1e-9 {
		t.Errorf("%s = %#v, want %v", col, row[col], want)
	}
}
