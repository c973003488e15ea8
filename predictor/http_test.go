package predictor_test

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/streamlearn/streamlearn/ingest"
	"github.com/streamlearn/streamlearn/predictor"
	"github.com/streamlearn/streamlearn/wire"
)

func TestScoreErrors(t *testing.T) {
	e := newEnv(t)
	srv := serve(t, e.api(t, router(t, predictor.Config{})))
	many := make([]string, 51)
	for i := range many {
		many[i] = fmt.Sprintf(`{"id": "m-%d"}`, i)
	}
	tests := []struct {
		name, query, body string
		code              int
		reason, field     string
		index             int // -1: none
	}{
		{"empty", "", "", 400, "bad_json", "", -1},
		{"not json", "", "{nope", 400, "bad_json", "", -1},
		{"not an object", "", "[1, 2]", 400, "not_object", "", -1},
		{"no id", "", `{"fields": {"a": 1}}`, 400, "missing_id", "id", -1},
		{"bad entity", "", `{"id": "x", "entity": [1]}`, 400, "bad_entity", "entity", -1},
		{"bad time", "", `{"id": "x", "time": "yesterday"}`, 400, "bad_time", "time", -1},
		{"bad fields", "", `{"id": "x", "fields": [1]}`, 400, "bad_fields", "fields", -1},
		{"bad field", "", `{"id": "x", "fields": {"amount": {"v": 1}}}`, 400, "bad_field_type", "fields.amount", -1},
		{"events not a list", "", `{"events": {"id": "a"}}`, 400, "bad_json", "events", -1},
		{"events empty", "", `{"events": []}`, 400, "bad_json", "events", -1},
		{"too many events", "", `{"events": [` + strings.Join(many, ",") + `]}`, 413, "too_many_events", "events", -1},
		{"body too large", "", `{"id": "x", "fields": {"s": "` + strings.Repeat("x", 70<<10) + `"}}`, 413, "too_large", "", -1},
		{"bad top", "?explain=1&top=0", `{"id": "x"}`, 400, "bad_request", "top", -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got predictor.Error
			code := post(t, nil, srv.URL+"/v1/score"+tt.query, tt.body, &got)
			if code != tt.code || got.Code != tt.code || got.Reason != tt.reason || got.Field != tt.field || got.Error == "" {
				t.Errorf("POST = %d %+v, want %d reason %q field %q", code, got, tt.code, tt.reason, tt.field)
			}
			if (got.Index == nil) != (tt.index < 0) || (got.Index != nil && *got.Index != tt.index) {
				t.Errorf("index = %v, want %d", got.Index, tt.index)
			}
		})
	}
}

func TestScoreNotReady(t *testing.T) {
	e := newEnv(t)
	api := e.api(t, router(t, predictor.Config{}))
	api.Router = router(t, predictor.Config{Routes: []predictor.Route{{Model: "default", Share: 0.5}, {Model: "unloaded", Share: 0.5}}})
	srv := serve(t, api)
	var got predictor.Error
	if code := post(t, nil, srv.URL+"/v1/score", `{"id": "x"}`, &got); code != 503 || got.Reason != predictor.ReasonNotReady {
		t.Errorf("POST /v1/score = %d %+v, want 503 not_ready", code, got)
	}
}

func TestScoreFeatureStoreDown(t *testing.T) {
	e := newEnv(t)
	api := e.api(t, router(t, predictor.Config{}))
	dead := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	defer dead.Close()
	api.Features = newStore(t, dead, "x:")
	srv := serve(t, api)
	var got predictor.Error
	if code := post(t, nil, srv.URL+"/v1/score", `{"id": "x", "entity": "u-1"}`, &got); code != 503 || got.Reason != predictor.ReasonUnavailable {
		t.Errorf("POST /v1/score = %d %+v, want 503 unavailable", code, got)
	}
	// An event without an entity needs no features.
	if code := post(t, nil, srv.URL+"/v1/score", `{"id": "x"}`, nil); code != 200 {
		t.Errorf("POST /v1/score without entity = %d, want 200", code)
	}
}

