package app_test

import (
	"context"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	segkafka "github.com/segmentio/kafka-go"

	"github.com/streamlearn/streamlearn/internal/config"
	"github.com/streamlearn/streamlearn/learner"
	"github.com/streamlearn/streamlearn/learner/registry"
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

	// Roll the champion model back and watch the predictor follow.
	rdb := goredis.NewClient(&goredis.Options{Addr: cfg.Redis.Addr})
	defer rdb.Close()
	reg := registry.NewRegistry(rdb, cfg.Redis.KeyPrefix)
	change, err := reg.Rollback(context.Background(), "default", 0, "test rollback", "test")
	if err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(15 * time.Second)
	for {
		getJSON(t, "http://"+r.HTTPAddr+"/v1/models", &q)
		serving := int64(-1)
		for _, m := range q.Models {
			if m.Model == "default" {
				serving = m.Serving
			}
		}
		if serving == change.Version {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("serving version %d, want the rolled-back %d", serving, change.Version)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The pin holds while the learner keeps publishing.
	time.Sleep(3 * cfg.Learner.PublishInterval)
	if c, _ := reg.Champion(context.Background(), "default"); c != change.Version {
		t.Errorf("champion moved to %d after a pinned rollback to %d", c, change.Version)
	}
}
