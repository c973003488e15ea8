package faults_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	segkafka "github.com/segmentio/kafka-go"

	"github.com/streamlearn/streamlearn/internal/testenv"
)

// allOf is the exact result of a clean run of st: every event one prediction, every outcome joined
// and learned once.
func allOf(st *stream) want {
	n := len(st.ids)
	return want{predictions: n, joined: n, learned: int64(n), outRows: n}
}

// killMidStream runs the stream through the processes that start returns, SIGKILLs victim once a
// quarter of the stream is scored, publishes the second half while it is down, starts it again and
// checks the exact counts.
func killMidStream(t *testing.T, n int, start func(s *stack) map[string]*proc, victim string) {
	s := newStack(t, stackOpts{})
	procs := start(s)
	st := newStream(t, n)
	obs := s.observer(st)
	pub := newProducer(t, s.brokers)

	pub.feed(st, 0, n/2)
	obs.progress(n/4, 60*time.Second)
	if c, ok := obs.measure(); ok {
		t.Logf("SIGKILL %s with %d of %d events scored, %d joined, %d learned", victim, c.predIDs, n, c.joinedIDs, c.learned)
	}
	procs[victim].kill()
	pub.feed(st, n/2, n)
	procs[victim].restart()
	faultEnd := time.Now()

	c, reached := obs.waitComplete(allOf(st), 150*time.Second)
	dls := readDeadLetters(t, s.brokers, "events.dlq", 0, 3*time.Second)
	check(t, s, c, allOf(st), dls, 0, n, faultEnd, reached)
}

// split runs each role in its own process: ingest (score and join), learner, drift (correlator).
func split(s *stack) map[string]*proc {
	return map[string]*proc{
		"ingest":  s.start("ingest", "ingest"),
		"learner": s.start("learner", "learner"),
		"drift":   s.start("drift", "drift"),
	}
}

func whole(s *stack) map[string]*proc {
	return map[string]*proc{"serve": s.start("serve", "serve")}
}

// TestFaultKillLearner SIGKILLs the learner process mid-stream: the restarted learner resumes from
// its checkpoint (after the lease of the dead one lapses) and learns every example exactly once.
func TestFaultKillLearner(t *testing.T) {
	killMidStream(t, 20000, split, "learner")
}

// TestFaultKillRole SIGKILLs each other role's process mid-stream.
func TestFaultKillRole(t *testing.T) {
	long(t)
	t.Run("ingest", func(t *testing.T) { killMidStream(t, 20000, split, "ingest") })
	t.Run("drift", func(t *testing.T) { killMidStream(t, 20000, split, "drift") })
	t.Run("serve", func(t *testing.T) { killMidStream(t, 20000, whole, "serve") })
}

// TestFaultTwoReplicas runs two serve processes on the same Kafka, Redis and ClickHouse, SIGKILLs
// one mid-stream and checks the tables are what one process gives: the consumer groups split the
// work, the leases keep one learner and one correlator, and the survivor takes over the rest.
func TestFaultTwoReplicas(t *testing.T) {
	const n = 20000
	s := newStack(t, stackOpts{})
	a := s.start("serve-a", "serve")
	s.start("serve-b", "serve")
	st := newStream(t, n)
	obs := s.observer(st)
	pub := newProducer(t, s.brokers)

	pub.feed(st, 0, n/2)
	obs.progress(n/4, 60*time.Second)
	a.kill()
	faultEnd := time.Now()
	pub.feed(st, n/2, n)

	c, reached := obs.waitComplete(allOf(st), 150*time.Second)
	dls := readDeadLetters(t, s.brokers, "events.dlq", 0, 3*time.Second)
	check(t, s, c, allOf(st), dls, 0, n, faultEnd, reached)
}

// poison is a record that must end in the dead-letter topic with reason.
type poison struct {
	topic, reason string
	value         []byte
}

