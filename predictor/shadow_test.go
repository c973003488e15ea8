package predictor_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamlearn/streamlearn/features"
	"github.com/streamlearn/streamlearn/internal/testenv"
	"github.com/streamlearn/streamlearn/join/joinstore"
	"github.com/streamlearn/streamlearn/predictor"
	"github.com/streamlearn/streamlearn/sinks/kafkasink"
	"github.com/streamlearn/streamlearn/wire"
)

var abConfig = predictor.Config{
	Routes: []predictor.Route{{Model: "default", Share: 0.9}, {Model: "fast", Share: 0.1}},
	Shadow: []string{"slow"},
}

// publishABModels publishes and promotes one trained version of default, fast and slow, each
// learned from its own data so that their scores differ.
func (e *env) publishABModels(t *testing.T) {
	t.Helper()
	for i, m := range []string{"default", "fast", "slow"} {
		e.promote(t, m, e.publish(t, m, trained(t, m, i*13), 0))
	}
}

func entityEvents(n int, at time.Time) []wire.Event {
	evs := make([]wire.Event, n)
	for i := range evs {
		evs[i] = wire.Event{
			ID: fmt.Sprintf("e-%d", i), Entity: fmt.Sprintf("u-%d", i), Time: at,
			Fields: map[string]any{"amount": float64(i%97) / 10, "country": []string{"DE", "US", "FR"}[i%3]},
		}
	}
	return evs
}

// countingStore counts the feature-store round trips.
type countingStore struct {
	features.OnlineStore
	applies int
}

func (s *countingStore) Apply(ctx context.Context, evs []wire.Event) ([]wire.Vector, error) {
	s.applies++
	return s.OnlineStore.Apply(ctx, evs)
}

// captureOutput keeps what it is given and counts the calls.
type captureOutput struct {
	next     predictor.Output // nil: keep only
	calls    int
	preds    []wire.Prediction
	examples []wire.Example
}

func (o *captureOutput) Predictions(ctx context.Context, ps []wire.Prediction) error {
	o.calls++
	o.preds = append(o.preds, ps...)
	if o.next != nil {
		return o.next.Predictions(ctx, ps)
	}
	return nil
}

func (o *captureOutput) Examples(ctx context.Context, exs []wire.Example) error {
	o.examples = append(o.examples, exs...)
	if o.next != nil {
		return o.next.Examples(ctx, exs)
	}
	return nil
}

