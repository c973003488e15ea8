package correlator

import (
	"context"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamlearn/streamlearn/drift"
	"github.com/streamlearn/streamlearn/ingest"
	"github.com/streamlearn/streamlearn/internal/kafkaclient"
	"github.com/streamlearn/streamlearn/wire"
)

func TestExampleSegments(t *testing.T) {
	v := wire.Vector{
		{Name: "age", Value: 31}, {Name: "country=DE", Value: 1}, {Name: "countryside", Value: 2},
		{Name: "mobile", Value: 1}, {Name: "visits", Value: 3.5},
	}
	v.Sort()
	got := exampleSegments([]string{"country", "mobile", "visits", "plan", "count"}, v)
	want := []string{"DE", "1", "3.5", "", ""}
	if !slices.Equal(got, want) {
		t.Errorf("exampleSegments = %q, want %q", got, want)
	}
	// The events side formats the same values the same way.
	for field, raw := range map[string]any{"country": "DE", "mobile": true, "visits": 3.5} {
		i := slices.Index([]string{"country", "mobile", "visits"}, field)
		if s := drift.SegmentValue(raw); s != got[i] {
			t.Errorf("event %s=%v gives segment %q, example gives %q", field, raw, s, got[i])
		}
	}
	if exampleSegments(nil, v) != nil {
		t.Error("segments without fields")
	}
}

// testTopics returns the contract's topic names.
func testTopics() Topics {
	t := kafkaclient.DefaultTopics()
	return Topics{Events: t.Events, Predictions: t.Predictions, Outcomes: t.Outcomes, Examples: t.Examples, Control: t.Control}
}

func at(offset int64) kgo.Offset { return kgo.NewOffset().At(offset) }

// TestOffsetTrackerResumesAndCommits walks the tracker through a restart: the first assignment
// starts where the saved open windows start, rows below the saved commit count as written, commits
// never go back, and a later assignment resumes where this run stopped reading.
func TestOffsetTrackerResumesAndCommits(t *testing.T) {
	topics := testTopics()
	tr := newOffsetTracker(time.Minute, topics)
	tr.restore(savedOffsets{
		Resume:    partitionOffsets{topics.Events: {0: 100}, topics.Outcomes: {0: 40}},
		Committed: partitionOffsets{topics.Events: {0: 150}, topics.Outcomes: {0: 40}},
	})
	offs := map[string]map[int32]kgo.Offset{topics.Events: {0: at(150), 1: at(7)}, topics.Outcomes: {0: at(40)}}
	if _, err := tr.adjust(context.Background(), offs); err != nil {
		t.Fatal(err)
	}
	if got := offs[topics.Events][0].EpochOffset().Offset; got != 100 {
		t.Errorf("events/0 starts at %d, want the saved resume offset 100", got)
	}
	if got := offs[topics.Events][1].EpochOffset().Offset; got != 7 {
		t.Errorf("events/1 starts at %d, want its committed 7", got)
	}
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	rec := func(p int32, off int64) *Record {
		return &Record{Topic: topics.Events, Partition: p, Offset: off}
	}
	if !tr.written(rec(0, 120)) || tr.written(rec(0, 150)) || tr.written(rec(1, 7)) {
		t.Error("written: want true below the saved commit only")
	}
	for off := int64(100); off < 160; off++ {
		tr.seen(rec(0, off), drift.StreamEvents, t0.Add(time.Duration(off)*time.Second)) // windows 10:01 and 10:02
	}
	resume, commit := tr.points(drift.OpenWindows{Events: t0.Add(2 * time.Minute)})
	if got := resume[topics.Events][0]; got != 120 {
		t.Errorf("resume events/0 = %d, want 120, the first record of window 10:02", got)
	}
	if got := commit[topics.Events][0]; got != 160 {
		t.Errorf("commit events/0 = %d, want 160", got)
	}
	if got := commit[topics.Outcomes][0]; got != 40 {
		t.Errorf("commit outcomes/0 = %d, want the saved 40 (nothing read)", got)
	}
	if got, ok := resume[topics.Outcomes][0]; !ok || got != 40 {
		t.Errorf("resume outcomes/0 = %d %v, want the saved 40", got, ok)
	}
	// A later assignment (a rebalance that gave the partition back) resumes where this run is.
	offs = map[string]map[int32]kgo.Offset{topics.Events: {0: at(150)}}
	tr.adjust(context.Background(), offs)
	if got := offs[topics.Events][0].EpochOffset().Offset; got != 160 {
		t.Errorf("events/0 restarts at %d after a rebalance, want 160", got)
	}
}

