package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	segkafka "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamlearn/streamlearn/features/featurestore"
	"github.com/streamlearn/streamlearn/internal/app"
	"github.com/streamlearn/streamlearn/wire"
)

// counterValue reads a counter of r's Prometheus registry.
func counterValue(t *testing.T, r *running, name string) float64 {
	t.Helper()
	mfs, err := r.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no counter %s", name)
	return 0
}

// explainFeatures posts ev to /v1/score?explain=1 and returns the features it was scored with.
func explainFeatures(t *testing.T, base string, ev wire.Event) map[string]float64 {
	t.Helper()
	body, err := wire.Marshal(&ev)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(base+"/v1/score?explain=1", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Features map[string]float64 `json:"features"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
		t.Fatalf("score: %d %v", resp.StatusCode, err)
	}
	return out.Features
}

// TestLiveScoreFollowsTheStream: a predictor process caches the entity features its live scores
// read, while a separate score process writes them from the stream. After every burst of events,
// the live score's features equal what Redis holds (an uncached lookup), and the predictor did answer
// from its cache in between.
func TestLiveScoreFollowsTheStream(t *testing.T) {
	cfg := testConfig(t)
	cfg.ClickHouse.Addr = []string{"127.0.0.1:1"} // neither role needs it
	startRoles(t, cfg, app.RoleScore)
	pred := startRoles(t, cfg, app.RoleHTTP)
	base := "http://" + pred.HTTPAddr

	rdb := goredis.NewClient(&goredis.Options{Addr: cfg.Redis.Addr})
	t.Cleanup(func() { rdb.Close() })
	plain, err := featurestore.NewOnline(rdb, cfg.Features, featurestore.Options{Prefix: cfg.Redis.KeyPrefix, TTL: cfg.Redis.EntityTTL})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now().Add(-time.Hour).Truncate(time.Second)
	probe := wire.Event{ID: "probe", Entity: "u1", Time: t0.Add(50 * time.Minute), Fields: map[string]any{"amount": 3.0, "country": "DE"}}
	reference := func() map[string]float64 {
		vs, err := plain.Lookup(context.Background(), []wire.Event{probe})
		if err != nil {
			t.Fatal(err)
		}
		return vs[0].Map()
	}
	// The first lookups start the cache's tracking connection; wait until one is answered from it.
	deadline := time.Now().Add(20 * time.Second)
	for counterValue(t, pred, "streamlearn_features_cache_hits_total") == 0 {
		explainFeatures(t, base, probe)
		if time.Now().After(deadline) {
			t.Fatal("the predictor never answered from its cache")
		}
		time.Sleep(20 * time.Millisecond)
	}
	sent := 0
	for burst := range 4 {
		var msgs []segkafka.Message
		for i := range 10 {
			ev := wire.Event{ID: fmt.Sprintf("b%d-%d", burst, i), Entity: "u1", Time: t0.Add(time.Duration(sent) * time.Second), Fields: map[string]any{"amount": float64(10*burst + i), "country": "DE"}}
			body, err := wire.Marshal(&ev)
			if err != nil {
				t.Fatal(err)
			}
			msgs = append(msgs, segkafka.Message{Key: []byte(ev.Entity), Value: body})
			sent++
		}
		before := reference()
		publish(t, cfg.Kafka.Brokers, cfg.Kafka.Topics.Events, msgs...)
		readAll(t, cfg.Kafka.Brokers, cfg.Kafka.Topics.Predictions, 30*time.Second, func(rs []*kgo.Record) bool { return len(rs) >= sent })
		want := reference()
		if reflect.DeepEqual(before, want) {
			t.Fatalf("burst %d changed nothing in Redis: the test does not test", burst)
		}
		deadline := time.Now().Add(5 * time.Second)
		for got := explainFeatures(t, base, probe); !reflect.DeepEqual(got, want); got = explainFeatures(t, base, probe) {
			if time.Now().After(deadline) {
				t.Fatalf("burst %d: the live score still uses\n%v\nRedis holds\n%v", burst, got, want)
			}
			time.Sleep(time.Millisecond)
		}
		hits := counterValue(t, pred, "streamlearn_features_cache_hits_total")
		for range 20 {
			if got := explainFeatures(t, base, probe); !reflect.DeepEqual(got, want) {
				t.Fatalf("burst %d: a later live score used\n%v\nwant\n%v", burst, got, want)
			}
		}
		if counterValue(t, pred, "streamlearn_features_cache_hits_total") < hits+20 {
			t.Errorf("burst %d: repeated scores of an unchanged entity were not answered from the cache", burst)
		}
	}
	if n := counterValue(t, pred, "streamlearn_features_cache_invalidations_total"); n < 4 {
		t.Errorf("%v invalidations for 4 bursts of writes", n)
	}
}
