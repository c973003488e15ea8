package app_test

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	segkafka "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamlearn/streamlearn/eval"
	"github.com/streamlearn/streamlearn/ingest"
	"github.com/streamlearn/streamlearn/internal/synth"
	"github.com/streamlearn/streamlearn/wire"
)

func stream(n int, seed uint64) []synth.Event {
	g := synth.New(synth.Config{Seed: seed, Entities: 300, Start: time.Now().Add(-48 * time.Hour).Truncate(time.Hour), Step: 200 * time.Millisecond})
	evs := make([]synth.Event, n)
	for i := range evs {
		evs[i] = g.Next()
	}
	return evs
}

// TestEndToEnd publishes 2,000 events and their outcomes with segmentio/kafka-go and checks every
// contract of the loop: one prediction per event, a model that learns and swaps in, rows in the
// ClickHouse tables, and a live score that changes nothing.
func TestEndToEnd(t *testing.T) {
	cfg := testConfig(t)
	r := start(t, cfg)
	brokers := cfg.Kafka.Brokers
	evs := stream(2000, 7)

	// Outcomes trail their events by one chunk, so the model learns while the stream goes on.
	const chunk = 100
	for i := 0; i < len(evs); i += chunk {
		var msgs []segkafka.Message
		for _, ev := range evs[i : i+chunk] {
			msgs = append(msgs, segkafka.Message{Key: []byte(ev.Entity), Value: ev.JSON()})
		}
		publish(t, brokers, cfg.Kafka.Topics.Events, msgs...)
		if i > 0 {
			var outs []segkafka.Message
			for _, ev := range evs[i-chunk : i] {
				outs = append(outs, segkafka.Message{Key: []byte(ev.ID), Value: ev.OutcomeJSON()})
			}
			publish(t, brokers, cfg.Kafka.Topics.Outcomes, outs...)
		}
		time.Sleep(150 * time.Millisecond)
	}
	var last []segkafka.Message
	for _, ev := range evs[len(evs)-chunk:] {
		last = append(last, segkafka.Message{Key: []byte(ev.ID), Value: ev.OutcomeJSON()})
	}
	publish(t, brokers, cfg.Kafka.Topics.Outcomes, last...)

	preds := readPredictionsWithKafkaGo(t, brokers, cfg.Kafka.Topics.Predictions, len(evs), 60*time.Second)
	byID := map[string]map[string]any{}
	for _, p := range preds {
		id, _ := p["id"].(string)
		if _, dup := byID[id]; dup {
			t.Errorf("event %s has two predictions", id)
		}
		byID[id] = p
		for _, field := range []string{"id", "entity", "model", "version", "score", "route", "time", "scored_at"} {
			if _, ok := p[field]; !ok {
				t.Fatalf("prediction lacks %q: %v", field, p)
			}
		}
	}
	if got, want := len(byID), len(evs); got != want {
		t.Fatalf("distinct predictions = %d, want %d", got, want)
	}

	// The model learned and swapped in: later events were scored by later versions.
	firstV, lastV := byID[evs[0].ID]["version"].(float64), byID[evs[len(evs)-1].ID]["version"].(float64)
	if lastV <= firstV {
		t.Errorf("version did not advance: first event scored by v%v, last by v%v", firstV, lastV)
	}
	var q struct {
		Models []struct {
			Model   string `json:"model"`
			Serving int64  `json:"serving_version"`
		} `json:"models"`
	}
	if code := getJSON(t, "http://"+r.HTTPAddr+"/v1/models", &q); code != 200 || len(q.Models) == 0 || q.Models[0].Serving < 2 {
		t.Errorf("GET /v1/models = %d %+v, want a serving version ≥ 2", code, q)
	}

	// Quality: the last quarter of the stream, scored live, separates the classes.
	var scores, labels []float64
	for _, ev := range evs[len(evs)*3/4:] {
		scores = append(scores, byID[ev.ID]["score"].(float64))
		labels = append(labels, float64(ev.Label))
	}
	if auc := eval.AUC(scores, labels); auc <= 0.75 {
		t.Errorf("AUC on the last quarter = %.3f, want > 0.75", auc)
	} else {
		t.Logf("AUC on the last quarter = %.3f", auc)
	}

	counts := countRows(t, cfg, 60*time.Second, "predictions", "outcomes", "feature_drift", "model_performance", "model_versions", "model_reports")
	for tb, n := range counts {
		if n == 0 {
			t.Errorf("table %s has no rows", tb)
		}
	}
	if counts["predictions"] != uint64(len(evs)) {
		t.Errorf("predictions table has %d rows (FINAL), want %d", counts["predictions"], len(evs))
	}
	t.Logf("rows: %v", counts)
	// Publishes moved the live version; only the first (a scheduled snapshot: the interval is an
	// hour) was retained, and its report covers exactly the 500 examples after it.
	if counts["model_versions"] != 1 {
		t.Errorf("model_versions has %d rows, want 1 (the one scheduled snapshot)", counts["model_versions"])
	}
	if n := heldOutN(t, cfg); n != 500 {
		t.Errorf("the snapshot's held-out report covers %d examples, want 500", n)
	}

	// A live score reads features without changing them.
	ent := evs[0].Entity
	var before, after map[string]any
	getJSON(t, "http://"+r.HTTPAddr+"/v1/features/"+ent, &before)
	var sc map[string]any
	body := fmt.Sprintf(`{"id": "live-1", "entity": %q, "fields": {"amount": 30, "age": 30, "country": "US", "mobile": true, "visits": 1}}`, ent)
	if code := postJSON(t, "http://"+r.HTTPAddr+"/v1/score", body, &sc); code != 200 {
		t.Fatalf("POST /v1/score = %d %v", code, sc)
	}
	if s, ok := sc["score"].(float64); !ok || s <= 0 || s >= 1 {
		t.Errorf("live score = %v", sc)
	}
	getJSON(t, "http://"+r.HTTPAddr+"/v1/features/"+ent, &after)
	if fmt.Sprint(before) != fmt.Sprint(after) {
		t.Errorf("scoring changed features: before %v, after %v", before, after)
	}
}

