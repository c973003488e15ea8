package predictor_test

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/streamlearn/streamlearn/predictor"
	"github.com/streamlearn/streamlearn/wire"
)

func TestRouterShares(t *testing.T) {
	const n = 10000
	tests := []struct {
		name   string
		routes []predictor.Route
	}{
		{"one", nil},
		{"90/10", []predictor.Route{{Model: "a", Share: 0.9}, {Model: "b", Share: 0.1}}},
		{"50/50", []predictor.Route{{Model: "a", Share: 0.5}, {Model: "b", Share: 0.5}}},
		{"70/20/10", []predictor.Route{{Model: "a", Share: 0.7}, {Model: "b", Share: 0.2}, {Model: "c", Share: 0.1}}},
		{"98/1/1", []predictor.Route{{Model: "a", Share: 0.98}, {Model: "b", Share: 0.01}, {Model: "c", Share: 0.01}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := router(t, predictor.Config{Routes: tt.routes})
			want := r.Routes()
			for _, keyed := range []string{"entity", "id"} {
				counts := make([]int, len(want))
				for i := range n {
					ev := wire.Event{ID: fmt.Sprintf("e-%d", i)}
					if keyed == "entity" {
						ev.Entity = fmt.Sprintf("u-%d", i)
					}
					counts[r.RouteOf(&ev)]++
				}
				for i, rt := range want {
					if got := float64(counts[i]) / n; math.Abs(got-rt.Share) > 0.02 {
						t.Errorf("by %s: route %s got %.4f of the traffic, want %.2f ± 0.02", keyed, rt.Model, got, rt.Share)
					}
				}
			}
		})
	}
}

// TestRouterIsSticky: an entity meets the same model in every event and every process (router).
func TestRouterIsSticky(t *testing.T) {
	cfg := predictor.Config{Routes: []predictor.Route{{Model: "a", Share: 0.5}, {Model: "b", Share: 0.3}, {Model: "c", Share: 0.2}}}
	r1, r2 := router(t, cfg), router(t, cfg)
	for i := range 2000 {
		ent := fmt.Sprintf("u-%d", i)
		first := wire.Event{ID: "x-" + ent, Entity: ent}
		later := wire.Event{ID: "y-" + ent, Entity: ent, Fields: map[string]any{"a": 1.0}}
		if a, b, c := r1.RouteOf(&first), r1.RouteOf(&later), r2.RouteOf(&first); a != b || a != c {
			t.Fatalf("entity %s took routes %d, %d and %d", ent, a, b, c)
		}
	}
}

// TestRouterPinnedAssignments pins a few assignments: changing the hash would move live traffic
// between models, so it must be a deliberate change.
func TestRouterPinnedAssignments(t *testing.T) {
	r := router(t, predictor.Config{Routes: []predictor.Route{{Model: "a", Share: 0.5}, {Model: "b", Share: 0.5}}})
	var got []string
	for _, ent := range []string{"u-1", "u-2", "u-3", "u-4", "u-5", "u-6", "u-7", "u-8"} {
		got = append(got, r.Routes()[r.RouteOf(&wire.Event{ID: "x", Entity: ent})].Model)
	}
	if s := strings.Join(got, ""); s != pinnedAssignments {
		t.Errorf("assignments of u-1..u-8 = %s, want %s", s, pinnedAssignments)
	}
}

const pinnedAssignments = "bbababbb"

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  predictor.Config
		want string // "" for valid
	}{
		{"default", predictor.DefaultConfig(), ""},
		{"ab", abConfig, ""},
		{"decimal shares", predictor.Config{Routes: []predictor.Route{{"a", 0.7}, {"b", 0.2}, {"c", 0.1}}}, ""},
		{"sum below 1", predictor.Config{Routes: []predictor.Route{{"a", 0.5}, {"b", 0.4}}}, "predictor.routes: shares sum to 0.9"},
		{"zero share", predictor.Config{Routes: []predictor.Route{{"a", 1}, {"b", 0}}}, "predictor.routes[1].share"},
		{"share above 1", predictor.Config{Routes: []predictor.Route{{"a", 1.5}}}, "predictor.routes[0].share"},
		{"no name", predictor.Config{Routes: []predictor.Route{{"", 1}}}, "predictor.routes[0].model"},
		{"twice", predictor.Config{Routes: []predictor.Route{{"a", 0.5}, {"a", 0.5}}}, "predictor.routes[1].model: model \"a\" is already named"},
		{"shadow routed", predictor.Config{Routes: []predictor.Route{{"a", 1}}, Shadow: []string{"a"}}, "predictor.shadow[0]"},
		{"rate", predictor.Config{RateLimit: predictor.RateLimit{PerSecond: -1}}, "predictor.rate_limit.per_second"},
		{"burst", predictor.Config{RateLimit: predictor.RateLimit{PerSecond: 1, Burst: -1}}, "predictor.rate_limit.burst"},
		{"by", predictor.Config{RateLimit: predictor.RateLimit{By: "cookie"}}, "predictor.rate_limit.by"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Validate() = %v, want an error containing %q", err, tt.want)
			}
		})
	}
	if _, err := predictor.NewRouter(predictor.Config{Shadow: []string{"default"}}, "default"); err == nil {
		t.Error("NewRouter accepted the default model as its own shadow")
	}
}
