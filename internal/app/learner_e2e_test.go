package app_test

import (
	"context"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	segkafka "github.com/segmentio/kafka-go"

	"github.com/streamlearn/streamlearn/features/featurestore"
	"github.com/streamlearn/streamlearn/internal/config"
	"github.com/streamlearn/streamlearn/learner"
	"github.com/streamlearn/streamlearn/learner/registry"
	"github.com/streamlearn/streamlearn/predictor"
	"github.com/streamlearn/streamlearn/wire"
)

type modelsResponse struct {
	Models []struct {
		Model    string            `json:"model"`
		Serving  int64             `json:"serving_version"`
		Champion int64             `json:"champion"`
		Live     *learner.Version  `json:"live"`
		Versions []learner.Version `json:"versions"`
	} `json:"models"`
}

// TestChallengersAndRollback: a challenger learns from the same examples as the champion, and a
// rollback in the registry swaps the serving version back without a restart.
func TestChallengersAndRollback(t *testing.T) {
	cfg := testConfig(t)
	ch := learner.DefaultSpec()
	ch.Name, ch.Optimizer = "challenger", "adagrad"
	cfg.Challengers = []config.ModelSpec{config.ModelSpec(ch)}
	r := start(t, cfg)

	evs := stream(600, 31)
	for i := 0; i < len(evs); i += 100 {
		var msgs, outs []segkafka.Message
		for _, ev := range evs[i : i+100] {
			msgs = append(msgs, segkafka.Message{Key: []byte(ev.Entity), Value: ev.JSON()})
			outs = append(outs, segkafka.Message{Key: []byte(ev.ID), Value: ev.OutcomeJSON()})
		}
		publish(t, cfg.Kafka.Brokers, cfg.Kafka.Topics.Events, msgs...)
		publish(t, cfg.Kafka.Brokers, cfg.Kafka.Topics.Outcomes, outs...)
		time.Sleep(300 * time.Millisecond)
	}

	var q modelsResponse
	deadline := time.Now().Add(30 * time.Second)
	for {
		getJSON(t, "http://"+r.HTTPAddr+"/v1/models", &q)
		learnedBoth := len(q.Models) == 2
		for _, m := range q.Models {
			if m.Live == nil || m.Live.Examples != int64(len(evs)) {
				learnedBoth = false
			}
		}
		if learnedBoth {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("both models did not learn every example: %+v", q)
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, m := range q.Models {
		if m.Live.Spec.Optimizer == "" || (m.Model == "challenger") != (m.Live.Spec.Optimizer == "adagrad") {
			t.Errorf("model %s was trained with spec %+v", m.Model, m.Live.Spec)
		}
		// The first publish was a scheduled snapshot; the rest only moved the live head.
		if len(m.Versions) != 1 || m.Versions[0].Kind != learner.SnapshotScheduled || m.Versions[0].Version != 1 {
			t.Errorf("model %s retained %+v, want only its first publish", m.Model, m.Versions)
		}
	}

	// Roll the champion back over HTTP to the first snapshot and watch the predictor serve it.
	rdb := goredis.NewClient(&goredis.Options{Addr: cfg.Redis.Addr})
	defer rdb.Close()
	reg := registry.NewRegistry(rdb, cfg.Redis.KeyPrefix)
	base := "http://" + r.HTTPAddr
	var change predictor.ChampionResult
	if code := postJSON(t, base+"/v1/models/default/rollback", `{"to": "1", "reason": "e2e", "by": "tester"}`, &change); code != 200 ||
		change.Version != 1 || !change.Pinned || change.Serving != 1 {
		t.Fatalf("rollback = %d %+v", code, change)
	}
	// The score is the snapshot's, on the features the store gives the event.
	b, err := reg.Snapshot(context.Background(), "default", 1)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := learner.UnmarshalSnapshot(b)
	if err != nil {
		t.Fatal(err)
	}
	store, err := featurestore.NewOnline(rdb, cfg.Features, featurestore.Options{Prefix: cfg.Redis.KeyPrefix, TTL: cfg.Redis.EntityTTL})
	if err != nil {
		t.Fatal(err)
	}
	probe := wire.Event{ID: "probe", Time: time.Now().UTC(), Fields: map[string]any{"amount": 30.0, "age": 40.0, "country": "US", "mobile": true, "visits": 2.0}}
	vs, err := store.Lookup(context.Background(), []wire.Event{probe})
	if err != nil {
		t.Fatal(err)
	}
	want := snap.Predict(vs[0]).Score
	scoreProbe := func() predictor.Score {
		t.Helper()
		var s predictor.Score
		body := `{"id": "probe", "time": "` + probe.Time.Format(time.RFC3339Nano) + `", "fields": {"amount": 30, "age": 40, "country": "US", "mobile": true, "visits": 2}}`
		if code := postJSON(t, base+"/v1/score", body, &s); code != 200 {
			t.Fatalf("score = %d %+v", code, s)
		}
		return s
	}
	if s := scoreProbe(); s.Version != 1 || s.Score != want {
		t.Fatalf("score after the rollback = %+v, want version 1's %v", s, want)
	}
	// Learning goes on beside the pin: more examples move the live version, serving stays.
	liveBefore, _ := reg.Live(context.Background(), "default")
	more := stream(300, 32)
	var msgs, outs []segkafka.Message
	for _, ev := range more {
		msgs = append(msgs, segkafka.Message{Key: []byte(ev.Entity), Value: ev.JSON()})
		outs = append(outs, segkafka.Message{Key: []byte(ev.ID), Value: ev.OutcomeJSON()})
	}
	publish(t, cfg.Kafka.Brokers, cfg.Kafka.Topics.Events, msgs...)
	publish(t, cfg.Kafka.Brokers, cfg.Kafka.Topics.Outcomes, outs...)
	deadline = time.Now().Add(30 * time.Second)
	for {
		live, _ := reg.Live(context.Background(), "default")
		if live.Examples == int64(len(evs)+len(more)) {
			if live.Version <= liveBefore.Version {
				t.Fatalf("live version %d did not move past %d", live.Version, liveBefore.Version)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the learner did not learn the %d new examples beside the pin: live %+v", len(more), live)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if c, _ := reg.Champion(context.Background(), "default"); c != 1 {
		t.Errorf("champion moved to %d after a pinned rollback to 1", c)
	}
	if s := scoreProbe(); s.Version != 1 || s.Score != want {
		t.Fatalf("score while pinned = %+v, want version 1's %v", s, want)
	}
	hist, _ := reg.History(context.Background(), "default")
	if len(hist) != 1 || hist[0].By != "tester" || hist[0].Reason != "e2e" || hist[0].Version != 1 {
		t.Errorf("history = %+v", hist)
	}
}