// TestMalformedInputGoesToDeadLetters sends every kind of bad record the decoder knows, and checks
// each lands on the dead-letter topic with its bytes, source and reason while the process goes on.
func TestMalformedInputGoesToDeadLetters(t *testing.T) {
	cfg := testConfig(t)
	r := start(t, cfg)
	bad := synth.Malformed()
	var msgs []segkafka.Message
	for _, b := range bad {
		msgs = append(msgs, segkafka.Message{Value: b.Value})
	}
	good := stream(1, 3)[0]
	msgs = append(msgs, segkafka.Message{Key: []byte(good.Entity), Value: good.JSON()})
	publish(t, cfg.Kafka.Brokers, cfg.Kafka.Topics.Events, msgs...)
	publish(t, cfg.Kafka.Brokers, cfg.Kafka.Topics.Outcomes,
		segkafka.Message{Value: []byte(`{"id": "o-1"}`)},
		segkafka.Message{Value: []byte(`{"id": "o-2", "label": [1]}`)})

	dead := readAll(t, cfg.Kafka.Brokers, cfg.Kafka.Topics.DeadLetter, 30*time.Second, func(rs []*kgo.Record) bool { return len(rs) >= len(bad)+2 })
	if len(dead) != len(bad)+2 {
		t.Fatalf("dead letters = %d, want %d", len(dead), len(bad)+2)
	}
	byValue := map[string]*kgo.Record{}
	for _, d := range dead {
		byValue[string(d.Value)] = d
	}
	reasons := map[string]bool{}
	for _, b := range bad {
		d, ok := byValue[string(b.Value)]
		if !ok {
			t.Errorf("no dead letter carries the bytes of the %s record", b.Reason)
			continue
		}
		if got := ingest.Header(d, wire.HeaderReason); got != b.Reason {
			t.Errorf("reason = %q, want %q (detail %q)", got, b.Reason, ingest.Header(d, wire.HeaderDetail))
		}
		if ingest.Header(d, wire.HeaderDetail) == "" || ingest.Header(d, wire.HeaderTopic) != cfg.Kafka.Topics.Events {
			t.Errorf("dead letter lacks detail or source topic: %v", d.Headers)
		}
		if _, err := strconv.ParseInt(ingest.Header(d, wire.HeaderOffset), 10, 64); err != nil {
			t.Errorf("dead letter offset header: %v", err)
		}
		reasons[b.Reason] = true
	}
	if len(reasons) < 8 {
		t.Errorf("only %d kinds of malformed input were checked", len(reasons))
	}
	var outcomeReasons []string
	for _, d := range dead {
		if ingest.Header(d, wire.HeaderTopic) == cfg.Kafka.Topics.Outcomes {
			outcomeReasons = append(outcomeReasons, ingest.Header(d, wire.HeaderReason))
		}
	}
	slices.Sort(outcomeReasons)
	if strings.Join(outcomeReasons, ",") != "bad_label,bad_label" {
		t.Errorf("outcome dead letters = %v, want two bad_label", outcomeReasons)
	}

	// The process is up and the valid event was scored.
	preds := readAll(t, cfg.Kafka.Brokers, cfg.Kafka.Topics.Predictions, 30*time.Second, func(rs []*kgo.Record) bool { return len(rs) >= 1 })
	if len(preds) != 1 || string(preds[0].Key) != good.ID {
		t.Errorf("predictions = %d, want the one valid event", len(preds))
	}
	if code := getJSON(t, "http://"+r.HTTPAddr+"/healthz", nil); code != 200 {
		t.Errorf("/healthz = %d", code)
	}
	if code := getJSON(t, "http://"+r.HTTPAddr+"/readyz", nil); code != 200 {
		t.Errorf("/readyz = %d", code)
	}
}

