package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	dto "github.com/prometheus/client_model/go"
	segkafka "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamlearn/streamlearn/drift"
	"github.com/streamlearn/streamlearn/internal/config"
	"github.com/streamlearn/streamlearn/internal/synth"
	"github.com/streamlearn/streamlearn/internal/testenv"
	"github.com/streamlearn/streamlearn/wire"
)

// driftStream returns n synthetic events, 300 per one-minute window, starting on a window
// boundary; from event driftAt (0: never) amounts triple and the country effects flip.
func driftStream(n, driftAt int, seed uint64) []synth.Event {
	start := time.Now().Add(-48 * time.Hour).Truncate(time.Hour)
	g := synth.New(synth.Config{Seed: seed, Entities: 300, Start: start, Step: 200 * time.Millisecond, DriftAt: driftAt, OutcomeDelay: 5 * time.Second})
	evs := make([]synth.Event, n)
	for i := range evs {
		evs[i] = g.Next()
	}
	return evs
}

func eventMessages(evs []synth.Event) []segkafka.Message {
	out := make([]segkafka.Message, len(evs))
	for i, ev := range evs {
		out[i] = segkafka.Message{Key: []byte(ev.Entity), Value: ev.JSON()}
	}
	return out
}

func outcomeMessages(evs []synth.Event) []segkafka.Message {
	out := make([]segkafka.Message, len(evs))
	for i, ev := range evs {
		out[i] = segkafka.Message{Key: []byte(ev.ID), Value: ev.OutcomeJSON()}
	}
	return out
}

