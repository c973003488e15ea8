package chsink_test

import (
	"context"
	"maps"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/streamlearn/streamlearn/internal/testenv"
)

func TestMetrics(t *testing.T) {
	addr := testenv.ClickHouse(t)
	reg := prometheus.NewPedanticRegistry()
	w := open(t, testConfig(t, addr), reg)
	// Calls through the writer's connection are timed by operation; failed ones counted.
	calls := func() (counts, errs map[string]float64) {
		counts, errs = map[string]float64{}, map[string]float64{}
		f := gather(t, reg)
		for _, m := range f["streamlearn_clickhouse_call_duration_seconds"] {
			counts[m.GetLabel()[0].GetValue()] = float64(m.GetHistogram().GetSampleCount())
		}
		for _, m := range f["streamlearn_clickhouse_call_errors_total"] {
			errs[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
		}
		return counts, errs
	}
	opened, _ := calls()
	mustAdd(t, w.AddPredictions(context.Background(), predictions(0, 30, "m", 1, time.Now())...))

	if got := gather(t, reg)["streamlearn_clickhouse_buffered_rows"]; len(got) != 1 || got[0].GetGauge().GetValue() != 30 {
		t.Errorf("buffered_rows = %v, want 30", got)
	}
	if got := gather(t, reg)["streamlearn_clickhouse_max_buffered_rows"]; len(got) != 1 || got[0].GetGauge().GetValue() != float64(testConfig(t, addr).MaxBufferedRows) {
		t.Errorf("max_buffered_rows = %v, want %d", got, testConfig(t, addr).MaxBufferedRows)
	}
	if err := w.Flush(testenv.Context(t, time.Minute)); err != nil {
		t.Fatal(err)
	}
	families := gather(t, reg)
	var written float64
	for _, m := range families["streamlearn_clickhouse_rows_written_total"] {
		for _, l := range m.GetLabel() {
			if l.GetName() == "table" && l.GetValue() == "predictions" {
				written = m.GetCounter().GetValue()
			}
		}
	}
	if written != 30 {
		t.Errorf("rows_written_total{table=predictions} = %v, want 30", written)
	}
	if got := families["streamlearn_clickhouse_flush_duration_seconds"]; len(got) != 1 || got[0].GetHistogram().GetSampleCount() != 1 {
		t.Errorf("flush_duration_seconds = %v, want one sample", got)
	}
	if got := families["streamlearn_clickhouse_buffered_rows"]; len(got) != 1 || got[0].GetGauge().GetValue() != 0 {
		t.Errorf("buffered_rows after Flush = %v, want 0", got)
	}

	counts, errs := calls()
	// Open's migrations are timed (DDL, the applied versions, their records); the flush of one
	// table is one INSERT.
	if opened["exec"] == 0 || opened["select"] == 0 || opened["insert"] == 0 {
		t.Errorf("after Open: calls %v; want the migrations' exec, select and insert", opened)
	}
	if counts["insert"]-opened["insert"] != 1 || errs["insert"] != 0 || errs["select"] != 0 || errs["exec"] != 0 {
		t.Errorf("after one flush of one table: calls %v (after Open %v), errors %v; want one more insert, no errors", counts, opened, errs)
	}
	ctx := testenv.Context(t, time.Minute)
	var n uint64
	if err := w.Conn().QueryRow(ctx, "SELECT count() FROM "+w.Database()+".predictions").Scan(&n); err != nil || n != 30 {
		t.Fatalf("count = %d, %v", n, err)
	}
	if _, err := w.Conn().Query(ctx, "SELECT nope FROM "+w.Database()+".no_such_table"); err == nil {
		t.Fatal("query of a missing table succeeded")
	}
	if err := w.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	counts2, errs := calls()
	if counts2["select"]-counts["select"] != 2 || errs["select"] != 1 || counts2["ping"]-counts["ping"] != 1 || errs["ping"] != 0 {
		t.Errorf("after 2 selects (1 failed) and a ping: calls %v (before %v), errors %v", counts2, counts, errs)
	}
}

func gather(t *testing.T, reg prometheus.Gatherer) map[string][]*dto.Metric {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	out := map[string][]*dto.Metric{}
	for _, mf := range mfs {
		out[mf.GetName()] = mf.GetMetric()
	}
	return out
}

// TestInsertSpansAtMost100Partitions replays events from 250 different days: modern servers
// reject an INSERT that touches more than 100 partitions, so the Writer splits it.
func TestInsertSpansAtMost100Partitions(t *testing.T) {
	addr := testenv.ClickHouse(t)
	reg := prometheus.NewPedanticRegistry()
	w := open(t, testConfig(t, addr), reg)
	rows := predictions(0, 250, "m", 1, time.Now())
	for i := range rows {
		rows[i].Time = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC).AddDate(0, 0, i)
	}
	mustAdd(t, w.AddPredictions(context.Background(), rows...))
	if err := w.Flush(testenv.Context(t, time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got := count(t, w, "predictions"); got != 250 {
		t.Errorf("predictions = %d, want 250", got)
	}
	// Every table's series is exported (at 0 until its first insert); only predictions had any.
	byTable := map[string]float64{}
	for _, m := range gather(t, reg)["streamlearn_clickhouse_inserts_total"] {
		for _, l := range m.GetLabel() {
			if l.GetName() == "table" {
				byTable[l.GetValue()] = m.GetCounter().GetValue()
			}
		}
	}
	want := map[string]float64{"predictions": 3, "outcomes": 0, "feature_drift": 0, "model_performance": 0, "drift_alerts": 0, "retrain_events": 0, "model_versions": 0, "model_reports": 0}
	if !maps.Equal(byTable, want) {
		t.Errorf("inserts_total by table = %v, want %v", byTable, want)
	}
}