// TestOffsetTrackerWatermarks: an assigned partition holds its stream's watermark until it is
// known to be caught up and has then been idle for a while.
func TestOffsetTrackerWatermarks(t *testing.T) {
	topics := testTopics()
	tr := newOffsetTracker(time.Minute, topics)
	wall := time.Unix(1e9, 0)
	tr.clock.Now = func() time.Time { return wall }
	tr.adjust(context.Background(), map[string]map[int32]kgo.Offset{topics.Events: {0: at(0), 1: at(0)}})
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	r := &kgo.Record{Topic: topics.Events, Partition: 0, Offset: 0}
	tr.seen(&Record{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset}, drift.StreamEvents, t0)
	if _, ok := tr.watermarks()[drift.StreamEvents]; ok {
		t.Fatal("watermark while partition 1 was never read")
	}
	tr.fetched(kgo.FetchTopicPartition{Topic: topics.Events, FetchPartition: kgo.FetchPartition{Partition: 1, HighWatermark: 1,
		Records: []*kgo.Record{{Topic: topics.Events, Partition: 1, Offset: 0}}}})
	tr.seen(&Record{Topic: topics.Events, Partition: 1, Offset: 0}, drift.StreamEvents, t0.Add(time.Hour))
	if w := tr.watermarks()[drift.StreamEvents]; !w.Equal(t0) {
		t.Errorf("watermark %v, want %v: partition 0 may have more to read", w, t0)
	}
	tr.fetched(kgo.FetchTopicPartition{Topic: topics.Events, FetchPartition: kgo.FetchPartition{Partition: 0, HighWatermark: 1,
		Records: []*kgo.Record{r}}})
	if w := tr.watermarks()[drift.StreamEvents]; !w.Equal(t0) {
		t.Errorf("watermark %v, want %v: partition 0 has just caught up, its next records may be on their way", w, t0)
	}
	wall = wall.Add(drift.DefaultPartitionIdle)
	if w := tr.watermarks()[drift.StreamEvents]; !w.Equal(t0.Add(time.Hour)) {
		t.Errorf("watermark %v, want %v once both are caught up and idle", w, t0.Add(time.Hour))
	}
}

// Without segments an example is decoded without its features, and otherwise alike.
func TestDecodeExampleWithoutFeatures(t *testing.T) {
	recs := benchRecords(50)
	now := time.Now()
	with := &Correlator{topics: testTopics(), limits: ingest.DefaultLimits(), segments: []string{"country"}}
	without := &Correlator{topics: testTopics(), limits: ingest.DefaultLimits()}
	n := 0
	for i := range recs {
		if recs[i].Topic != with.topics.Examples {
			continue
		}
		a, b := with.decode(&recs[i], now), without.decode(&recs[i], now)
		if !a.ok || !b.ok || len(a.example.Features) == 0 || b.example.Features != nil {
			t.Fatalf("record %d: ok %v/%v, features %d/%d", i, a.ok, b.ok, len(a.example.Features), len(b.example.Features))
		}
		a.example.Features = nil
		if !reflect.DeepEqual(a.example, b.example) || a.example.ID == "" || a.example.OutcomeTime.IsZero() {
			t.Fatalf("record %d:\n%+v\n%+v", i, a.example, b.example)
		}
		n++
	}
	if n != 50 {
		t.Fatalf("%d examples", n)
	}
}