func chConn(t *testing.T, cfg config.Config) driver.Conn {
	t.Helper()
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: cfg.ClickHouse.Addr, Protocol: clickhouse.Native})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %s", what, timeout)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func countWhere(t *testing.T, conn driver.Conn, db, table, where string) uint64 {
	t.Helper()
	var n uint64
	q := fmt.Sprintf("SELECT count() FROM %s.%s FINAL WHERE %s", db, table, where)
	if err := conn.QueryRow(context.Background(), q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// TestDriftRaisesAlertAndRetrainCommand injects covariate and concept drift into a live stream:
// the correlator writes a drift_alerts row and a retrain_events "triggered" row and sends a retrain
// command on the control topic, all with the same alert id, and raises nothing before the drift.
func TestDriftRaisesAlertAndRetrainCommand(t *testing.T) {
	cfg := testConfig(t)
	cfg.Drift.Segments = []string{"country"}
	cfg.Drift.Trigger.FeatureDrift.MinEvents = 200
	cfg.Drift.Trigger.Performance.MinExamples = 200
	r := start(t, cfg)
	const driftAt = 1800 // window 6 of 12
	evs := driftStream(3600, driftAt, 21)
	for i := 0; i < len(evs); i += 600 {
		publish(t, cfg.Kafka.Brokers, cfg.Kafka.Topics.Events, eventMessages(evs[i:i+600])...)
		publish(t, cfg.Kafka.Brokers, cfg.Kafka.Topics.Outcomes, outcomeMessages(evs[i:i+600])...)
	}
	driftStart := evs[driftAt].Time

	recs := readAll(t, cfg.Kafka.Brokers, cfg.Kafka.Topics.Control, 60*time.Second, func(rs []*kgo.Record) bool { return len(rs) > 0 })
	if len(recs) == 0 {
		t.Fatal("no retrain command on the control topic")
	}
	var cmd wire.RetrainCommand
	if err := json.Unmarshal(recs[0].Value, &cmd); err != nil {
		t.Fatalf("retrain command is not JSON: %v: %s", err, recs[0].Value)
	}
	t.Logf("control: %s", recs[0].Value)
	if cmd.Command != "retrain" || cmd.Model != cfg.Model.Name || cmd.AlertID == "" || cmd.Reason == "" || string(recs[0].Key) != cfg.Model.Name {
		t.Errorf("retrain command %+v, key %q", cmd, recs[0].Key)
	}
	if cmd.From.Before(driftStart) || !cmd.To.After(cmd.From) || cmd.Time.IsZero() {
		t.Errorf("command spans [%v, %v) at %v; the drift started at %v: an alert from before it is a false alarm", cmd.From, cmd.To, cmd.Time, driftStart)
	}
	var raw map[string]any
	_ = json.Unmarshal(recs[0].Value, &raw)
	for _, k := range []string{"command", "model", "reason", "alert_id", "from", "to", "time"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("retrain command lacks %q: %s", k, recs[0].Value)
		}
	}

	conn := chConn(t, cfg)
	db := cfg.ClickHouse.Database
	id := fmt.Sprintf("alert_id = '%s'", cmd.AlertID)
	waitFor(t, 30*time.Second, "drift_alerts and retrain_events rows", func() bool {
		return countWhere(t, conn, db, "drift_alerts", id) == 1 && countWhere(t, conn, db, "retrain_events", fmt.Sprintf("event_id = '%s' AND step = 'triggered'", cmd.AlertID)) == 1
	})
	var kind string
	var features []string
	if err := conn.QueryRow(context.Background(), fmt.Sprintf("SELECT kind, features FROM %s.drift_alerts FINAL WHERE %s", db, id)).Scan(&kind, &features); err != nil {
		t.Fatal(err)
	}
	t.Logf("alert %s: kind %s, features %v", cmd.AlertID, kind, features)
	if kind != cmd.Kind || (kind == drift.AlertFeatureDrift && len(features) == 0) {
		t.Errorf("drift_alerts row: kind %q features %v, command kind %q", kind, features, cmd.Kind)
	}
	// The alert is counted on /metrics, under its model and kind (every kind exported from the start).
	kinds := map[string]float64{}
	for _, mf := range gather(t, r.Registry) {
		if mf.GetName() != "streamlearn_drift_alerts_total" {
			continue
		}
		for _, m := range mf.Metric {
			labels := map[string]string{}
			for _, l := range m.Label {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["model"] == cfg.Model.Name {
				kinds[labels["kind"]] = m.Counter.GetValue()
			}
		}
	}
	if len(kinds) != 3 || kinds[cmd.Kind] < 1 {
		t.Errorf("streamlearn_drift_alerts_total{model=%q} by kind = %v, want the 3 kinds and %s ≥ 1", cfg.Model.Name, kinds, cmd.Kind)
	}
	if n := countWhere(t, conn, db, "drift_alerts", fmt.Sprintf("time <= toDateTime(%d)", driftStart.Unix())); n != 0 {
		t.Errorf("%d alerts raised before the drift", n)
	}
	// Performance is split by segment, with label coverage.
	waitFor(t, 30*time.Second, "segment rows", func() bool {
		return countWhere(t, conn, db, "model_performance", "version = -1 AND segment = 'country=DE' AND label_coverage > 0 AND n > 0") > 0
	})
}

// TestClickHouseOutageLosesNothing stops ClickHouse for a minute while events and outcomes flow: once
// it is back, every prediction and outcome is in its table exactly once (under FINAL).
func TestClickHouseOutageLosesNothing(t *testing.T) {
	ch := testenv.StartClickHouse(t)
	cfg := testConfig(t)
	cfg.ClickHouse.Addr = []string{ch.Addr}
	start(t, cfg)
	evs := driftStream(3000, 0, 5)

	published := make(chan struct{})
	go func() {
		defer close(published)
		for i := 0; i < len(evs); i += 100 {
			publish(t, cfg.Kafka.Brokers, cfg.Kafka.Topics.Events, eventMessages(evs[i:i+100])...)
			publish(t, cfg.Kafka.Brokers, cfg.Kafka.Topics.Outcomes, outcomeMessages(evs[i:i+100])...)
			time.Sleep(2 * time.Second) // 30 batches over about a minute: most arrive during the outage
		}
	}()
	conn := chConn(t, config.Config{ClickHouse: cfg.ClickHouse})
	waitFor(t, 30*time.Second, "first predictions in ClickHouse", func() bool {
		return countWhere(t, conn, cfg.ClickHouse.Database, "predictions", "1") > 0
	})
	ch.Stop()
	t.Log("ClickHouse stopped")
	time.Sleep(60 * time.Second)
	if err := ch.Start(); err != nil {
		t.Fatalf("restart ClickHouse: %v", err)
	}
	t.Log("ClickHouse started again")
	<-published
	conn = chConn(t, config.Config{ClickHouse: cfg.ClickHouse})
	want := uint64(len(evs))
	// An outcome's row is written twice: un-joined when the outcome is read, joined when its example
	// is, a moment later. Wait for the joined rows, not only for one row per outcome: the last
	// outcomes' un-joined rows may be in while their examples are still on their way.
	var preds, outs, joined, logged uint64
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		preds = countWhere(t, conn, cfg.ClickHouse.Database, "predictions", "1")
		outs = countWhere(t, conn, cfg.ClickHouse.Database, "outcomes", "1")
		joined = countWhere(t, conn, cfg.ClickHouse.Database, "outcomes", "joined = 1")
		if outs >= want && joined < want && joined != logged {
			t.Logf("every outcome has a row, %d of them joined so far", joined)
			logged = joined
		}
		if preds >= want && outs >= want && joined >= want {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if preds != want || outs != want {
		t.Errorf("after the outage: %d predictions and %d outcomes (FINAL), want %d each", preds, outs, want)
	}
	if joined != want {
		t.Errorf("%d joined outcomes, want %d", joined, want)
		explainUnjoined(t, conn, cfg)
	}
}

// TestResentOutcomeKeepsJoinedRow sends outcomes again after they were joined, as a producer's retry
// does (a retried batch is re-encoded with a new timestamp, later than the examples'): the join makes
// no second example, and in ClickHouse every outcome's row is still the joined one. Before joined
// rows always won, the re-sent outcome's later timestamp made its un-joined row replace the joined
// one (TestClickHouseOutageLosesNothing saw 22 outcomes, one partition's share of a batch, so).
func TestResentOutcomeKeepsJoinedRow(t *testing.T) {
	cfg := testConfig(t)
	start(t, cfg)
	evs := driftStream(200, 0, 11)
	publish(t, cfg.Kafka.Brokers, cfg.Kafka.Topics.Events, eventMessages(evs)...)
	publish(t, cfg.Kafka.Brokers, cfg.Kafka.Topics.Outcomes, outcomeMessages(evs)...)
	conn := chConn(t, cfg)
	db := cfg.ClickHouse.Database
	want := uint64(len(evs))
	waitFor(t, 60*time.Second, "every outcome joined", func() bool {
		return countWhere(t, conn, db, "outcomes", "joined = 1") == want
	})
	examples := func() []*kgo.Record {
		return readAll(t, cfg.Kafka.Brokers, cfg.Kafka.Topics.Examples, 5*time.Second, func([]*kgo.Record) bool { return false })
	}
	before := len(examples())
	publish(t, cfg.Kafka.Brokers, cfg.Kafka.Topics.Outcomes, outcomeMessages(evs)...)
	// Rows, not versions: two un-joined rows per outcome (sent twice) and one joined.
	waitFor(t, 60*time.Second, "the re-sent outcomes' rows", func() bool {
		var n uint64
		q := fmt.Sprintf("SELECT count() FROM %s.outcomes WHERE joined = 0", db)
		if err := conn.QueryRow(context.Background(), q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n >= 2*want
	})
	if n := countWhere(t, conn, db, "outcomes", "1"); n != want {
		t.Errorf("%d outcomes under FINAL, want %d", n, want)
	}
	if n := countWhere(t, conn, db, "outcomes", "joined = 1"); n != want {
		t.Errorf("%d outcomes joined under FINAL after the re-send, want %d", n, want)
		explainUnjoined(t, conn, cfg)
	}
	exs := examples()
	ids := map[string]bool{}
	for _, r := range exs {
		ids[string(r.Key)] = true
	}
	if len(exs) != before || len(ids) != len(evs) {
		t.Errorf("%d examples of %d ids after the re-send, %d before, for %d outcomes: want no example more", len(exs), len(ids), before, len(evs))
	}
}

// explainUnjoined says, for a few outcomes whose row in ClickHouse is not the joined one, what the
// examples topic holds for them: no example means the join lost it, an example means the writer did.
func explainUnjoined(t *testing.T, conn driver.Conn, cfg config.Config) {
	t.Helper()
	rows, err := conn.Query(context.Background(), fmt.Sprintf(
		"SELECT id, row_version FROM %s.outcomes FINAL WHERE joined = 0 ORDER BY id LIMIT 10", cfg.ClickHouse.Database))
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]uint64{}
	for rows.Next() {
		var id string
		var v uint64
		if err := rows.Scan(&id, &v); err != nil {
			t.Fatal(err)
		}
		ids[id] = v
	}
	rows.Close()
	examples := readAll(t, cfg.Kafka.Brokers, cfg.Kafka.Topics.Examples, 10*time.Second, func([]*kgo.Record) bool { return false })
	distinct := map[string]bool{}
	for _, r := range examples {
		distinct[string(r.Key)] = true
	}
	dead := readAll(t, cfg.Kafka.Brokers, cfg.Kafka.Topics.DeadLetter, 5*time.Second, func([]*kgo.Record) bool { return false })
	t.Logf("the examples topic holds %d records for %d ids; the dead-letter topic %d records", len(examples), len(distinct), len(dead))
	for i, r := range dead {
		if i == 5 {
			break
		}
		t.Logf("dead letter %s: headers %v", r.Key, r.Headers)
	}
	for id, v := range ids {
		var found []string
		for _, r := range examples {
			if string(r.Key) == id {
				found = append(found, fmt.Sprintf("offset %d/%d ts %d", r.Partition, r.Offset, r.Timestamp.UnixMilli()))
			}
		}
		var all []string
		q := fmt.Sprintf("SELECT joined, row_version, model FROM %s.outcomes WHERE id = '%s'", cfg.ClickHouse.Database, id)
		rs, err := conn.Query(context.Background(), q)
		if err == nil {
			for rs.Next() {
				var j uint8
				var rv uint64
				var m string
				_ = rs.Scan(&j, &rv, &m)
				all = append(all, fmt.Sprintf("joined=%d rv=%d model=%q", j, rv, m))
			}
			rs.Close()
		}
		t.Logf("unjoined %s (row_version %d): examples %v; all rows %v", id, v, found, all)
	}
}

// TestCorrelatorRestartKeepsOpenWindows stops the process while drift windows are open and starts
// it again: every window's rows count every event, prediction and example exactly once, as if the
// process had never stopped.
func TestCorrelatorRestartKeepsOpenWindows(t *testing.T) {
	cfg := testConfig(t)
	// The join turns a backlog of outcomes into examples partition by partition: their event times
	// come minutes out of order.
	cfg.Drift.OutcomeLateness = 10 * time.Minute
	evs := driftStream(3000, 0, 9) // ten one-minute windows
	first := start(t, cfg)
	publish(t, cfg.Kafka.Brokers, cfg.Kafka.Topics.Events, eventMessages(evs[:1650])...)
	publish(t, cfg.Kafka.Brokers, cfg.Kafka.Topics.Outcomes, outcomeMessages(evs[:1500])...)
	conn := chConn(t, cfg)
	db := cfg.ClickHouse.Database
	// Window 5 (events 1500-1649) is open and has rows: its events were read and written.
	w5 := evs[1500].Time.Truncate(time.Minute)
	waitFor(t, 60*time.Second, "window 5 rows", func() bool {
		return countWhere(t, conn, db, "feature_drift", fmt.Sprintf("window_start = toDateTime(%d) AND n = 150", w5.Unix())) > 0 &&
			countWhere(t, conn, db, "predictions", "1") == 1650
	})
	first.stop(t)

	start(t, cfg)
	publish(t, cfg.Kafka.Brokers, cfg.Kafka.Topics.Events, eventMessages(evs[1650:])...)
	publish(t, cfg.Kafka.Brokers, cfg.Kafka.Topics.Outcomes, outcomeMessages(evs[1500:])...)

	perWindow := map[int64]uint64{}
	for _, ev := range evs {
		perWindow[ev.Time.Truncate(time.Minute).Unix()]++
	}
	// Windows 0-7 close once event time passes their end by the lateness (a minute).
	check := func(table, where string) map[int64]uint64 {
		rows, err := conn.Query(context.Background(), fmt.Sprintf("SELECT toUnixTimestamp(window_start), n FROM %s.%s FINAL WHERE %s", db, table, where))
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		got := map[int64]uint64{}
		for rows.Next() {
			var ws uint32
			var n int64
			if err := rows.Scan(&ws, &n); err != nil {
				t.Fatal(err)
			}
			got[int64(ws)] = uint64(n)
		}
		return got
	}
	var feats, perf map[int64]uint64
	deadline := time.Now().Add(60 * time.Second)
	for {
		feats = check("feature_drift", "feature = 'amount'")
		perf = check("model_performance", "version = -1 AND segment = ''")
		same := len(feats) == len(perWindow) && len(perf) == len(perWindow)
		for ws, n := range perWindow {
			same = same && feats[ws] == n && perf[ws] == n
		}
		if same || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	for ws, n := range perWindow {
		if feats[ws] != n || perf[ws] != n {
			t.Errorf("window %s: feature_drift n %d, model_performance n %d; want %d events and examples",
				time.Unix(ws, 0).UTC().Format("15:04"), feats[ws], perf[ws], n)
		}
	}
	if n := countWhere(t, conn, db, "predictions", "1"); n != uint64(len(evs)) {
		t.Errorf("%d predictions, want %d", n, len(evs))
	}
	var cov float64
	if err := conn.QueryRow(context.Background(), fmt.Sprintf("SELECT min(label_coverage) FROM %s.model_performance FINAL WHERE version = -1 AND segment = ''", db)).Scan(&cov); err != nil {
		t.Fatal(err)
	}
	if cov != 1 {
		t.Errorf("label coverage %v in some window, want 1 everywhere (every event has its outcome)", cov)
	}
}

// gather returns the metric families of reg.
func gather(t *testing.T, reg interface {
	Gather() ([]*dto.MetricFamily, error)
}) []*dto.MetricFamily {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	return mfs
}
