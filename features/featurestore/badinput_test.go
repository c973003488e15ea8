package featurestore_test

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/streamlearn/streamlearn/features"
	"github.com/streamlearn/streamlearn/features/featurestore"
	"github.com/streamlearn/streamlearn/internal/testenv"
	"github.com/streamlearn/streamlearn/wire"
)

// Whatever the Go API is handed, the store neither panics nor serves NaN or infinite values, and
// odd entity keys (braces, binary, megabytes) are entities like any other.
func TestBadInputThroughRedis(t *testing.T) {
	cfg := features.DefaultConfig()
	cfg.Aggregates = append(cfg.Aggregates,
		features.Aggregate{Function: features.FuncDistinct, Field: "s", Windows: []features.Window{window("1h")}},
		features.Aggregate{Function: features.FuncStddev, Field: "*", Windows: []features.Window{window("1h")}})
	store, _ := newStore(t, cfg, featurestore.Options{})
	ctx := testenv.Context(t, 30*time.Second)
	huge := strings.Repeat("x", 1<<20)
	entities := []string{"", "{", "}", "{}", "a}b{c", "\x00\xff\n", "e:1", huge}
	var events []wire.Event
	for i, entity := range entities {
		for j, fields := range []map[string]any{
			{"x": math.NaN(), "y": math.Inf(1), "s": huge},
			{"x": math.MaxFloat64, "y": -math.MaxFloat64, huge: 1.0, "": "", "nil": nil, "list": []any{1.0}},
			{"x": 1.0, "s": "\xff"},
			nil,
		} {
			events = append(events, wire.Event{ID: strings.Repeat("i", i*j) + "-" + entity, Entity: entity, Time: t0.Add(time.Duration(j) * time.Second), Fields: fields})
		}
	}
	for _, batch := range [][]wire.Event{events, events[:3], events} {
		got, err := store.Apply(ctx, batch)
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range got {
			for _, f := range v {
				if math.IsNaN(f.Value) || math.IsInf(f.Value, 0) {
					t.Fatalf("event %d: %.60q = %v", i, f.Name, f.Value)
				}
			}
		}
		if _, err := store.Lookup(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	for _, entity := range entities[1:] {
		snap, ok, err := store.Aggregates(ctx, entity, time.Time{})
		if err != nil || !ok || snap.Values["count_1h"] != 4 {
			t.Errorf("entity %.20q: %v %v, count_1h %v; want the 4 events, each applied once", entity, ok, err, snap.Values["count_1h"])
		}
	}
	if _, ok, err := store.Aggregates(ctx, "never seen", time.Time{}); ok || err != nil {
		t.Errorf("unknown entity: %v %v", ok, err)
	}
}

// Standardize statistics are shared through Redis: a second process scores with what the first
// learned; a redelivery gets the parameters its first delivery used, transforms and crosses included.
func TestStandardizeIsShared(t *testing.T) {
	cfg := features.DefaultConfig()
	cfg.Aggregates = []features.Aggregate{{Function: features.FuncMean, Field: "x", Windows: []features.Window{window("1h")},
		Transforms: []features.Transform{{Kind: features.TransformStandardize}}},
		{Function: features.FuncCount, Windows: []features.Window{window("1h")},
			Transforms: []features.Transform{{Kind: features.TransformLog}, {Kind: features.TransformBucketize, Boundaries: []float64{0.5, 1.5}}}}}
	cfg.Fields = []features.Field{{Name: "x", Type: features.TypeNumeric, Transforms: []features.Transform{{Kind: features.TransformStandardize}}}}
	cfg.Crosses = [][]string{{"count_1h", "x"}}
	prefix := testPrefix(t)
	a, _ := newStore(t, cfg, featurestore.Options{Prefix: prefix})
	ctx := testenv.Context(t, 30*time.Second)
	var batch []wire.Event
	for i, x := range []float64{2, 4, 6, 8} {
		batch = append(batch, ev(string(rune('a'+i)), "", time.Duration(i)*time.Second, map[string]any{"x": x}))
	}
	if _, err := a.Apply(ctx, batch); err != nil {
		t.Fatal(err)
	}
	b, _ := newStore(t, cfg, featurestore.Options{Prefix: prefix})
	got, err := b.Lookup(ctx, []wire.Event{ev("z", "", time.Hour, map[string]any{"x": 5 + math.Sqrt(5)})})
	if err != nil {
		t.Fatal(err)
	}
	// mean 5, population stddev √5: one standard deviation above the mean.
	if x := got[0].Map()["x"]; math.Abs(x-1) > 1e-9 {
		t.Errorf("standardized x = %v, want 1", x)
	}
	entity := []wire.Event{ev("p", "u", 0, map[string]any{"x": 3.0}), ev("q", "u", time.Minute, map[string]any{"x": 9.0})}
	first, err := a.Apply(ctx, entity)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Apply(ctx, batch); err != nil { // the statistics move on
		t.Fatal(err)
	}
	again, err := b.Apply(ctx, entity)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(again) != fmt.Sprint(first) {
		t.Errorf("redelivered: %v, first %v", again, first)
	}
	if m := first[1].Map(); m["count_1h=1"] != 1 || m["count_1h=1&x"] == 0 {
		t.Errorf("second event of u: %v; want count_1h bucketized (log1p(1) in [0.5, 1.5)) and crossed with x", first[1])
	}
}