// TestScoreExplainChangesNothing scores with features read from Redis: the score is the serving
// version's on the entity's current state, ?explain=1 adds the features and the top contributions,
// and no key in Redis changes.
func TestScoreExplainChangesNothing(t *testing.T) {
	e := newEnv(t)
	e.promote(t, "default", e.publish(t, "default", trained(t, "default", 0), 0))
	e.seedEntities(t, 3)
	srv := serve(t, e.api(t, router(t, predictor.Config{})))
	ctx := context.Background()
	before := dump(t, e)

	ev := `{"id": "q-1", "entity": "u-1", "fields": {"amount": 7.5, "country": "US", "mobile": true}}`
	var plain, explained predictor.Score
	if code := post(t, nil, srv.URL+"/v1/score", ev, &plain); code != 200 {
		t.Fatalf("POST /v1/score = %d", code)
	}
	if code := post(t, nil, srv.URL+"/v1/score?explain=1", ev, &explained); code != 200 {
		t.Fatalf("POST /v1/score?explain=1 = %d", code)
	}
	dec, err := ingest.DecodeEvent([]byte(ev), time.Now(), ingest.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	vs, err := e.store.Lookup(ctx, []wire.Event{dec})
	if err != nil {
		t.Fatal(err)
	}
	v := vs[0]
	want := e.models.Get("default").Snapshot.Predict(v).Score
	if plain.Score != want || explained.Score != want || plain.Version != 1 || plain.Route != wire.RouteChampion {
		t.Errorf("scores %v and %v (version %d, route %s), want %v by version 1", plain.Score, explained.Score, plain.Version, plain.Route, want)
	}
	if plain.Features != nil || plain.Contributions != nil {
		t.Errorf("a plain score explains: %+v", plain)
	}
	for _, f := range []string{"amount", "country=US", "mobile", "count_1h", "count_24h"} {
		if _, ok := explained.Features[f]; !ok {
			t.Errorf("explained features lack %q: %v", f, explained.Features)
		}
	}
	if explained.Features["count_24h"] != 1 {
		t.Errorf("count_24h = %v, want 1: the entity's one earlier event", explained.Features["count_24h"])
	}
	cs := explained.Contributions
	if len(cs) == 0 || len(cs) > 10 {
		t.Fatalf("contributions = %d, want 1..10", len(cs))
	}
	for i := 1; i < len(cs); i++ {
		if math.Abs(cs[i].Contribution) > math.Abs(cs[i-1].Contribution) {
			t.Errorf("contributions not largest first: %+v", cs)
		}
	}
	var top2 predictor.Score
	if code := post(t, nil, srv.URL+"/v1/score?explain=1&top=2", ev, &top2); code != 200 || len(top2.Contributions) != 2 {
		t.Errorf("top=2: %d contributions", len(top2.Contributions))
	}
	if after := dump(t, e); after != before {
		t.Errorf("scoring changed Redis:\nbefore %s\nafter  %s", before, after)
	}
}

// dump renders every key of the test's prefix with its content.
func dump(t *testing.T, e *env) string {
	t.Helper()
	ctx := context.Background()
	keys, err := e.rdb.Keys(ctx, e.prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys) // KEYS answers in hash-table order, which a rehash changes
	var b strings.Builder
	for _, k := range keys {
		typ, _ := e.rdb.Type(ctx, k).Result()
		var val any
		switch typ {
		case "hash":
			val, _ = e.rdb.HGetAll(ctx, k).Result()
		case "string":
			val, _ = e.rdb.Get(ctx, k).Result()
		default:
			val = typ
		}
		fmt.Fprintf(&b, "%s=%v;", k, val)
	}
	return b.String()
}

func TestPromoteRollbackHistory(t *testing.T) {
	e := newEnv(t)
	for i := range 3 {
		e.publish(t, "default", trained(t, "default", i), int64(i))
	}
	e.promote(t, "default", 1)
	api := e.api(t, router(t, predictor.Config{}))
	var announced []wire.Announcement
	api.Announce = func(_ context.Context, a wire.Announcement) error {
		announced = append(announced, a)
		return nil
	}
	srv := serve(t, api)
	url := srv.URL + "/v1/models/default/"

	var res predictor.ChampionResult
	if code := post(t, nil, url+"promote", `{"version": 3, "reason": "better AUC"}`, &res); code != 200 {
		t.Fatalf("promote = %d", code)
	}
	if want := (predictor.ChampionResult{Model: "default", Version: 3, Previous: 1, Pinned: true, Serving: 3, Announced: true}); res != want {
		t.Errorf("promote = %+v, want %+v", res, want)
	}
	if code := post(t, nil, url+"promote", `{"version": 2, "pin": false}`, &res); code != 200 || res.Serving != 2 || res.Pinned {
		t.Errorf("promote 2 = %d %+v", code, res)
	}
	if code := post(t, nil, url+"rollback", `{"reason": "2 misbehaves"}`, &res); code != 200 {
		t.Fatalf("rollback = %d", code)
	}
	if want := (predictor.ChampionResult{Model: "default", Version: 3, Previous: 2, Pinned: true, Serving: 3, Announced: true}); res != want {
		t.Errorf("rollback = %+v, want %+v", res, want)
	}
	var s predictor.Score
	if post(t, nil, srv.URL+"/v1/score", `{"id": "x"}`, &s); s.Version != 3 {
		t.Errorf("score by version %d after the rollback, want 3", s.Version)
	}
	var h struct {
		Champion int64 `json:"champion"`
		Pinned   bool  `json:"pinned"`
		History  []struct {
			Version  int64  `json:"version"`
			Previous int64  `json:"previous"`
			Reason   string `json:"reason"`
		} `json:"history"`
	}
	if code := get(t, url+"history", &h); code != 200 || h.Champion != 3 || !h.Pinned || len(h.History) != 4 {
		t.Fatalf("history = %d %+v, want champion 3, pinned, 4 changes", code, h)
	}
	if h.History[0].Version != 3 || h.History[0].Reason != "2 misbehaves" || h.History[2].Reason != "better AUC" || h.History[1].Reason != "manual promotion over HTTP" {
		t.Errorf("history = %+v", h.History)
	}
	if len(announced) != 3 || announced[0].Event != wire.EventPromoted || announced[2].Event != wire.EventRollback || announced[2].Version != 3 {
		t.Errorf("announcements = %+v", announced)
	}

	var models struct {
		Models []predictor.ModelInfo `json:"models"`
		Routes []predictor.Route     `json:"routes"`
	}
	if code := get(t, srv.URL+"/v1/models", &models); code != 200 || len(models.Models) != 1 || models.Models[0].Serving != 3 ||
		models.Models[0].Champion != 3 || models.Models[0].Route != wire.RouteChampion || len(models.Models[0].Versions) != 3 {
		t.Errorf("GET /v1/models = %d %+v", code, models)
	}
}

func TestPromoteErrors(t *testing.T) {
	e := newEnv(t)
	e.publish(t, "default", trained(t, "default", 0), 0)
	e.publish(t, "default", trained(t, "default", 1), 1)
	srv := serve(t, e.api(t, router(t, predictor.Config{})))
	// Version 1 lost its weights (the registry trims old snapshots).
	if err := e.rdb.HDel(context.Background(), e.prefix+"model:{default}:v:1", "snapshot").Err(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path, body string
		code             int
		reason, field    string
	}{
		{"no version", "default/promote", `{}`, 400, "bad_request", "version"},
		{"version 0", "default/promote", `{"version": 0}`, 400, "bad_request", "version"},
		{"version text", "default/promote", `{"version": "2"}`, 400, "bad_request", "version"},
		{"unknown key", "default/promote", `{"version": 2, "force": true}`, 400, "bad_request", ""},
		{"not json", "default/promote", `version=2`, 400, "bad_request", ""},
		{"no such version", "default/promote", `{"version": 9}`, 404, "not_found", "version"},
		{"no such model", "nope/promote", `{"version": 1}`, 404, "not_found", "version"},
		{"weights gone", "default/promote", `{"version": 1}`, 409, "conflict", "version"},
		{"nothing to roll back to", "default/rollback", ``, 409, "conflict", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got predictor.Error
			code := post(t, nil, srv.URL+"/v1/models/"+tt.path, tt.body, &got)
			if code != tt.code || got.Code != tt.code || got.Reason != tt.reason || got.Field != tt.field {
				t.Errorf("POST %s = %d %+v, want %d reason %q field %q", tt.path, code, got, tt.code, tt.reason, tt.field)
			}
		})
	}
	// Nothing changed: version 0 still serves and nothing is recorded.
	if s := e.models.Get("default"); s.Version != 0 {
		t.Errorf("serving version %d after failed promotions, want 0", s.Version)
	}
	if h, _ := e.reg.History(context.Background(), "default"); len(h) != 0 {
		t.Errorf("history after failed promotions: %+v", h)
	}
}

