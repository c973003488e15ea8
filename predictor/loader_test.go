package predictor_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamlearn/streamlearn/internal/testenv"
	"github.com/streamlearn/streamlearn/learner"
	"github.com/streamlearn/streamlearn/predictor"
	"github.com/streamlearn/streamlearn/wire"
)

// TestLoaderServe checks which version each kind of model serves first.
func TestLoaderServe(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.publish(t, "unpromoted", trained(t, "unpromoted", 0), 0)
	e.promote(t, "promoted", e.publish(t, "promoted", trained(t, "promoted", 0), 0))
	fast := spec("fast")
	fast.Task = learner.Regression

	tests := []struct {
		model   string
		trained *learner.Spec
		version int64
		task    learner.Task
		err     error
	}{
		{"default", nil, 0, learner.Binary, nil},           // the learner's model, nothing published
		{"fast", &fast, 0, learner.Regression, nil},        // trained by the learner with its own spec
		{"unpromoted", nil, 0, learner.Binary, nil},        // in the registry without a champion
		{"promoted", nil, 1, learner.Binary, nil},          // the registry's champion
		{"nowhere", nil, 0, "", predictor.ErrUnknownModel}, // neither
		{"nowhere", nil, 0, "", learner.ErrNotFound},       // ... which is a kind of not found
		{"promoted", &fast, 1, learner.Binary, nil},        // a published champion wins over version 0
		{"default", nil, 0, learner.Binary, nil},           // serving twice is fine
		{"unpromoted", &fast, 0, learner.Binary, nil /* already serving */},
	}
	for _, tt := range tests {
		err := e.loader.Serve(ctx, tt.model, tt.trained)
		if !errors.Is(err, tt.err) {
			t.Errorf("Serve(%s) = %v, want %v", tt.model, err, tt.err)
			continue
		}
		if tt.err != nil {
			continue
		}
		s := e.models.Get(tt.model)
		if s == nil || s.Version != tt.version || s.Snapshot.Spec().Task != tt.task || s.Snapshot.Spec().Name != tt.model {
			t.Errorf("Serve(%s): serving %+v, want version %d of a %s model", tt.model, s, tt.version, tt.task)
		}
	}
}

// TestLoaderFollowsAnnouncements: a version promoted elsewhere serves as soon as it is announced,
// long before the next poll.
func TestLoaderFollowsAnnouncements(t *testing.T) {
	e := newEnv(t)
	broker := testenv.Kafka(t, 1, "models")
	if err := e.loader.Serve(context.Background(), "default", nil); err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(broker), kgo.ConsumeTopics("models"), kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.loader.Run(ctx, cl, nil, time.Hour) }()
	defer func() { cancel(); <-done }()

	producer, err := kgo.NewClient(kgo.SeedBrokers(broker))
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	time.Sleep(300 * time.Millisecond) // the loader's client reaches the end of the topic
	for want := int64(1); want <= 3; want++ {
		e.promote(t, "default", e.publish(t, "default", trained(t, "default", int(want)), want-1))
		b, _ := json.Marshal(wire.Announcement{Model: "default", Version: want, Event: "published", Time: time.Now()})
		if err := producer.ProduceSync(context.Background(), &kgo.Record{Topic: "models", Value: b}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for e.models.Get("default").Version != want {
			if time.Now().After(deadline) {
				t.Fatalf("version %d announced, still serving %d", want, e.models.Get("default").Version)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}
