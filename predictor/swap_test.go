package predictor_test

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/streamlearn/streamlearn/predictor"
	"github.com/streamlearn/streamlearn/wire"
)

// TestHotSwapUnderLoad promotes 100 times over HTTP while clients score single events and batches:
// no request fails, every score is the one of the version the response names, and a batch is
// scored by one version only.
func TestHotSwapUnderLoad(t *testing.T) {
	const versions = 100
	e := newEnv(t)
	snaps := e.publishBiased(t, "default", versions)
	want := map[int64]float64{}
	for v := int64(1); v <= versions; v++ {
		want[v] = snaps[v].Predict(wire.Vector{}).Score
		for u, s := range want {
			if u != v && s == want[v] {
				t.Fatalf("versions %d and %d score alike: the test cannot tell them apart", u, v)
			}
		}
	}
	e.promote(t, "default", 1)
	srv := serve(t, e.api(t, router(t, predictor.Config{})))
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}

	var (
		requests, failures, mismatches atomic.Int64
		mu                             sync.Mutex
		seen                           = map[int64]bool{}
	)
	check := func(s predictor.Score) {
		if w, ok := want[s.Version]; !ok || s.Score != w || s.Model != "default" || s.Route != wire.RouteChampion {
			mismatches.Add(1)
			t.Errorf("response %+v: version %d scores %v", s, s.Version, w)
		}
		mu.Lock()
		seen[s.Version] = true
		mu.Unlock()
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for c := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				requests.Add(1)
				if i%3 == 0 {
					var res struct{ Results []predictor.Score }
					body := fmt.Sprintf(`{"events": [{"id": "b%d-%d-1"}, {"id": "b%d-%d-2"}, {"id": "b%d-%d-3"}]}`, c, i, c, i, c, i)
					if code := post(t, client, srv.URL+"/v1/score", body, &res); code != 200 || len(res.Results) != 3 {
						failures.Add(1)
						continue
					}
					for _, s := range res.Results {
						if s.Version != res.Results[0].Version {
							t.Errorf("a batch mixed versions %d and %d", res.Results[0].Version, s.Version)
						}
						check(s)
					}
					continue
				}
				var s predictor.Score
				if code := post(t, client, srv.URL+"/v1/score", fmt.Sprintf(`{"id": "e%d-%d"}`, c, i), &s); code != 200 {
					failures.Add(1)
					continue
				}
				check(s)
			}
		}()
	}

	for i := range versions {
		v := int64(i*37%versions + 1) // every version once, in jumps both ways
		var res predictor.ChampionResult
		if code := post(t, client, srv.URL+"/v1/models/default/promote", fmt.Sprintf(`{"version": %d}`, v), &res); code != 200 {
			t.Fatalf("promote %d = %d %+v", v, code, res)
		}
		if res.Serving != v || res.Version != v {
			t.Fatalf("promote %d: serving %d", v, res.Serving)
		}
	}
	close(stop)
	wg.Wait()

	t.Logf("%d requests, %d versions seen by clients", requests.Load(), len(seen))
	if n := failures.Load(); n > 0 {
		t.Errorf("%d of %d requests failed during the swaps", n, requests.Load())
	}
	if n := mismatches.Load(); n > 0 {
		t.Errorf("%d responses had a score that is not their version's", n)
	}
	if len(seen) < 10 {
		t.Errorf("clients saw %d versions: the swaps did not happen under load", len(seen))
	}
}
