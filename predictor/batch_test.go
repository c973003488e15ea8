package predictor_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamlearn/streamlearn/predictor"
	"github.com/streamlearn/streamlearn/wire"
)

// batchResults is the answer of a batch, each result kept as a score or an error.
type batchResults struct {
	Results []json.RawMessage `json:"results"`
	Errors  int               `json:"errors"`
}

// seedHistory gives entities u-0..u-(n-1) a few events each with fields, so that their window
// aggregates differ from one entity to the next.
func (e *env) seedHistory(t testing.TB, n int) {
	t.Helper()
	at := time.Now().Add(-time.Hour)
	var evs []wire.Event
	for i := range n {
		for k := range 1 + i%4 {
			evs = append(evs, wire.Event{
				ID: fmt.Sprintf("h-%d-%d", i, k), Entity: fmt.Sprintf("u-%d", i), Time: at.Add(time.Duration(k) * time.Minute),
				Fields: map[string]any{"amount": float64(i*3+k) / 4, "country": []string{"DE", "US", "FR"}[(i+k)%3]},
			})
		}
	}
	if _, err := e.store.Apply(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
}

// scoringEvents are events to score: seeded entities (some twice), an unknown entity and events
// without an entity, all at a fixed time so that every request scores them alike.
func scoringEvents(n int) []string {
	at := time.Now().Add(-time.Minute).UnixMilli()
	out := make([]string, n)
	for i := range out {
		entity := fmt.Sprintf(`"entity": "u-%d", `, i%17)
		switch i % 10 {
		case 7:
			entity = `"entity": "nobody", `
		case 9:
			entity = ""
		}
		out[i] = fmt.Sprintf(`{"id": "s-%d", %s"time": %d, "fields": {"amount": %g, "country": %q, "mobile": %t}}`,
			i, entity, at, float64(i%23)/2, []string{"DE", "US", "FR"}[i%3], i%2 == 0)
	}
	return out
}

// TestScoreBatchEqualsSingle scores the same events one request each, in one batch, and in many
// concurrent single requests (which the predictor merges into shared Redis round trips): every
// score, version and route is exactly the same, with and without ?explain=1, and with a challenger
// taking part of the traffic.
func TestScoreBatchEqualsSingle(t *testing.T) {
	e := newEnv(t)
	e.promote(t, "default", e.publish(t, "default", trained(t, "default", 0), 0))
	e.promote(t, "challenger", e.publish(t, "challenger", trained(t, "challenger", 5), 0))
	e.seedHistory(t, 17)
	r := router(t, predictor.Config{Routes: []predictor.Route{{Model: "default", Share: 0.6}, {Model: "challenger", Share: 0.4}}})
	api := e.api(t, r)
	api.MaxEvents = 100
	srv := serve(t, api)
	events := scoringEvents(100)

	for _, query := range []string{"", "?explain=1&top=3"} {
		url := srv.URL + "/v1/score" + query
		singles := make([]predictor.Score, len(events))
		for i, ev := range events {
			if code := post(t, nil, url, ev, &singles[i]); code != 200 {
				t.Fatalf("POST %s = %d", ev, code)
			}
		}
		var batch batchResults
		if code := post(t, nil, url, `{"events": [`+strings.Join(events, ",")+`]}`, &batch); code != 200 || batch.Errors != 0 || len(batch.Results) != len(events) {
			t.Fatalf("POST batch = %d, %d results and %d errors, want 200, %d and 0", code, len(batch.Results), batch.Errors, len(events))
		}
		concurrent := make([]predictor.Score, len(events))
		var wg sync.WaitGroup
		codes := make([]int, len(events))
		for i, ev := range events {
			wg.Go(func() { codes[i] = post(t, nil, url, ev, &concurrent[i]) })
		}
		wg.Wait()
		routes := map[string]int{}
		for i := range events {
			var got predictor.Score
			if err := json.Unmarshal(batch.Results[i], &got); err != nil {
				t.Fatal(err)
			}
			if !sameScore(got, singles[i]) {
				t.Errorf("%s batch result %d = %+v, single = %+v", query, i, got, singles[i])
			}
			if codes[i] != 200 || !sameScore(concurrent[i], singles[i]) {
				t.Errorf("%s concurrent result %d = %d %+v, single = %+v", query, i, codes[i], concurrent[i], singles[i])
			}
			routes[got.Route]++
		}
		if routes[wire.RouteChampion] == 0 || routes[wire.RouteChallenger] == 0 {
			t.Errorf("routes %v: want both champion and challenger", routes)
		}
		if query != "" && len(singles[0].Contributions) != 3 {
			t.Errorf("explained score has %d contributions, want 3", len(singles[0].Contributions))
		}
	}
	// The entity's window features were read: they differ from one entity to another.
	var a, b predictor.Score
	post(t, nil, srv.URL+"/v1/score?explain=1", events[0], &a)
	post(t, nil, srv.URL+"/v1/score?explain=1", strings.Replace(events[0], `"u-0"`, `"u-5"`, 1), &b)
	if len(a.Features) == 0 || maps.Equal(a.Features, b.Features) {
		t.Errorf("u-0 and u-5 have the same features %v: entity features not read", a.Features)
	}
}

func sameScore(a, b predictor.Score) bool {
	if a.ID != b.ID || a.Entity != b.Entity || a.Model != b.Model || a.Version != b.Version || a.Score != b.Score || a.Class != b.Class || a.Route != b.Route {
		return false
	}
	if len(a.Features) != len(b.Features) || len(a.Contributions) != len(b.Contributions) {
		return false
	}
	for k, v := range a.Features {
		if b.Features[k] != v {
			return false
		}
	}
	for i := range a.Contributions {
		if a.Contributions[i] != b.Contributions[i] {
			return false
		}
	}
	return true
}

// TestScoreBatchItemErrors checks that bad events in a batch get their own 400 error in place and
// the others are scored as they would be alone.
func TestScoreBatchItemErrors(t *testing.T) {
	e := newEnv(t)
	e.promote(t, "default", e.publish(t, "default", trained(t, "default", 0), 0))
	e.seedHistory(t, 17)
	srv := serve(t, e.api(t, router(t, predictor.Config{})))
	good := scoringEvents(3)
	items := []string{
		good[0],
		`{"id": 7}`,
		good[1],
		`{"fields": {"a": 1}}`,
		`{"id": "x", "fields": {"amount": {"v": 1}}}`,
		`{"id": "y", "time": "yesterday"}`,
		`"not an event"`,
		good[2],
	}
	wantErr := map[int]struct{ reason, field string }{
		1: {"bad_id", "events[1].id"},
		3: {"missing_id", "events[3].id"},
		4: {"bad_field_type", "events[4].fields.amount"},
		5: {"bad_time", "events[5].time"},
		6: {"not_object", "events[6]"},
	}
	var batch batchResults
	if code := post(t, nil, srv.URL+"/v1/score", `{"events": [`+strings.Join(items, ",")+`]}`, &batch); code != 200 || len(batch.Results) != len(items) || batch.Errors != len(wantErr) {
		t.Fatalf("POST = %d, %d results, %d errors; want 200, %d, %d", code, len(batch.Results), batch.Errors, len(items), len(wantErr))
	}
	next := 0
	for i, raw := range batch.Results {
		if w, bad := wantErr[i]; bad {
			var got predictor.Error
			if err := json.Unmarshal(raw, &got); err != nil {
				t.Fatal(err)
			}
			if got.Code != 400 || got.Reason != w.reason || got.Field != w.field || got.Index == nil || *got.Index != i || got.Error == "" {
				t.Errorf("results[%d] = %s, want 400 %s at %s", i, raw, w.reason, w.field)
			}
			continue
		}
		var got, single predictor.Score
		if err := json.Unmarshal(raw, &got); err != nil {
			t.Fatal(err)
		}
		post(t, nil, srv.URL+"/v1/score", good[next], &single)
		next++
		if !sameScore(got, single) || strings.Contains(string(raw), `"error"`) {
			t.Errorf("results[%d] = %s, want %+v", i, raw, single)
		}
	}
	// Every event bad: still one error per event.
	if code := post(t, nil, srv.URL+"/v1/score", `{"events": [{"id": 1}, {"id": 2}]}`, &batch); code != 200 || batch.Errors != 2 || len(batch.Results) != 2 {
		t.Errorf("POST of two bad events = %d %+v, want 200 with 2 errors", code, batch)
	}
}

// TestScoreBatchBounds checks the batch size bound (http.max_events, 50 in these tests) and the
// body bound on batches.
func TestScoreBatchBounds(t *testing.T) {
	e := newEnv(t)
	e.promote(t, "default", e.publish(t, "default", trained(t, "default", 0), 0))
	srv := serve(t, e.api(t, router(t, predictor.Config{})))
	events := scoringEvents(51)
	var batch batchResults
	if code := post(t, nil, srv.URL+"/v1/score", `{"events": [`+strings.Join(events[:50], ",")+`]}`, &batch); code != 200 || len(batch.Results) != 50 || batch.Errors != 0 {
		t.Errorf("POST of 50 events = %d with %d results, %d errors; want 200, 50, 0", code, len(batch.Results), batch.Errors)
	}
	var got predictor.Error
	if code := post(t, nil, srv.URL+"/v1/score", `{"events": [`+strings.Join(events, ",")+`]}`, &got); code != 413 || got.Reason != predictor.ReasonTooMany || got.Field != "events" || !strings.Contains(got.Error, "51 events, the limit is 50") {
		t.Errorf("POST of 51 events = %d %+v, want 413 too_many_events", code, got)
	}
	// 40 events of 2 KiB: under the event bound, over the 64 KiB body bound.
	big := make([]string, 40)
	for i := range big {
		big[i] = fmt.Sprintf(`{"id": "b-%d", "fields": {"s": "%s"}}`, i, strings.Repeat("x", 2<<10))
	}
	got = predictor.Error{}
	if code := post(t, nil, srv.URL+"/v1/score", `{"events": [`+strings.Join(big, ",")+`]}`, &got); code != 413 || got.Reason != predictor.ReasonTooLarge {
		t.Errorf("POST of an 80 KiB batch = %d %+v, want 413 too_large", code, got)
	}
}