// TestStreamRoutesAndShadow scores 10,000 entities on the stream with a 90/10 champion/challenger
// split and a shadow: the split is within 2 points of the configuration, every event has exactly
// one routed and one shadow prediction on the topic, each batch costs one feature-store round trip
// and one produce call, and the routed predictions are the same as without the shadow.
func TestStreamRoutesAndShadow(t *testing.T) {
	const n, batch = 10000, 500
	e := newEnv(t)
	e.publishABModels(t)
	broker := testenv.Kafka(t, 2, "predictions", "examples")
	producer, err := kgo.NewClient(kgo.SeedBrokers(broker), kgo.ProducerLinger(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	at := time.Now().Add(-time.Minute).UTC().Truncate(time.Millisecond)
	fixed := func() time.Time { return at.Add(time.Second) }
	evs := entityEvents(n, at)

	// run scores evs with cfg on a fresh feature state and returns what was produced.
	run := func(cfg predictor.Config, next predictor.Output, prefix string) (*captureOutput, *countingStore) {
		r := router(t, cfg)
		for _, m := range r.Models() {
			if err := e.loader.Serve(context.Background(), m, nil); err != nil {
				t.Fatal(err)
			}
		}
		store := &countingStore{OnlineStore: newStore(t, e.rdb, e.prefix+prefix)}
		out := &captureOutput{next: next}
		s := &predictor.Stream{Features: store, Models: e.models, Router: r, Join: joinstore.NewStore(e.rdb, e.prefix+prefix, time.Hour), Out: out, Now: fixed}
		for i := 0; i < n; i += batch {
			if err := s.Handle(context.Background(), evs[i:i+batch]); err != nil {
				t.Fatal(err)
			}
		}
		return out, store
	}
	withShadow, store := run(abConfig, &kafkasink.Output{Client: producer, PredictionsTopic: "predictions", ExamplesTopic: "examples"}, "a:")
	if got, want := store.applies, n/batch; got != want {
		t.Errorf("feature-store round trips = %d, want one per batch (%d)", got, want)
	}
	if got, want := withShadow.calls, n/batch; got != want {
		t.Errorf("produce calls = %d, want one per batch (%d)", got, want)
	}

	recs := readTopic(t, broker, "predictions", 2*n)
	routed, shadow := map[string]wire.Prediction{}, map[string]wire.Prediction{}
	for _, r := range recs {
		var p wire.Prediction
		if err := json.Unmarshal(r.Value, &p); err != nil {
			t.Fatal(err)
		}
		if string(r.Key) != p.ID {
			t.Errorf("record key %q, want the event id %q", r.Key, p.ID)
		}
		dst := routed
		if p.Route == wire.RouteShadow {
			dst = shadow
			if p.Model != "slow" {
				t.Errorf("shadow prediction by %q, want slow", p.Model)
			}
		}
		if _, dup := dst[p.ID]; dup {
			t.Errorf("event %s has two %s predictions", p.ID, p.Route)
		}
		dst[p.ID] = p
	}
	if len(routed) != n || len(shadow) != n || len(recs) != 2*n {
		t.Fatalf("records = %d: %d routed and %d shadow, want %d of each", len(recs), len(routed), len(shadow), n)
	}
	toFast := 0
	for _, p := range routed {
		switch {
		case p.Model == "default" && p.Route == wire.RouteChampion:
		case p.Model == "fast" && p.Route == wire.RouteChallenger:
			toFast++
		default:
			t.Fatalf("prediction %+v: model and route do not match the configuration", p)
		}
	}
	share := float64(toFast) / n
	t.Logf("challenger share over %d entities: %.4f (configured 0.1)", n, share)
	if math.Abs(share-0.1) > 0.02 {
		t.Errorf("challenger share = %.4f, want 0.10 ± 0.02", share)
	}

	// The same stream without the shadow gives the same routed predictions.
	without, _ := run(predictor.Config{Routes: abConfig.Routes}, nil, "b:")
	if len(without.preds) != n {
		t.Fatalf("without shadow: %d predictions, want %d", len(without.preds), n)
	}
	for _, p := range without.preds {
		if q := routed[p.ID]; q != p {
			t.Fatalf("event %s: %+v with the shadow, %+v without", p.ID, q, p)
		}
	}
}

func readTopic(t *testing.T, broker, topic string, want int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(broker), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(out) < want && ctx.Err() == nil {
		out = append(out, cl.PollFetches(ctx).Records()...)
	}
	// Anything beyond want would be a duplicate: give it a moment to show.
	extra, cancel2 := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel2()
	out = append(out, cl.PollFetches(extra).Records()...)
	return out
}

// shadowCapture is a ShadowLog that keeps what it is given.
type shadowCapture struct {
	mu sync.Mutex
	ps []wire.Prediction
}

func (c *shadowCapture) LogShadow(ps []wire.Prediction) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ps = append(c.ps, ps...)
}

// TestHTTPShadowNeverChangesResponses sends the same requests to an API with a shadow and to one
// without: the bodies are identical byte for byte, and the shadow's predictions are logged.
func TestHTTPShadowNeverChangesResponses(t *testing.T) {
	e := newEnv(t)
	e.publishABModels(t)
	e.seedEntities(t, 50)
	at := time.Now().UTC()
	now := func() time.Time { return at }
	with := e.api(t, router(t, abConfig))
	log := &shadowCapture{}
	with.Shadow, with.Now = log, now
	without := e.api(t, router(t, predictor.Config{Routes: abConfig.Routes}))
	without.Shadow, without.Now = &shadowCapture{}, now
	a, b := serve(t, with), serve(t, without)

	body := func(url, req string) string {
		resp, err := http.Post(url, "application/json", strings.NewReader(req))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		got, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("POST %s = %d %s", url, resp.StatusCode, got)
		}
		return string(got)
	}
	requests := 0
	for i := range 50 {
		ev := fmt.Sprintf(`{"id": "h-%d", "entity": "u-%d", "time": %q, "fields": {"amount": %d, "country": "US"}}`, i, i, at.Format(time.RFC3339Nano), i%10)
		reqs := []string{ev, `{"events": [` + ev + `, {"id": "anon-` + fmt.Sprint(i) + `"}]}`}
		for _, path := range []string{"/v1/score", "/v1/score?explain=1"} {
			for _, req := range reqs {
				if x, y := body(a.URL+path, req), body(b.URL+path, req); x != y {
					t.Fatalf("%s %s:\nwith shadow    %s\nwithout shadow %s", path, req, x, y)
				}
				requests++
			}
		}
		if strings.Contains(body(a.URL+"/v1/score", ev), "slow") {
			t.Fatal("a response names the shadow model")
		}
		requests++
	}
	log.mu.Lock()
	defer log.mu.Unlock()
	// Each single request logs one shadow prediction, each batch two.
	if got, want := len(log.ps), 50*(2+2*2+1); got != want {
		t.Errorf("shadow predictions logged = %d, want %d", got, want)
	}
	for _, p := range log.ps {
		if p.Model != "slow" || p.Route != wire.RouteShadow || p.Version != 1 {
			t.Fatalf("shadow prediction %+v", p)
		}
	}
	t.Logf("%d requests compared", requests)
}

// TestShadowNotLoadedDoesNotFailRequests: a shadow model that cannot be loaded is left out.
func TestShadowNotLoadedDoesNotFailRequests(t *testing.T) {
	e := newEnv(t)
	api := e.api(t, router(t, predictor.Config{}))
	api.Router = router(t, predictor.Config{Shadow: []string{"ghost"}})
	api.Shadow = &shadowCapture{}
	srv := serve(t, api)
	var s predictor.Score
	if code := post(t, nil, srv.URL+"/v1/score", `{"id": "x"}`, &s); code != 200 || s.Model != "default" {
		t.Errorf("POST /v1/score = %d %+v, want a score by default", code, s)
	}
}
