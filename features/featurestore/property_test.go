package featurestore_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/streamlearn/streamlearn/features"
	"github.com/streamlearn/streamlearn/features/featurestore"
	"github.com/streamlearn/streamlearn/internal/testenv"
	"github.com/streamlearn/streamlearn/wire"
)

// naive recomputes every feature from the raw events it has accepted, following the documented
// rules without tiles of its own: per entity, in arrival order,
//   - an event applied before whose time is at or after the horizon (latest applied time minus the
//     allowed lateness) gets the vector it got the first time;
//   - an event before the horizon (a redelivery included) is scored, not applied;
//   - any other event is scored, then applied.
//
// Scoring at time t over a window W of tiles g = W/TilesPerWindow: the accepted events whose tile
// lies in the W/g tiles ending with t's tile, minus t's own tile when it holds an event later than t,
// minus tiles too old for the horizon to reach (which only a too-late event can see).
type naive struct {
	cfg      features.Config
	entities map[string]*naiveEntity
}

type naiveEntity struct {
	accepted []wire.Event
	hasWM    bool
	wm       int64
	served   map[string]wire.Vector
	appliedT map[string]int64
}

func (n *naive) event(e wire.Event) (want map[string]float64, exact wire.Vector) {
	en := n.entities[e.Entity]
	if en == nil {
		en = &naiveEntity{served: map[string]wire.Vector{}, appliedT: map[string]int64{}}
		n.entities[e.Entity] = en
	}
	t := e.Time.UnixMilli()
	h := int64(math.MinInt64)
	if en.hasWM {
		h = en.wm - n.cfg.AllowedLateness.Milliseconds()
	}
	if at, ok := en.appliedT[e.ID]; ok {
		if at >= h {
			return nil, en.served[e.ID]
		}
		return n.score(en, e, h), nil
	}
	want = n.score(en, e, h)
	if t < h {
		return want, nil
	}
	en.accepted = append(en.accepted, e)
	en.appliedT[e.ID] = t
	if !en.hasWM || t > en.wm {
		en.wm, en.hasWM = t, true
	}
	return want, nil
}

