package kafkasink_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamlearn/streamlearn/sinks/kafkasink"
	"github.com/streamlearn/streamlearn/wire"
)

// TestAnnounce: an announcement is one record on the models topic, keyed by model, whose value is
// the wire.Announcement's JSON.
func TestAnnounce(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "models"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics("models"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	want := wire.Announcement{Model: "default", Version: 7, Event: wire.EventPromoted, Time: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)}
	if err := kafkasink.Announce(ctx, cl, "models", want); err != nil {
		t.Fatal(err)
	}
	fetches := cl.PollRecords(ctx, 1)
	if err := fetches.Err(); err != nil {
		t.Fatal(err)
	}
	recs := fetches.Records()
	if len(recs) != 1 {
		t.Fatalf("%d records, want 1", len(recs))
	}
	var got wire.Announcement
	if err := json.Unmarshal(recs[0].Value, &got); err != nil {
		t.Fatal(err)
	}
	if string(recs[0].Key) != "default" || got != want {
		t.Errorf("record key %q value %+v, want key %q value %+v", recs[0].Key, got, "default", want)
	}
}
