package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamlearn/streamlearn/internal/alerting"
	"github.com/streamlearn/streamlearn/wire"
)

// TestDriftRetrainsAndPromotes runs the whole loop of issue 7 on real services: drift injected into
// the stream raises an alert, the learner replays the alert's window into a challenger, compares it
// with the champion on the outcomes that follow, and records every step in ClickHouse.
func TestDriftRetrainsAndPromotes(t *testing.T) {
	cfg := testConfig(t)
	cfg.Drift.Trigger.FeatureDrift.MinEvents = 200
	cfg.Drift.Trigger.Performance.MinExamples = 200
	cfg.Learner.Retrain.MinOutcomes = 600
	cfg.Learner.Retrain.Margin = 0
	// Every step of the retrain also goes to an alert webhook.
	rcv := &hookReceiver{}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	cfg.Alerts.WebhookURL = srv.URL
	start(t, cfg)
	// A long stable stretch (about 67 windows) makes the champion slow to unlearn the old concept.
	const driftAt = 20000
	evs := driftStream(25400, driftAt, 33)
	for i := 0; i < 21800; i += 600 {
		publish(t, cfg.Kafka.Brokers, cfg.Kafka.Topics.Events, eventMessages(evs[i:i+600])...)
		publish(t, cfg.Kafka.Brokers, cfg.Kafka.Topics.Outcomes, outcomeMessages(evs[i:i+600])...)
	}
	recs := readAll(t, cfg.Kafka.Brokers, cfg.Kafka.Topics.Control, 60*time.Second, func(rs []*kgo.Record) bool { return len(rs) > 0 })
	if len(recs) == 0 {
		t.Fatal("no retrain command")
	}
	var cmd wire.RetrainCommand
	if err := json.Unmarshal(recs[0].Value, &cmd); err != nil {
		t.Fatal(err)
	}
	// The world after the change goes on: these are the outcomes the challenger is judged on.
	for i := 21800; i < len(evs); i += 600 {
		publish(t, cfg.Kafka.Brokers, cfg.Kafka.Topics.Events, eventMessages(evs[i:i+600])...)
		publish(t, cfg.Kafka.Brokers, cfg.Kafka.Topics.Outcomes, outcomeMessages(evs[i:i+600])...)
	}

	conn := chConn(t, cfg)
	db := cfg.ClickHouse.Database
	where := func(step string) string { return fmt.Sprintf("event_id = '%s' AND step = '%s'", cmd.AlertID, step) }
	waitFor(t, 60*time.Second, "a retrain decision in retrain_events", func() bool {
		return countWhere(t, conn, db, "retrain_events", where("promoted"))+countWhere(t, conn, db, "retrain_events", where("rejected")) == 1
	})
	for _, step := range []string{"triggered", "training", "shadow"} {
		if n := countWhere(t, conn, db, "retrain_events", where(step)); n != 1 {
			t.Errorf("retrain_events has %d %q rows for %s", n, step, cmd.AlertID)
		}
	}
	var step, reason string
	var champ, chall float64
	q := fmt.Sprintf("SELECT step, reason, champion_metric, challenger_metric FROM %s.retrain_events FINAL WHERE event_id = '%s' AND step IN ('promoted', 'rejected')", db, cmd.AlertID)
	if err := conn.QueryRow(context.Background(), q).Scan(&step, &reason, &champ, &chall); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %s (champion %.4f, challenger %.4f)", step, reason, champ, chall)
	// Which model wins depends on how much of the new concept the champion had learned when the
	// command arrived, which the stream's pace decides (margins from -0.006 to +0.04 were seen):
	// what the system guarantees is that the decision follows the metrics. Promotion on a
	// challenger that wins is pinned down by learner/runner's TestRetrainAfterConceptDriftPromotes.
	if better := chall > champ+cfg.Learner.Retrain.Margin; better != (step == "promoted") {
		t.Fatalf("%s with challenger %.4f vs champion %.4f (margin %v)", step, chall, champ, cfg.Learner.Retrain.Margin)
	}
	// The webhook saw the same steps, once each; the decision resolves the retrain's alert.
	waitFor(t, 30*time.Second, "the decision at the webhook", func() bool { return len(rcv.deliveries(cmd.AlertID)) >= 5 })
	if got, want := strings.Join(rcv.deliveries(cmd.AlertID), " "), alertDrift+"/ "+alertRetrain+"/triggered "+alertRetrain+"/training "+alertRetrain+"/shadow "+alertRetrain+"/"+step; got != want {
		t.Errorf("webhook deliveries %s, want %s", got, want)
	}
	var last alerting.Message // the decision: the last message about this alert (another may follow it)
	rcv.mu.Lock()
	for _, m := range rcv.messages {
		if m.Alerts[0].Labels["alert_id"] == cmd.AlertID {
			last = m
		}
	}
	rcv.mu.Unlock()
	if a := last.Alerts[0]; last.Status != alerting.StatusResolved || a.EndsAt.IsZero() || a.Annotations["champion_metric"] == "" || a.Annotations["challenger_metric"] == "" {
		t.Errorf("decision message %+v: want resolved, with endsAt and both metrics", last)
	}
	retrained := 0
	if step == "promoted" {
		retrained = 1
	}
	waitFor(t, 30*time.Second, "the retrained version in model_versions only when promoted", func() bool {
		return countWhere(t, conn, db, "model_versions", fmt.Sprintf("status = 'retrained for %s'", cmd.AlertID)) == uint64(retrained)
	})
}