func poisons() []poison {
	big := `{"id":"p-oversize","fields":{"s":"` + strings.Repeat("x", 70<<10) + `"}}`
	many := map[string]any{}
	for i := range 300 {
		many[fmt.Sprintf("f%d", i)] = i
	}
	tooMany, _ := json.Marshal(map[string]any{"id": "p-toomany", "fields": many})
	future := time.Now().Add(72 * time.Hour).UTC().Format(time.RFC3339)
	return []poison{
		{"events", "oversize", []byte(big)},
		{"events", "bad_json", []byte(`{"id": "p-trunc", "fields": {"a": 1`)},
		{"events", "bad_json", []byte(``)},
		{"events", "bad_json", []byte("\xff\xfe{\"id\":\"p-utf8\"}")},
		{"events", "bad_json", []byte(`{"id": "p-dupkey", "fields": {"a": 1}} trailing`)},
		{"events", "not_object", []byte(`[1, 2, 3]`)},
		{"events", "not_object", []byte(`"just a string"`)},
		{"events", "missing_id", []byte(`{"fields": {"a": 1}}`)},
		{"events", "missing_id", []byte(`{"id": "", "fields": {"a": 1}}`)},
		{"events", "bad_id", []byte(`{"id": 12345, "fields": {"a": 1}}`)},
		{"events", "bad_id", []byte(`{"id": "` + strings.Repeat("i", 300) + `"}`)},
		{"events", "bad_entity", []byte(`{"id": "p-entity", "entity": {"x": 1}}`)},
		{"events", "bad_entity", []byte(`{"id": "p-entity-float", "entity": 1.5}`)},
		{"events", "bad_time", []byte(`{"id": "p-time", "time": "yesterday"}`)},
		{"events", "bad_time", []byte(`{"id": "p-time-1970", "time": "1970-01-01T00:00:00Z"}`)},
		{"events", "bad_time", []byte(`{"id": "p-time-future", "time": "` + future + `"}`)},
		{"events", "bad_time", []byte(`{"id": "p-time-ms", "time": 1e30}`)},
		{"events", "bad_fields", []byte(`{"id": "p-fields", "fields": [1, 2]}`)},
		{"events", "bad_fields", []byte(`{"id": "p-fieldname", "fields": {"": 1}}`)},
		{"events", "bad_field_type", []byte(`{"id": "p-ftype", "fields": {"a": {"b": 1}}}`)},
		{"events", "bad_field_type", []byte(`{"id": "p-fbig", "fields": {"a": 1e400}}`)},
		{"events", "bad_field_type", []byte(`{"id": "p-fstr", "fields": {"a": "` + strings.Repeat("s", 2000) + `"}}`)},
		{"events", "too_many_fields", tooMany},
		{"outcomes", "bad_json", []byte(`{"id": "p-o-trunc", "label": `)},
		{"outcomes", "missing_id", []byte(`{"label": 1}`)},
		{"outcomes", "bad_label", []byte(`{"id": "p-o-nolabel"}`)},
		{"outcomes", "bad_label", []byte(`{"id": "p-o-objlabel", "label": {"v": 1}}`)},
		{"outcomes", "bad_label", []byte(`{"id": "p-o-biglabel", "label": 1e400}`)},
		{"outcomes", "bad_time", []byte(`{"id": "p-o-time", "label": 1, "time": "noon"}`)},
	}
}

