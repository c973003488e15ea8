package chsink_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/streamlearn/streamlearn/internal/testenv"
	"github.com/streamlearn/streamlearn/sinks/chsink"
	"github.com/streamlearn/streamlearn/wire"
)

func TestOpenTwiceIsNoOp(t *testing.T) {
	addr := testenv.ClickHouse(t)
	cfg := testConfig(t, addr)
	w := open(t, cfg, nil)
	ctx := testenv.Context(t, time.Minute)
	w2, err := chsink.Open(ctx, cfg, quietLogger(), nil)
	if err != nil {
		t.Fatalf("second Open: %v", err)
	}
	defer w2.Close()

	rows, err := queryMaps(ctx, w.Conn(), "SELECT version, count() AS n FROM "+cfg.Database+".schema_migrations GROUP BY version ORDER BY version")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(rows), int(chsink.LatestMigration()); got != want {
		t.Fatalf("schema_migrations has %d versions, want %d: %v", got, want, rows)
	}
	for _, r := range rows {
		if r["n"].(uint64) != 1 {
			t.Errorf("migration %v recorded %v times, want once", r["version"], r["n"])
		}
	}
	tables, err := queryMaps(ctx, w.Conn(), "SELECT name, engine FROM system.tables WHERE database = ? ORDER BY name", cfg.Database)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"predictions": "ReplacingMergeTree", "outcomes": "ReplacingMergeTree", "feature_drift": "ReplacingMergeTree",
		"model_performance": "ReplacingMergeTree", "drift_alerts": "ReplacingMergeTree", "retrain_events": "ReplacingMergeTree",
		"model_versions": "ReplacingMergeTree", "model_reports": "ReplacingMergeTree", "schema_migrations": "ReplacingMergeTree",
	}
	got := map[string]string{}
	for _, r := range tables {
		got[r["name"].(string)] = r["engine"].(string)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("tables = %v, want %v", got, want)
	}
}

func TestMigrationAddsColumnOnce(t *testing.T) {
	addr := testenv.ClickHouse(t)
	w := open(t, testConfig(t, addr), nil)
	ctx := testenv.Context(t, time.Minute)
	for range 2 {
		if err := chsink.MigrateAddingColumn(ctx, w.Conn(), w.Database(), "predictions", "threshold", "Float64"); err != nil {
			t.Fatalf("migrate: %v", err)
		}
	}
	var n uint64
	if err := w.Conn().QueryRow(ctx, "SELECT count() FROM system.columns WHERE database = ? AND table = 'predictions' AND name = 'threshold'",
		w.Database()).Scan(&n); err != nil || n != 1 {
		t.Fatalf("threshold columns = %d, %v; want 1", n, err)
	}
	// The Writer names its columns, so a table with more columns still takes its INSERTs.
	mustAdd(t, w.AddPredictions(context.Background(), predictions(0, 10, "m", 1, time.Now())...))
	if err := w.Flush(ctx); err != nil {
		t.Fatalf("Flush after migration: %v", err)
	}
	if got := count(t, w, "predictions"); got != 10 {
		t.Errorf("predictions = %d, want 10", got)
	}
}

// TestConcurrentMigrationsAddColumnOnce: processes starting together (every role of a deployment)
// add the same column at the same moment; none fails, whoever's ALTER lands first.
func TestConcurrentMigrationsAddColumnOnce(t *testing.T) {
	addr := testenv.ClickHouse(t)
	w := open(t, testConfig(t, addr), nil)
	ctx := testenv.Context(t, time.Minute)
	for round := range 5 { // each round a fresh database, migrated from nothing by 8 at once
		db := fmt.Sprintf("%s_r%d", w.Database(), round)
		errs := make(chan error, 8)
		for range 8 {
			go func() { errs <- chsink.MigrateAddingColumn(ctx, w.Conn(), db, "outcomes", "extra", "Float64") }()
		}
		for range 8 {
			if err := <-errs; err != nil {
				t.Fatalf("round %d: concurrent migration: %v", round, err)
			}
		}
		var n uint64
		if err := w.Conn().QueryRow(ctx, "SELECT count() FROM system.columns WHERE database = ? AND table IN ('outcomes', 'model_versions') AND name IN ('extra', 'kind')",
			db).Scan(&n); err != nil || n != 2 {
			t.Fatalf("round %d: added columns = %d, %v; want 2", round, n, err)
		}
	}
}