// TestRollbackToVersionWithoutWeightsIsUndone: a rollback whose target cannot be served puts the
// previous champion back and says so.
func TestRollbackToVersionWithoutWeightsIsUndone(t *testing.T) {
	e := newEnv(t)
	e.publish(t, "default", trained(t, "default", 0), 0)
	e.publish(t, "default", trained(t, "default", 1), 1)
	e.promote(t, "default", 1)
	e.promote(t, "default", 2)
	srv := serve(t, e.api(t, router(t, predictor.Config{})))
	if err := e.rdb.HDel(context.Background(), e.prefix+"model:{default}:v:1", "snapshot").Err(); err != nil {
		t.Fatal(err)
	}
	var got predictor.Error
	if code := post(t, nil, srv.URL+"/v1/models/default/rollback", ``, &got); code != 409 {
		t.Errorf("rollback = %d %+v, want 409", code, got)
	}
	champ, err := e.reg.Champion(context.Background(), "default")
	if err != nil || champ != 2 {
		t.Errorf("champion = %d (%v), want 2 again", champ, err)
	}
	if s := e.models.Get("default"); s.Version != 2 {
		t.Errorf("serving %d, want 2", s.Version)
	}
}

func TestRateLimit(t *testing.T) {
	e := newEnv(t)
	for _, by := range []string{predictor.ClientByToken, predictor.ClientByIP} {
		t.Run(by, func(t *testing.T) {
			api := e.api(t, router(t, predictor.Config{}))
			api.RateLimit = predictor.RateLimit{PerSecond: 0.5, Burst: 2, By: by}
			srv := serveAuthenticated(t, api, "a", "b")
			send := func(token string) (int, *http.Response) {
				req, _ := http.NewRequest("POST", srv.URL+"/v1/score", strings.NewReader(`{"id": "x"}`))
				req.Header.Set("Authorization", "Bearer "+token)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				var got predictor.Error
				code := decode(t, resp, &got)
				if code == 429 && (got.Reason != predictor.ReasonRateLimited || got.Code != 429) {
					t.Errorf("429 body = %+v", got)
				}
				return code, resp
			}
			for i := range 2 {
				if code, _ := send("a"); code != 200 {
					t.Fatalf("request %d within the burst = %d", i, code)
				}
			}
			code, resp := send("a")
			if code != 429 || resp.Header.Get("Retry-After") != "2" {
				t.Errorf("request over the burst = %d, Retry-After %q; want 429, 2", code, resp.Header.Get("Retry-After"))
			}
			wantOther := 200 // another token is another client
			if by == predictor.ClientByIP {
				wantOther = 429 // the same address is the same client
			}
			if code, _ := send("b"); code != wantOther {
				t.Errorf("another token = %d, want %d", code, wantOther)
			}
		})
	}
}