// TestFaultPoisonRecords sends poison records of every kind mid-stream on both input topics, with
// valid records that push the numbers (1e200 feature values, 1e300 labels), events sent twice by
// the producer and outcomes of events never sent. Every poison record must land in the dead-letter
// topic once, with its reason and source topic; every valid record must be scored, joined and learned
// exactly once; the model must stay finite.
func TestFaultPoisonRecords(t *testing.T) {
	const n = 20000
	s := newStack(t, stackOpts{})
	srv := s.start("serve", "serve")
	st := newStream(t, n)
	// Valid records at the edge of the numbers.
	for i := 0; i < n; i += 1000 {
		var ev map[string]any
		_ = json.Unmarshal(st.events[i].Value, &ev)
		ev["fields"].(map[string]any)["amount"] = math.Copysign(1e200, float64(i%2000)-500)
		st.events[i].Value, _ = json.Marshal(ev)
		var oc map[string]any
		_ = json.Unmarshal(st.outcomes[i+1].Value, &oc)
		oc["label"] = 1e300
		st.outcomes[i+1].Value, _ = json.Marshal(oc)
	}
	obs := s.observer(st)
	pub := newProducer(t, s.brokers)
	ps := poisons()

	pub.feed(st, 0, n/2)
	for _, p := range ps {
		pub.send(p.topic, []segkafka.Message{{Key: []byte("poison"), Value: p.value}})
	}
	// The producer sends the first 200 events again; outcomes of events that never come.
	pub.send("events", st.events[:200])
	var orphans []segkafka.Message
	for i := range 10 {
		orphans = append(orphans, segkafka.Message{Key: []byte("orphan"), Value: fmt.Appendf(nil, `{"id": "orphan-%d", "label": 1}`, i)})
	}
	pub.send("outcomes", orphans)
	faultEnd := time.Now()
	pub.feed(st, n/2, n)

	w := allOf(st)
	w.outRows += len(orphans)
	c, reached := obs.waitComplete(w, 150*time.Second)
	dls := readDeadLetters(t, s.brokers, "events.dlq", len(ps), 30*time.Second)
	check(t, s, c, w, dls, len(ps), n, faultEnd, reached)

	// Each poison record once, with its reason and source topic, and nothing else.
	wantDL := map[string]poison{}
	for _, p := range ps {
		wantDL[string(p.value)] = p
	}
	for _, d := range dls {
		p, ok := wantDL[d.value]
		if !ok {
			t.Errorf("unexpected dead letter (reason %s, topic %s): %.120q", d.reason, d.topic, d.value)
			continue
		}
		delete(wantDL, d.value)
		if d.reason != p.reason || d.topic != p.topic {
			t.Errorf("dead letter %.80q: reason %s from %s, want %s from %s", d.value, d.reason, d.topic, p.reason, p.topic)
		}
	}
	for _, p := range wantDL {
		t.Errorf("no dead letter for %s poison (%s): %.80q", p.topic, p.reason, p.value)
	}

	// The model is finite after the extreme values: score an ordinary and an extreme event.
	for _, body := range []string{`{"id": "probe-1", "fields": {"amount": 42, "country": "DE", "new": false}}`,
		`{"id": "probe-2", "fields": {"amount": 1e200, "country": "BR", "new": true}}`} {
		resp, err := http.Post("http://"+srv.http+"/v1/score", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var out struct {
			Score *float64 `json:"score"`
		}
		if err := json.Unmarshal(b, &out); resp.StatusCode != 200 || err != nil || out.Score == nil || math.IsNaN(*out.Score) || math.IsInf(*out.Score, 0) {
			t.Errorf("score %s: status %d: %s", body, resp.StatusCode, b)
		}
	}
}

// TestFaultClockSkew sends events whose clocks are off: a year late, a few hours ahead (within
// ingest.max_future_skew), in other time zones and as unix milliseconds, outcomes stamped before
// their events, and events more than max_future_skew ahead. The accepted ones are scored, joined
// and learned exactly once; the ones too far ahead are dead letters with reason bad_time.
func TestFaultClockSkew(t *testing.T) {
	const n = 10000
	s := newStack(t, stackOpts{})
	s.start("serve", "serve")
	st := newStream(t, n)
	now := time.Now()
	for i := range st.events {
		var ev, oc map[string]any
		_ = json.Unmarshal(st.events[i].Value, &ev)
		_ = json.Unmarshal(st.outcomes[i].Value, &oc)
		var tm time.Time
		switch i % 5 {
		case 0: // a year behind
			tm = now.Add(-365*24*time.Hour + time.Duration(i)*time.Millisecond)
			ev["time"] = tm.Format(time.RFC3339Nano)
		case 1: // 20 hours ahead, in a +05:30 zone
			tm = now.Add(20*time.Hour + time.Duration(i)*time.Millisecond)
			ev["time"] = tm.In(time.FixedZone("IST", 5*3600+1800)).Format(time.RFC3339Nano)
		case 2: // unix milliseconds, 3 days behind
			tm = now.Add(-72*time.Hour + time.Duration(i)*time.Millisecond)
			ev["time"] = tm.UnixMilli()
		case 3: // no time at all: the wall clock
			delete(ev, "time")
		default: // ordinary, with its outcome stamped an hour before the event
			tm = now.Add(-time.Hour + time.Duration(i)*time.Millisecond)
			ev["time"] = tm.Format(time.RFC3339Nano)
			oc["time"] = tm.Add(-time.Hour).Format(time.RFC3339Nano)
		}
		st.events[i].Value, _ = json.Marshal(ev)
		st.outcomes[i].Value, _ = json.Marshal(oc)
	}
	obs := s.observer(st)
	pub := newProducer(t, s.brokers)
	var ahead []segkafka.Message
	for i := range 20 {
		ahead = append(ahead, segkafka.Message{Key: []byte("skew"), Value: fmt.Appendf(nil,
			`{"id": "ahead-%d", "time": %q, "fields": {"amount": 1}}`, i, now.Add(25*time.Hour+time.Duration(i)*time.Hour).Format(time.RFC3339))})
	}
	pub.feed(st, 0, n/2)
	pub.send("events", ahead)
	faultEnd := time.Now()
	pub.feed(st, n/2, n)

	c, reached := obs.waitComplete(allOf(st), 120*time.Second)
	dls := readDeadLetters(t, s.brokers, "events.dlq", len(ahead), 30*time.Second)
	check(t, s, c, allOf(st), dls, len(ahead), n, faultEnd, reached)
	for _, d := range dls {
		if d.reason != "bad_time" {
			t.Errorf("dead letter %.80q: reason %s, want bad_time", d.value, d.reason)
		}
	}
}

// TestFaultRedisRestart stops Redis mid-stream for 30 s and starts it again on its data: the
// pipeline holds its offsets while Redis is down and loses and duplicates nothing.
func TestFaultRedisRestart(t *testing.T) {
	long(t)
	const n = 20000
	rs := startRedis(t)
	s := newStack(t, stackOpts{redis: rs.Addr})
	s.start("serve", "serve")
	st := newStream(t, n)
	obs := s.observer(st)
	pub := newProducer(t, s.brokers)

	pub.feed(st, 0, n/2)
	obs.progress(n/4, 60*time.Second)
	rs.Stop()
	pub.feed(st, n/2, n)
	time.Sleep(30 * time.Second) // the fault: Redis down for 30 s
	rs.Start(t)
	faultEnd := time.Now()

	c, reached := obs.waitComplete(allOf(st), 180*time.Second)
	dls := readDeadLetters(t, s.brokers, "events.dlq", 0, 3*time.Second)
	check(t, s, c, allOf(st), dls, 0, n, faultEnd, reached)
}

// TestFaultClickHouseDown stops ClickHouse mid-stream for 60 s: rows wait (offsets held) and are
// all written once it is back.
func TestFaultClickHouseDown(t *testing.T) {
	long(t)
	const n = 20000
	ch := testenv.StartClickHouse(t)
	s := newStack(t, stackOpts{ch: ch.Addr})
	s.start("serve", "serve")
	st := newStream(t, n)
	obs := s.observer(st)
	pub := newProducer(t, s.brokers)

	pub.feed(st, 0, n/2)
	obs.progress(n/4, 60*time.Second)
	ch.Stop()
	pub.feed(st, n/2, n)
	time.Sleep(60 * time.Second) // the fault: ClickHouse down for 60 s
	if err := ch.Start(); err != nil {
		t.Fatal(err)
	}
	faultEnd := time.Now()

	c, reached := obs.waitComplete(allOf(st), 180*time.Second)
	dls := readDeadLetters(t, s.brokers, "events.dlq", 0, 3*time.Second)
	check(t, s, c, allOf(st), dls, 0, n, faultEnd, reached)
}

// TestFaultBrokerRestart runs the embedded broker in its own process (`streamlearn predictor
// --embedded-kafka` with kafka.embedded_data_dir) and restarts it mid-stream on its data dir while
// a serve process uses it.
func TestFaultBrokerRestart(t *testing.T) {
	long(t)
	const n = 20000
	brokerAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	dataDir := t.TempDir()
	s := newStack(t, stackOpts{brokers: brokerAddr})
	broker := s.startBroker(brokerAddr, dataDir)
	s.start("serve", "serve")
	st := newStream(t, n)
	obs := s.observer(st)
	pub := newProducer(t, s.brokers)

	pub.feed(st, 0, n/2)
	obs.progress(n/4, 60*time.Second)
	broker.term() // SIGTERM: kfake writes its log to the data dir
	broker.restart()
	faultEnd := time.Now()
	pub.feed(st, n/2, n)

	c, reached := obs.waitComplete(allOf(st), 180*time.Second)
	dls := readDeadLetters(t, s.brokers, "events.dlq", 0, 3*time.Second)
	check(t, s, c, allOf(st), dls, 0, n, faultEnd, reached)
}

// TestFaultRedisMaxmemory fills Redis to maxmemory (noeviction) mid-stream: writes fail with OOM
// for 15 s, then the limit is lifted. Nothing may be dead-lettered or lost for a full Redis.
func TestFaultRedisMaxmemory(t *testing.T) {
	long(t)
	const n = 20000
	rs := startRedis(t, "--maxmemory-policy", "noeviction")
	s := newStack(t, stackOpts{redis: rs.Addr})
	s.start("serve", "serve")
	st := newStream(t, n)
	obs := s.observer(st)
	pub := newProducer(t, s.brokers)
	rdb := goredis.NewClient(&goredis.Options{Addr: rs.Addr})
	t.Cleanup(func() { rdb.Close() })
	ctx := context.Background()

	pub.feed(st, 0, n/2)
	obs.progress(n/4, 60*time.Second)
	info, err := rdb.InfoMap(ctx, "memory").Result()
	if err != nil {
		t.Fatal(err)
	}
	mem := info["Memory"]["used_memory"]
	if err := rdb.ConfigSet(ctx, "maxmemory", mem).Err(); err != nil { // full now
		t.Fatal(err)
	}
	pub.feed(st, n/2, n)
	time.Sleep(15 * time.Second) // the fault: Redis full for 15 s
	if c, ok := obs.measure(); ok && c.predIDs >= n {
		t.Fatalf("all %d events were scored with Redis full: the fault did not bite", n)
	} else {
		t.Logf("with Redis full: %d of %d events scored, %d examples learned", c.predIDs, n, c.learned)
	}
	if err := rdb.ConfigSet(ctx, "maxmemory", "0").Err(); err != nil {
		t.Fatal(err)
	}
	faultEnd := time.Now()

	c, reached := obs.waitComplete(allOf(st), 180*time.Second)
	dls := readDeadLetters(t, s.brokers, "events.dlq", 0, 3*time.Second)
	check(t, s, c, allOf(st), dls, 0, n, faultEnd, reached)
}
