package app_test

import (
	"encoding/json"
	"testing"
	"time"

	segkafka "github.com/segmentio/kafka-go"
	"github.com/streamlearn/streamlearn/wire"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestImplicitLabelAfterHorizon: events whose outcome never comes become examples with the
// implicit label once the join horizon passes; events with an outcome keep their real label.
func TestImplicitLabelAfterHorizon(t *testing.T) {
	cfg := testConfig(t)
	zero := 0.0
	cfg.Join.Horizon = time.Second
	cfg.Join.ImplicitLabel = &zero
	cfg.Join.SweepInterval = 100 * time.Millisecond
	start(t, cfg)
	evs := stream(60, 21)
	var msgs, outs []segkafka.Message
	for i, ev := range evs {
		msgs = append(msgs, segkafka.Message{Key: []byte(ev.Entity), Value: ev.JSON()})
		if i%3 == 0 { // a third get a real outcome, labelled 1
			outs = append(outs, segkafka.Message{Key: []byte(ev.ID), Value: []byte(`{"id": "` + ev.ID + `", "label": 1}`)})
		}
	}
	publish(t, cfg.Kafka.Brokers, cfg.Kafka.Topics.Events, msgs...)
	publish(t, cfg.Kafka.Brokers, cfg.Kafka.Topics.Outcomes, outs...)

	recs := readAll(t, cfg.Kafka.Brokers, cfg.Kafka.Topics.Examples, 30*time.Second, func(rs []*kgo.Record) bool { return len(rs) >= len(evs) })
	time.Sleep(1500 * time.Millisecond) // a duplicate would come now
	recs = readAll(t, cfg.Kafka.Brokers, cfg.Kafka.Topics.Examples, 5*time.Second, func(rs []*kgo.Record) bool { return len(rs) >= len(recs) })
	byID := map[string]wire.Example{}
	for _, r := range recs {
		var ex wire.Example
		if err := json.Unmarshal(r.Value, &ex); err != nil {
			t.Fatal(err)
		}
		if _, dup := byID[ex.ID]; dup {
			t.Errorf("example %s twice", ex.ID)
		}
		byID[ex.ID] = ex
	}
	if len(byID) != len(evs) {
		t.Fatalf("examples = %d, want %d", len(byID), len(evs))
	}
	for i, ev := range evs {
		ex := byID[ev.ID]
		real := i%3 == 0
		if real && (ex.Implicit || ex.Label != 1) || !real && (!ex.Implicit || ex.Label != 0) {
			t.Errorf("event %d: example %+v, want real=%v", i, ex, real)
		}
	}
}
