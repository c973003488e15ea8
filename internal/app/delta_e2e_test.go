package app_test

import (
	"testing"
	"time"

	segkafka "github.com/segmentio/kafka-go"

	"github.com/streamlearn/streamlearn/learner"
)

// TestModelDeltasServeBetweenVersions: with versions every 1.5 s and deltas every 50 ms, the
// learner sends deltas of the live version, the same process applies them (none fails), and each
// delta applied is a freshness sample of its own.
func TestModelDeltasServeBetweenVersions(t *testing.T) {
	cfg := testConfig(t)
	// Deltas are a linear model's: under auto they flow only while a linear member is champion,
	// which depends on the stream (TestDeltaRefusedAcrossFamiliesAndSpecs covers auto's blend).
	cfg.Model.Family = learner.FamilyLinear
	cfg.Learner.PublishInterval = 1500 * time.Millisecond
	cfg.Learner.DeltaInterval = 50 * time.Millisecond
	r := start(t, cfg)
	brokers := cfg.Kafka.Brokers
	evs := stream(3000, 11)
	const chunk = 100
	for i := 0; i < len(evs); i += chunk {
		var msgs, outs []segkafka.Message
		for _, ev := range evs[i : i+chunk] {
			msgs = append(msgs, segkafka.Message{Key: []byte(ev.Entity), Value: ev.JSON()})
			outs = append(outs, segkafka.Message{Key: []byte(ev.ID), Value: ev.OutcomeJSON()})
		}
		publish(t, brokers, cfg.Kafka.Topics.Events, msgs...)
		publish(t, brokers, cfg.Kafka.Topics.Outcomes, outs...)
		time.Sleep(100 * time.Millisecond)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		m := deltaMetrics(t, r)
		if m["sent"] > 0 && m["applied"] > 0 {
			if m["failed"] != 0 || m["oversize"] != 0 {
				t.Errorf("deltas %v: none should fail or be oversize", m)
			}
			// At least the first version served, and every delta applied.
			if m["freshness"] < m["applied"]+1 {
				t.Errorf("%v freshness samples, %v deltas applied (serving version %v): deltas are not counted", m["freshness"], m["applied"], m["version"])
			}
			t.Logf("deltas and freshness: %v", m)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no delta sent and applied: %v", m)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// deltaMetrics reads the model default's delta counters by result, its freshness sample count
// and the version it serves.
func deltaMetrics(t *testing.T, r *running) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, mf := range gather(t, r.Registry) {
		for _, m := range mf.Metric {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["model"] != "default" {
				continue
			}
			switch mf.GetName() {
			case "streamlearn_learner_deltas_total", "streamlearn_model_deltas_total":
				out[labels["result"]] += m.GetCounter().GetValue()
			case "streamlearn_model_freshness_seconds":
				out["freshness"] = float64(m.GetHistogram().GetSampleCount())
			case "streamlearn_model_version":
				out["version"] = m.GetGauge().GetValue()
			}
		}
	}
	return out
}
