package predictor_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/streamlearn/streamlearn/features"
	"github.com/streamlearn/streamlearn/features/featurestore"
	"github.com/streamlearn/streamlearn/ingest"
	"github.com/streamlearn/streamlearn/internal/testenv"
	"github.com/streamlearn/streamlearn/learner"
	"github.com/streamlearn/streamlearn/learner/registry"
	"github.com/streamlearn/streamlearn/predictor"
	"github.com/streamlearn/streamlearn/wire"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// env is a predictor on the test Redis under the test's own key prefix.
type env struct {
	rdb    *goredis.Client
	prefix string
	reg    *registry.Registry
	store  *featurestore.Online
	models *predictor.Models
	loader *predictor.Loader
}

func newEnv(t testing.TB) *env {
	t.Helper()
	rdb := goredis.NewClient(&goredis.Options{Addr: testenv.Redis(t)})
	t.Cleanup(func() { rdb.Close() })
	prefix := fmt.Sprintf("t:%s:%d:", t.Name(), time.Now().UnixNano())
	reg := registry.NewRegistry(rdb, prefix)
	models := predictor.NewModels()
	return &env{
		rdb: rdb, prefix: prefix, reg: reg, store: newStore(t, rdb, prefix), models: models,
		loader: &predictor.Loader{Registry: reg, Models: models, Bootstrap: spec("default")},
	}
}

// newStore is a feature store with the default features under prefix.
func newStore(t testing.TB, rdb goredis.UniversalClient, prefix string) *featurestore.Online {
	t.Helper()
	st, err := featurestore.NewOnline(rdb, features.DefaultConfig(), featurestore.Options{Prefix: prefix, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func spec(name string) learner.Spec {
	s := learner.DefaultSpec()
	s.Name = name
	s.HashBits = 12
	return s
}

// publishBiased publishes n versions of model, version k having learned k examples of label 1 on
// no features, so that each has its own bias and the score of an event without known features
// tells the versions apart. It returns the snapshots by version number (index 0 unused).
func (e *env) publishBiased(t testing.TB, model string, n int) []*learner.Snapshot {
	t.Helper()
	tr, err := learner.NewTrainer(spec(model))
	if err != nil {
		t.Fatal(err)
	}
	snaps := make([]*learner.Snapshot, n+1)
	for k := 1; k <= n; k++ {
		tr.Learn(wire.Vector{}, learner.Label{Value: 1})
		v := e.publish(t, model, tr, int64(k-1))
		if v != int64(k) {
			t.Fatalf("published version %d, want %d", v, k)
		}
		snaps[k] = tr.Snapshot()
	}
	return snaps
}

// publish stores tr's current weights as the next version of model, retained (tests go back to
// old versions).
func (e *env) publish(t testing.TB, model string, tr learner.Trainer, parent int64) int64 {
	t.Helper()
	b, err := tr.Snapshot().MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	v, err := e.reg.Publish(context.Background(), learner.Version{Model: model, Parent: parent, Spec: tr.Spec(), Examples: tr.Seen(), Kind: learner.SnapshotScheduled}, b, nil)
	if err != nil {
		t.Fatal(err)
	}
	return v.Version
}

// trained returns a trainer of model that learned a little from amount and country.
func trained(t testing.TB, model string, seed int) learner.Trainer {
	t.Helper()
	tr, err := learner.NewTrainer(spec(model))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 500 {
		amount := float64((i*7+seed)%100) / 10
		country := []string{"DE", "US", "FR"}[(i+seed)%3]
		label := 0.0
		if amount > 5 || country == "US" {
			label = 1
		}
		tr.Learn(wire.Vector{{Name: "amount", Value: amount}, {Name: "country=" + country, Value: 1}}, learner.Label{Value: label})
	}
	return tr
}

func (e *env) promote(t testing.TB, model string, version int64) {
	t.Helper()
	if _, err := e.reg.Promote(context.Background(), model, version, "test", true, true); err != nil {
		t.Fatal(err)
	}
}

// router returns the router of cfg, failing the test on error.
func router(t testing.TB, cfg predictor.Config) *predictor.Router {
	t.Helper()
	r, err := predictor.NewRouter(cfg, "default")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// serve has the loader serve every model r names (all trained by "the learner", so version 0
// bootstraps) and returns an API over them.
func (e *env) api(t testing.TB, r *predictor.Router) *predictor.API {
	t.Helper()
	for _, m := range r.Models() {
		s := spec(m)
		if err := e.loader.Serve(context.Background(), m, &s); err != nil {
			t.Fatal(err)
		}
	}
	return &predictor.API{
		Features: e.store, Models: e.models, Registry: e.reg, Router: r, Loader: e.loader,
		Limits: ingest.DefaultLimits(), MaxBodyBytes: 64 << 10, MaxEvents: 50,
	}
}

func serve(t testing.TB, api *predictor.API) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	api.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// post sends body and decodes the JSON answer into v (when not nil); it returns the status code.
func post(t *testing.T, c *http.Client, url, body string, v any) int {
	t.Helper()
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	return decode(t, resp, v)
}

func get(t *testing.T, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return decode(t, resp, v)
}

func decode(t *testing.T, resp *http.Response, v any) int {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json (body %s)", ct, b)
	}
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("not JSON: %v: %s", err, b)
		}
	}
	return resp.StatusCode
}

// seedEntities records events for entities so that they have features.
func (e *env) seedEntities(t testing.TB, n int) {
	t.Helper()
	evs := make([]wire.Event, n)
	at := time.Now().Add(-time.Hour)
	for i := range evs {
		evs[i] = wire.Event{ID: fmt.Sprintf("seed-%d", i), Entity: fmt.Sprintf("u-%d", i), Time: at, Fields: map[string]any{}}
	}
	if _, err := e.store.Apply(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
}