// TestRestartMidStream stops the process gracefully while events flow and starts it again: every
// event gets exactly one prediction.
func TestRestartMidStream(t *testing.T) {
	cfg := testConfig(t)
	evs := stream(3000, 11)
	msgs := func(part []synth.Event) []segkafka.Message {
		var out []segkafka.Message
		for _, ev := range part {
			out = append(out, segkafka.Message{Key: []byte(ev.Entity), Value: ev.JSON()})
		}
		return out
	}

	first := start(t, cfg)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 2000; i += 100 {
			publish(t, cfg.Kafka.Brokers, cfg.Kafka.Topics.Events, msgs(evs[i:i+100])...)
			time.Sleep(20 * time.Millisecond)
		}
	}()
	// Stop while the stream is mid-flight.
	readAll(t, cfg.Kafka.Brokers, cfg.Kafka.Topics.Predictions, 30*time.Second, func(rs []*kgo.Record) bool { return len(rs) >= 500 })
	first.stop(t)
	<-done
	publish(t, cfg.Kafka.Brokers, cfg.Kafka.Topics.Events, msgs(evs[2000:])...)

	start(t, cfg)
	preds := readAll(t, cfg.Kafka.Brokers, cfg.Kafka.Topics.Predictions, 60*time.Second, func(rs []*kgo.Record) bool { return len(rs) >= len(evs) })
	time.Sleep(2 * time.Second) // duplicates would arrive now
	preds = readAll(t, cfg.Kafka.Brokers, cfg.Kafka.Topics.Predictions, 10*time.Second, func(rs []*kgo.Record) bool { return len(rs) >= len(preds) && len(rs) > 0 })
	seen := map[string]int{}
	for _, p := range preds {
		seen[string(p.Key)]++
	}
	for _, ev := range evs {
		switch seen[ev.ID] {
		case 1:
		case 0:
			t.Errorf("event %s lost its prediction", ev.ID)
		default:
			t.Errorf("event %s has %d predictions", ev.ID, seen[ev.ID])
		}
	}
	if len(preds) != len(evs) {
		t.Errorf("predictions = %d, want %d", len(preds), len(evs))
	}
}
