package features_test

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/streamlearn/streamlearn/features"
	"github.com/streamlearn/streamlearn/wire"
)

var t0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

func engine(t *testing.T, cfg features.Config) *features.Engine {
	t.Helper()
	e, err := features.NewEngine(cfg, features.EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func ptr(x float64) *float64 { return &x }

func TestZeroConfigVector(t *testing.T) {
	e := engine(t, features.DefaultConfig())
	evs := []wire.Event{
		{ID: "1", Entity: "u", Time: t0, Fields: map[string]any{"amount": 10.0, "country": "DE", "new": true}},
		{ID: "2", Entity: "u", Time: t0.Add(time.Minute), Fields: map[string]any{"amount": 30.0, "country": "FR", "new": false, "n": nil}},
	}
	out := make([]wire.Vector, 2)
	u := e.ApplyEntity(nil, evs, nil, nil, out)
	if !u.Changed {
		t.Fatalf("update %+v", u)
	}
	want := "[{amount 30} {amount_mean_1h 10} {amount_mean_24h 10} {count_1h 1} {count_24h 1} {country=FR 1} {new 0}]"
	if got := fmt.Sprint(out[1]); got != want {
		t.Errorf("second event:\n got %s\nwant %s", got, want)
	}
	// The first event of an entity has counts of 0 and no means; events without an entity no aggregates.
	if got := fmt.Sprint(out[0]); got != "[{amount 10} {count_1h 0} {count_24h 0} {country=DE 1} {new 1}]" {
		t.Errorf("first event: %s", got)
	}
	if got := fmt.Sprint(e.Stateless(wire.Event{ID: "3", Time: t0, Fields: map[string]any{"amount": 5.0}}, nil, nil)); got != "[{amount 5}]" {
		t.Errorf("no entity: %s", got)
	}
	// The stored state answers a snapshot.
	snap, ok := e.Snapshot("u", u.State, time.Time{})
	if !ok || snap.Values["count_1h"] != 2 || snap.Values["amount_mean_24h"] != 20 || !snap.LatestEvent.Equal(t0.Add(time.Minute)) {
		t.Errorf("snapshot %+v", snap)
	}
	if _, ok := e.Snapshot("v", nil, time.Time{}); ok {
		t.Error("snapshot of an unknown entity")
	}
}

func TestFieldsTransformsAndCrosses(t *testing.T) {
	cfg := features.DefaultConfig()
	cfg.AutoFields = false
	cfg.Aggregates = nil
	cfg.Fields = []features.Field{
		{Name: "amount", Type: "numeric", Transforms: []features.Transform{{Kind: "clip", Max: ptr(1000)}, {Kind: "log"}}},
		{Name: "delta", Type: "numeric", Transforms: []features.Transform{{Kind: "log"}}},
		{Name: "amount", As: "amount_band", Type: "numeric", Transforms: []features.Transform{{Kind: "bucketize", Boundaries: []float64{10, 100}}}},
		{Name: "country", Type: "categorical", Encoding: "vocabulary", Vocabulary: []string{"DE", "FR"}},
		{Name: "device", Type: "categorical", Encoding: "hash", Buckets: 8},
		{Name: "new", Type: "boolean"},
		{Name: "score", Type: "numeric", Transforms: []features.Transform{{Kind: "standardize"}}},
		{Name: "code", Type: "categorical"},
	}
	cfg.Crosses = [][]string{{"country", "device"}, {"amount_band", "amount"}}
	e := engine(t, cfg)
	ev := wire.Event{ID: "1", Time: t0, Fields: map[string]any{
		"amount": 5000.0, "delta": -3.0, "country": "IT", "device": "ios", "new": "true", "score": 7.0, "code": 42.0, "ignored": 1.0,
	}}
	z := features.ZStats{}
	for _, x := range []float64{1, 3, 5} {
		z.Add("score", x)
	}
	obs := features.ZStats{}
	got := e.Stateless(ev, z, obs).Map()
	dev := ""
	for name := range got {
		if strings.HasPrefix(name, "device=#") {
			dev = name
		}
	}
	want := map[string]float64{
		"amount":                   math.Log1p(1000),
		"delta":                    -math.Log1p(3),
		"amount_band=2":            1,
		"country=__other__":        1,
		dev:                        1,
		"new":                      1,
		"score":                    (7 - 3) / math.Sqrt(8.0/3),
		"code=42":                  1,
		"country=__other__&" + dev: 1,
		"amount_band=2&amount":     math.Log1p(1000),
	}
	if dev == "" || len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for name, w := range want {
		if g, ok := got[name]; !ok || math.Abs(g-w) > 1e-12 {
			t.Errorf("%s = %v (present %v), want %v", name, g, ok, w)
		}
	}
	if obs["score"].N != 1 || obs["score"].Sum != 7 {
		t.Errorf("standardize observed %+v, want the raw 7", obs)
	}
}

func TestBadValuesNeverPanic(t *testing.T) {
	cfg := features.DefaultConfig()
	cfg.Aggregates = append(cfg.Aggregates,
		features.Aggregate{Function: "distinct", Field: "s", Windows: []features.Window{features.Window(time.Hour)}},
		features.Aggregate{Function: "stddev", Field: "*", Windows: []features.Window{features.Window(time.Hour)}})
	cfg.Fields = []features.Field{{Name: "z", Type: "numeric", Transforms: []features.Transform{{Kind: "standardize"}, {Kind: "log"}}}}
	e := engine(t, cfg)
	huge := strings.Repeat("é", 1<<20)
	evs := []wire.Event{
		{ID: "", Entity: "", Time: time.Time{}, Fields: nil},
		{ID: "a", Entity: "u", Time: t0, Fields: map[string]any{"x": math.NaN(), "y": math.Inf(1), "z": math.Inf(-1), "s": huge, huge: 1.0}},
		{ID: "b", Entity: "u", Time: time.Unix(0, 0), Fields: map[string]any{"x": math.MaxFloat64, "y": -math.MaxFloat64, "n": []any{1}, "m": map[string]any{}}},
		{ID: "c", Entity: "u", Time: time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), Fields: map[string]any{"x": 1.0, "z": 2.0}},
		{ID: "d", Entity: "u", Time: time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), Fields: map[string]any{"x": 1.0}},
	}
	z := features.ZStats{"z": {N: 2, Sum: math.Inf(1), SumSq: math.NaN()}}
	out := make([]wire.Vector, len(evs))
	u := e.ApplyEntity(nil, evs, z, features.ZStats{}, out)
	for i, v := range out {
		for _, f := range v {
			if math.IsNaN(f.Value) || math.IsInf(f.Value, 0) || len(f.Name) > 1<<21 {
				t.Errorf("event %d: feature %.40q = %v", i, f.Name, f.Value)
			}
			if strings.HasPrefix(f.Name, "s=") && len(f.Name) > 200 {
				t.Errorf("event %d: category not bounded: %d bytes", i, len(f.Name))
			}
		}
	}
	if _, ok := e.Snapshot("u", u.State, time.Time{}); !ok {
		t.Error("state unreadable")
	}
	e.LookupEntity(u.State, evs, z, out)
}