// TestRoundTrip writes one row to every table and reads it back column by column.
func TestRoundTrip(t *testing.T) {
	addr := testenv.ClickHouse(t)
	w := open(t, testConfig(t, addr), nil)
	ctx := testenv.Context(t, time.Minute)

	at := time.Date(2026, 11, 22, 10, 0, 0, 123_000_000, time.UTC)
	sec := at.Truncate(time.Second)
	hour := at.Truncate(time.Hour)
	mustAdd(t, w.AddPredictions(context.Background(), wire.PredictionRow{ID: "e-1", Entity: "u-42", Model: "fraud", Version: 3, Score: 0.25, Route: "shadow",
		Time: at, ScoredAt: at.Add(45 * time.Millisecond)}))
	mustAdd(t, w.AddOutcomes(context.Background(), wire.OutcomeRow{ID: "e-1", Label: 1, Class: "yes", Time: at.Add(time.Hour), ReceivedAt: at.Add(time.Hour + 7*time.Millisecond),
		Model: "fraud", Version: 3, Score: 0.25, Joined: true, DelaySeconds: 3600.007}))
	mustAdd(t, w.AddFeatureDrift(context.Background(), wire.FeatureDriftRow{WindowStart: hour, WindowEnd: hour.Add(time.Hour), Model: "fraud", Feature: "amount", Kind: "numeric",
		N: 1000, MissingRate: 0.01, PSI: 0.3, KS: 0.2, KSPValue: 0.001, JS: 0.05, Wasserstein: 1.5, Chi2: 0, Chi2PValue: 1, LInf: 0.2,
		ReferenceStart: hour.Add(-24 * time.Hour), Drifted: true, Updated: at,
		Bins: []string{"≤ 10", "(10, 20]", "> 20"}, ReferenceShares: []float64{0.25, 0.5, 0.25}, WindowShares: []float64{0.1, 0.3, 0.6}}))
	mustAdd(t, w.AddPerformance(context.Background(), wire.PerformanceRow{WindowStart: hour, WindowEnd: hour.Add(time.Hour), Model: "fraud", Version: 3, Segment: "country=DE",
		N: 500, Positives: 50, LabelCoverage: 0.9, MeanDelaySeconds: 60, AUC: 0.8, LogLoss: 0.4, Brier: 0.1, ECE: 0.02,
		Precision: 0.7, Recall: 0.6, MAE: 0.3, RMSE: 0.35, Updated: at}))
	mustAdd(t, w.AddDriftAlerts(context.Background(), wire.DriftAlertRow{Time: at, Model: "fraud", Kind: "feature", Reason: "psi above threshold", Value: 0.3, Threshold: 0.2,
		Features: []string{"amount", "country"}, AlertID: "a-1"}))
	mustAdd(t, w.AddRetrainEvents(context.Background(), wire.RetrainEventRow{Time: at, Model: "fraud", Step: "promoted", Reason: "drift", ChampionVersion: 3, ChallengerVersion: 4,
		ChampionMetric: 0.8, ChallengerMetric: 0.85, EventID: "r-1"}))
	mustAdd(t, w.AddModelVersions(context.Background(), wire.ModelVersionRow{Time: at, Model: "fraud", Version: 4, Parent: 3, Spec: `{"kind":"logistic"}`,
		ExamplesFrom: hour.Add(-time.Hour), ExamplesTo: hour, Examples: 12345, AUC: 0.85, LogLoss: 0.38, Status: "champion",
		Kind: "manual", Tags: []string{"launch"}, Binary: "v1.2.3", Offsets: `{"0":12}`}))
	mustAdd(t, w.AddModelReports(context.Background(), wire.ModelReportRow{Time: at, Model: "fraud", Version: 4, Section: "calibration", Key: "0.1-0.2",
		N: 77, Value: 0.15, Aux: 0.12, Updated: at}))
	if got := w.Buffered(); got != 8 {
		t.Errorf("Buffered = %d, want 8", got)
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if got := w.Buffered(); got != 0 {
		t.Errorf("Buffered after Flush = %d, want 0", got)
	}

	ms := func(t time.Time) uint64 { return uint64(t.UnixMilli()) }
	tests := []struct {
		table string
		want  map[string]any
	}{
		{"predictions", map[string]any{"id": "e-1", "entity": "u-42", "model": "fraud", "version": int64(3), "score": 0.25, "route": "shadow",
			"time": sec, "time_ms": uint16(123), "scored_at": sec, "scored_at_ms": uint16(168), "row_version": ms(at) + 45}},
		{"outcomes", map[string]any{"id": "e-1", "label": 1.0, "class": "yes", "time": sec.Add(time.Hour), "time_ms": uint16(123),
			"received_at": sec.Add(time.Hour), "received_at_ms": uint16(130), "model": "fraud", "version": int64(3), "score": 0.25,
			"joined": uint8(1), "delay_seconds": 3600.007, "row_version": 1<<62 | (ms(at) + 3_600_007)}},
		{"feature_drift", map[string]any{"window_start": hour, "window_end": hour.Add(time.Hour), "model": "fraud", "feature": "amount",
			"kind": "numeric", "n": int64(1000), "missing_rate": 0.01, "psi": 0.3, "ks": 0.2, "ks_pvalue": 0.001, "js": 0.05,
			"wasserstein": 1.5, "chi2": 0.0, "chi2_pvalue": 1.0, "linf": 0.2, "reference_start": hour.Add(-24 * time.Hour),
			"drifted": uint8(1), "updated": sec, "row_version": ms(at),
			"bins": []string{"≤ 10", "(10, 20]", "> 20"}, "reference_shares": []float64{0.25, 0.5, 0.25}, "window_shares": []float64{0.1, 0.3, 0.6}}},
		{"model_performance", map[string]any{"window_start": hour, "window_end": hour.Add(time.Hour), "model": "fraud", "version": int64(3),
			"segment": "country=DE", "n": int64(500), "positives": int64(50), "label_coverage": 0.9, "mean_delay_seconds": 60.0,
			"auc": 0.8, "logloss": 0.4, "brier": 0.1, "ece": 0.02, "precision": 0.7, "recall": 0.6, "mae": 0.3, "rmse": 0.35,
			"updated": sec, "row_version": ms(at)}},
		{"drift_alerts", map[string]any{"time": sec, "time_ms": uint16(123), "model": "fraud", "kind": "feature", "reason": "psi above threshold",
			"value": 0.3, "threshold": 0.2, "features": []string{"amount", "country"}, "alert_id": "a-1", "row_version": ms(at)}},
		{"retrain_events", map[string]any{"time": sec, "time_ms": uint16(123), "model": "fraud", "step": "promoted", "reason": "drift",
			"champion_version": int64(3), "challenger_version": int64(4), "champion_metric": 0.8, "challenger_metric": 0.85,
			"event_id": "r-1", "row_version": ms(at)}},
		{"model_versions", map[string]any{"time": sec, "model": "fraud", "version": int64(4), "parent": int64(3), "spec": `{"kind":"logistic"}`,
			"examples_from": hour.Add(-time.Hour), "examples_to": hour, "examples": int64(12345), "auc": 0.85, "logloss": 0.38,
			"status": "champion", "kind": "manual", "tags": []string{"launch"}, "binary": "v1.2.3", "offsets": `{"0":12}`,
			"updated": sec, "row_version": ms(at)}},
		{"model_reports", map[string]any{"time": sec, "model": "fraud", "version": int64(4), "section": "calibration", "key": "0.1-0.2",
			"n": int64(77), "value": 0.15, "aux": 0.12, "updated": sec, "row_version": ms(at)}},
	}
	for _, tt := range tests {
		t.Run(tt.table, func(t *testing.T) {
			rows, err := queryMaps(ctx, w.Conn(), "SELECT * FROM "+w.Database()+"."+tt.table+" FINAL")
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != 1 {
				t.Fatalf("got %d rows, want 1", len(rows))
			}
			got := rows[0]
			for name, want := range tt.want {
				v, ok := got[name]
				if !ok {
					t.Errorf("column %s missing", name)
					continue
				}
				if wt, isTime := want.(time.Time); isTime {
					if gt, _ := v.(time.Time); !gt.Equal(wt) {
						t.Errorf("%s = %v, want %v", name, v, wt)
					}
				} else if !reflect.DeepEqual(v, want) {
					t.Errorf("%s = %#v, want %#v", name, v, want)
				}
			}
			for name := range got {
				if _, ok := tt.want[name]; !ok {
					t.Errorf("column %s not checked", name)
				}
			}
		})
	}
}

// TestResentRowsDoNotChangeResults sends the same rows twice, as a retry after a lost
// acknowledgement would, and a newer version of some.
func TestResentRowsDoNotChangeResults(t *testing.T) {
	addr := testenv.ClickHouse(t)
	w := open(t, testConfig(t, addr), nil)
	ctx := testenv.Context(t, time.Minute)
	at := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	rows := predictions(0, 1000, "m", 1, at)
	for range 2 {
		mustAdd(t, w.AddPredictions(context.Background(), rows...))
		if err := w.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	rescored := predictions(0, 10, "m", 2, at)
	for i := range rescored {
		rescored[i].ScoredAt = rescored[i].ScoredAt.Add(time.Minute)
	}
	mustAdd(t, w.AddPredictions(context.Background(), rescored...))
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := queryMaps(ctx, w.Conn(), "SELECT version, count() AS n, sum(score) AS s FROM "+w.Database()+".predictions FINAL GROUP BY version ORDER BY version")
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, r := range rows {
		sum += r.Score
	}
	if len(got) != 2 || got[0]["n"] != uint64(990) || got[1]["n"] != uint64(10) {
		t.Fatalf("rows per version = %v, want 990 of version 1 and 10 of version 2", got)
	}
	if s := got[0]["s"].(float64) + got[1]["s"].(float64); s < sum-1e-9 || s > sum+1e-9 {
		t.Errorf("sum(score) = %v, want %v", s, sum)
	}
}

// TestJoinedOutcomeWins writes an outcome's joined row before its un-joined one, with the un-joined
// row's timestamp the later (a producer whose clock runs ahead): under FINAL the joined row stays.
func TestJoinedOutcomeWins(t *testing.T) {
	addr := testenv.ClickHouse(t)
	w := open(t, testConfig(t, addr), nil)
	ctx := testenv.Context(t, time.Minute)
	at := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	joined := wire.OutcomeRow{ID: "o1", Label: 1, Time: at, ReceivedAt: at.Add(time.Second), Model: "m", Version: 3, Score: 0.7, Joined: true}
	unjoined := wire.OutcomeRow{ID: "o1", Label: 1, Time: at, ReceivedAt: at.Add(time.Minute)}
	for _, r := range []wire.OutcomeRow{joined, unjoined} {
		mustAdd(t, w.AddOutcomes(context.Background(), r))
		if err := w.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	got, err := queryMaps(ctx, w.Conn(), "SELECT joined, version, model FROM "+w.Database()+".outcomes FINAL")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0]["joined"] != uint8(1) || got[0]["version"] != int64(3) || got[0]["model"] != "m" {
		t.Fatalf("outcomes FINAL = %v, want the joined row", got)
	}
}

func TestFlushConcurrentWithAdd(t *testing.T) {
	addr := testenv.ClickHouse(t)
	cfg := testConfig(t, addr)
	cfg.MaxBufferedRows = 2000
	cfg.BatchRows = 500
	w := open(t, cfg, nil)
	ctx := testenv.Context(t, 2*time.Minute)
	at := time.Now()

	const producers, perProducer = 4, 5000
	var wg sync.WaitGroup
	for p := range producers {
		wg.Go(func() {
			for i := 0; i < perProducer; i += 250 {
				base := p*perProducer + i
				mustAdd(t, w.AddPredictions(context.Background(), predictions(base, base+250, "m", 1, at)...))
				mustAdd(t, w.AddOutcomes(context.Background(), wire.OutcomeRow{ID: "o", Time: at, ReceivedAt: at})) // one key, many versions
			}
		})
	}
	flushErr := make(chan error, 1)
	go func() {
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		for {
			select {
			case <-done:
				flushErr <- w.Flush(ctx)
				return
			default:
				if err := w.Flush(ctx); err != nil {
					flushErr <- err
					return
				}
			}
		}
	}()
	if err := <-flushErr; err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if got := w.Buffered(); got != 0 {
		t.Errorf("Buffered = %d, want 0", got)
	}
	if got, want := count(t, w, "predictions"), uint64(producers*perProducer); got != want {
		t.Errorf("predictions = %d, want %d", got, want)
	}
	if got := count(t, w, "outcomes"); got != 1 {
		t.Errorf("outcomes = %d, want 1", got)
	}
}

func TestCloseFlushes(t *testing.T) {
	addr := testenv.ClickHouse(t)
	cfg := testConfig(t, addr)
	w := open(t, cfg, nil)
	mustAdd(t, w.AddPredictions(context.Background(), predictions(0, 100, "m", 1, time.Now())...))
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	conn := connTo(t, addr, cfg.Database)
	var n uint64
	if err := conn.QueryRow(testenv.Context(t, time.Minute), "SELECT count() FROM predictions FINAL").Scan(&n); err != nil || n != 100 {
		t.Fatalf("predictions after Close = %d, %v; want 100", n, err)
	}
	conn.Exec(testenv.Context(t, time.Minute), "DROP DATABASE IF EXISTS "+cfg.Database)
}

func TestFlushAfterClose(t *testing.T) {
	addr := testenv.ClickHouse(t)
	w := open(t, testConfig(t, addr), nil)
	w.Close()
	if err := w.Flush(context.Background()); !errors.Is(err, chsink.ErrClosed) {
		t.Errorf("Flush after Close = %v, want ErrClosed", err)
	}
	if err := w.AddPredictions(context.Background(), predictions(0, 1, "m", 1, time.Now())...); !errors.Is(err, chsink.ErrClosed) {
		t.Errorf("Add after Close = %v, want ErrClosed", err)
	}
}
