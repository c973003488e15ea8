package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamlearn/streamlearn/internal/console"
	"github.com/streamlearn/streamlearn/internal/testenv"
	"github.com/streamlearn/streamlearn/wire"
)

// TestDeadLettersLatestPerReason reads a dead-letter topic of three partitions over TCP: the
// answer holds the newest n records of each reason, newest first, with their headers, a value
// that is not UTF-8 made printable, and the topic's total.
func TestDeadLettersLatestPerReason(t *testing.T) {
	const topic = "events.dlq"
	addr := testenv.Kafka(t, 3, topic)
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	start := time.Now().Add(-time.Hour).Truncate(time.Second)
	var recs []*kgo.Record
	for i := range 40 {
		reason := "bad_json"
		if i%10 == 9 {
			reason = "missing_id" // 4 of them
		}
		recs = append(recs, &kgo.Record{Key: []byte(fmt.Sprint("k", i)), Value: []byte{byte('a' + i%26), 0xff}, Timestamp: start.Add(time.Duration(i) * time.Second),
			Headers: []kgo.RecordHeader{{Key: wire.HeaderReason, Value: []byte(reason)}, {Key: wire.HeaderTopic, Value: []byte("events")}}})
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	srv, _ := newServer(t, console.Options{Gatherer: prometheus.NewRegistry(), Kafka: cl, KafkaOpts: []kgo.Opt{kgo.SeedBrokers(addr)}, DeadLetterTopic: topic})
	code, _, body := get(t, srv.URL+"/v1/console/deadletters?n=5")
	var got console.DeadLetters
	if err := json.Unmarshal(body, &got); err != nil || code != 200 {
		t.Fatalf("deadletters: %d %s", code, body)
	}
	if got.Total != 40 || !got.Complete || got.Scanned != 40 || len(got.Reasons) != 2 {
		t.Fatalf("total %d complete %v scanned %d reasons %d; want 40, true, 40, 2", got.Total, got.Complete, got.Scanned, len(got.Reasons))
	}
	want := map[string][]int{"bad_json": {38, 37, 36, 35, 34}, "missing_id": {39, 29, 19, 9}}
	for reason, idx := range want {
		ds := got.Reasons[reason]
		if len(ds) != len(idx) {
			t.Errorf("%s: %d records, want %d", reason, len(ds), len(idx))
			continue
		}
		for j, i := range idx {
			d := ds[j]
			if d.Key != fmt.Sprint("k", i) || d.Time != start.Add(time.Duration(i)*time.Second).UnixMilli() || d.Reason != reason ||
				d.Headers[wire.HeaderTopic] != "events" || d.Value != string(rune('a'+i%26))+"\uFFFD" {
				t.Errorf("%s[%d] = %+v, want record %d", reason, j, d, i)
			}
		}
	}
	// n=1 reads the last 10 records of each partition: 30 of the 40.
	code, _, body = get(t, srv.URL+"/v1/console/deadletters?n=1")
	got = console.DeadLetters{}
	if err := json.Unmarshal(body, &got); err != nil || code != 200 || got.Scanned != 30 || got.Total != 40 ||
		len(got.Reasons["bad_json"]) != 1 || got.Reasons["bad_json"][0].Key != "k38" || got.Reasons["missing_id"][0].Key != "k39" {
		t.Errorf("n=1: %d %s", code, body)
	}
}