// remember stores what the store served for an applied event, which a redelivery must get again.
func (n *naive) remember(e wire.Event, v wire.Vector) {
	en := n.entities[e.Entity]
	if _, ok := en.served[e.ID]; !ok && en.appliedT[e.ID] == e.Time.UnixMilli() {
		en.served[e.ID] = v
	}
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func (n *naive) score(en *naiveEntity, e wire.Event, h int64) map[string]float64 {
	want := map[string]float64{}
	for name, v := range e.Fields {
		switch x := v.(type) {
		case float64:
			want[name] = x
		case bool:
			want[name] = 0
			if x {
				want[name] = 1
			}
		case string:
			want[name+"="+x] = 1
		}
	}
	t := e.Time.UnixMilli()
	for _, a := range n.cfg.Aggregates {
		for _, w := range a.Windows {
			g := w.Duration().Milliseconds() / int64(n.cfg.TilesPerWindow)
			b := floorDiv(t, g)
			lo := b - int64(n.cfg.TilesPerWindow) + 1
			if h != math.MinInt64 {
				lo = max(lo, floorDiv(h, g)-int64(n.cfg.TilesPerWindow)+1)
			}
			ownTileLater := false
			for _, x := range en.accepted {
				if floorDiv(x.Time.UnixMilli(), g) == b && x.Time.UnixMilli() > t {
					ownTileLater = true
				}
			}
			var in []wire.Event
			for _, x := range en.accepted {
				xb := floorDiv(x.Time.UnixMilli(), g)
				if xb >= lo && (xb < b || xb == b && !ownTileLater) {
					in = append(in, x)
				}
			}
			fields := []string{a.Field}
			if a.Field == features.AllFields {
				fields = nil
				for name, v := range e.Fields {
					if _, ok := v.(float64); ok {
						fields = append(fields, name)
					}
				}
			}
			for _, f := range fields {
				if v, ok := aggregate(a.Function, f, in, t); ok {
					want[a.OutputName(f, w)] = v
				}
			}
		}
	}
	return want
}

func aggregate(fn, field string, in []wire.Event, t int64) (float64, bool) {
	switch fn {
	case features.FuncCount:
		return float64(len(in)), true
	case features.FuncSincePrev:
		if len(in) == 0 {
			return 0, false
		}
		latest := in[0].Time.UnixMilli()
		for _, x := range in {
			latest = max(latest, x.Time.UnixMilli())
		}
		return float64(t-latest) / 1000, true
	case features.FuncDistinct:
		seen := map[string]bool{}
		for _, x := range in {
			if v, ok := x.Fields[field]; ok {
				seen[fmt.Sprint(v)] = true
			}
		}
		return float64(len(seen)), true
	}
	var vals []float64
	lastT, last := int64(0), 0.0
	for _, x := range in {
		v, ok := x.Fields[field].(float64)
		if !ok {
			continue
		}
		if len(vals) == 0 || x.Time.UnixMilli() >= lastT {
			lastT, last = x.Time.UnixMilli(), v
		}
		vals = append(vals, v)
	}
	if len(vals) == 0 {
		return 0, fn == features.FuncSum
	}
	sum, lo, hi := 0.0, vals[0], vals[0]
	for _, v := range vals {
		sum += v
		lo, hi = min(lo, v), max(hi, v)
	}
	mean := sum / float64(len(vals))
	switch fn {
	case features.FuncSum:
		return sum, true
	case features.FuncMean:
		return mean, true
	case features.FuncMin:
		return lo, true
	case features.FuncMax:
		return hi, true
	case features.FuncLast:
		return last, true
	case features.FuncStddev:
		ss := 0.0
		for _, v := range vals {
			ss += (v - mean) * (v - mean)
		}
		return math.Sqrt(ss / float64(len(vals))), true
	}
	return 0, false
}

// randomStream makes events for a few entities with clocks that mostly move forward by anything from
// nothing to hours, sometimes step back (out of order, some beyond the lateness), and redeliveries
// of earlier events, recent or old.
func randomStream(rng *rand.Rand, n, entities int) []wire.Event {
	clocks := make([]time.Duration, entities)
	var out []wire.Event
	steps := []time.Duration{0, time.Millisecond, 700 * time.Millisecond, 9 * time.Second, 40 * time.Second, 3 * time.Minute, 20 * time.Minute, 2 * time.Hour}
	for len(out) < n {
		if len(out) > 0 && rng.IntN(8) == 0 {
			back := rng.IntN(min(len(out), 40)) + 1
			if rng.IntN(4) == 0 {
				back = rng.IntN(len(out)) + 1
			}
			out = append(out, out[len(out)-back])
			continue
		}
		e := rng.IntN(entities)
		step := steps[rng.IntN(len(steps))]
		if step > 0 {
			step = time.Duration(rng.Int64N(int64(step))) + 1
		}
		at := clocks[e] + step
		if rng.IntN(6) == 0 {
			at = clocks[e] - time.Duration(rng.Int64N(int64(25*time.Minute)))
		} else {
			clocks[e] = at
		}
		fields := map[string]any{}
		if rng.IntN(5) > 0 {
			fields["x"] = float64(rng.IntN(400)-200) / 4
		}
		if rng.IntN(3) == 0 {
			fields["y"] = float64(rng.IntN(40)) / 8
		}
		if rng.IntN(4) > 0 {
			fields["c"] = fmt.Sprint("v", rng.IntN(6))
		}
		if rng.IntN(3) == 0 {
			fields["flag"] = rng.IntN(2) == 0
		}
		out = append(out, wire.Event{ID: fmt.Sprintf("e%d", len(out)), Entity: fmt.Sprint("u", e), Time: t0.Add(at), Fields: fields})
	}
	return out
}

func propertyConfig() features.Config {
	cfg := features.DefaultConfig()
	ws := []features.Window{window("5m"), window("1h"), window("24h")}
	cfg.Aggregates = []features.Aggregate{
		{Function: features.FuncCount, Windows: append(ws, window("7d"))},
		{Function: features.FuncSincePrev, Windows: ws},
		{Function: features.FuncMean, Field: features.AllFields, Windows: ws},
		{Function: features.FuncDistinct, Field: "c", Windows: ws},
	}
	for _, fn := range []string{features.FuncSum, features.FuncMin, features.FuncMax, features.FuncStddev, features.FuncLast} {
		cfg.Aggregates = append(cfg.Aggregates, features.Aggregate{Function: fn, Field: "x", Windows: ws})
	}
	return cfg
}

func TestPropertyMatchesNaiveRecomputation(t *testing.T) {
	seeds := 6
	if testing.Short() {
		seeds = 2
	}
	for seed := range seeds {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			cfg := propertyConfig()
			store, _ := newStore(t, cfg, featurestore.Options{})
			ctx := testenv.Context(t, time.Minute)
			rng := rand.New(rand.NewPCG(uint64(seed), 7))
			stream := randomStream(rng, 1500, 4)
			model := &naive{cfg: cfg, entities: map[string]*naiveEntity{}}
			var late, dups int
			firsts := make([]wire.Vector, len(stream))
			for i := 0; i < len(stream); {
				n := min(1+rng.IntN(40), len(stream)-i)
				batch := stream[i : i+n]
				got, err := store.Apply(ctx, batch)
				if err != nil {
					t.Fatalf("Apply: %v", err)
				}
				copy(firsts[i:], got)
				for j, e := range batch {
					want, exact := model.event(e)
					if exact != nil {
						dups++
						if fmt.Sprint(got[j]) != fmt.Sprint(exact) {
							t.Fatalf("event %d (%s, redelivered): got %v, want the first answer %v", i+j, e.ID, got[j], exact)
						}
						continue
					}
					if d := equalVectors(got[j], want); d != "" {
						t.Fatalf("event %d (%s of %s at %s): %s", i+j, e.ID, e.Entity, e.Time.Sub(t0), d)
					}
					model.remember(e, got[j])
				}
				i += n
			}
			// Replaying the same stream into a fresh store, cut into other batches, gives the same vectors.
			replay, _ := newStore(t, cfg, featurestore.Options{})
			for i := 0; i < len(stream); {
				n := min(1+rng.IntN(100), len(stream)-i)
				again, err := replay.Apply(ctx, stream[i:i+n])
				if err != nil {
					t.Fatalf("Apply: %v", err)
				}
				for j := range again {
					if a, b := fmt.Sprint(again[j]), fmt.Sprint(firsts[i+j]); a != b {
						t.Fatalf("replay of event %d: got %s, first run %s", i+j, a, b)
					}
				}
				i += n
			}
			st := store.Stats()
			late = int(st.Late)
			if dups == 0 || late == 0 || st.Applied == 0 {
				t.Fatalf("stream did not exercise redelivery and lateness: %+v", st)
			}
			t.Logf("%d events: %+v", len(stream), st)
		})
	}
}
