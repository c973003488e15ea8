package features_test

import (
	"encoding/binary"
	"math"
	"testing"
	"time"

	"github.com/streamlearn/streamlearn/features"
	"github.com/streamlearn/streamlearn/wire"
)

func fuzzConfig() features.Config {
	cfg := features.DefaultConfig()
	ws := []features.Window{features.Window(5 * time.Minute), features.Window(time.Hour)}
	for _, fn := range []string{"sum", "min", "max", "stddev", "last", "distinct"} {
		cfg.Aggregates = append(cfg.Aggregates, features.Aggregate{Function: fn, Field: "*", Windows: ws})
	}
	cfg.Aggregates = append(cfg.Aggregates, features.Aggregate{Function: "since_prev", Windows: ws},
		features.Aggregate{Function: "distinct", Field: "s", Windows: ws})
	return cfg
}

// Stored bytes may be anything (another version, a bug, a hand edit): reading them never panics.
func FuzzStoredState(f *testing.F) {
	e, err := features.NewEngine(fuzzConfig(), features.EngineOptions{})
	if err != nil {
		f.Fatal(err)
	}
	out := make([]wire.Vector, 3)
	evs := []wire.Event{
		{ID: "a", Entity: "u", Time: time.UnixMilli(1_800_000_000_000), Fields: map[string]any{"x": 1.5, "s": "v"}},
		{ID: "b", Entity: "u", Time: time.UnixMilli(1_800_000_060_000), Fields: map[string]any{"x": 2.5, "y": 3.0, "s": "w"}},
		{ID: "c", Entity: "u", Time: time.UnixMilli(1_800_000_030_000), Fields: map[string]any{"x": -1.0}},
	}
	u := e.ApplyEntity(nil, evs, nil, nil, out)
	f.Add(u.State, false)
	f.Add(u.State, true)
	f.Add([]byte{1}, false)
	f.Add([]byte{1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f}, false)
	f.Fuzz(func(t *testing.T, state []byte, resum bool) {
		if resum && len(state) > 5 {
			// Past the checksum, to reach the decoder.
			binary.LittleEndian.PutUint32(state[len(state)-4:], features.Checksum(state[:len(state)-4]))
		}
		e.ApplyEntity(state, evs, nil, nil, out)
		e.LookupEntity(state, evs, nil, out)
		e.Snapshot("u", state, time.Time{})
	})
}

// Event values from the Go API may be anything JSON cannot carry: never a panic, never a NaN or infinite feature.
func FuzzEventValues(f *testing.F) {
	e, err := features.NewEngine(fuzzConfig(), features.EngineOptions{})
	if err != nil {
		f.Fatal(err)
	}
	f.Add("e1", "u", int64(1_800_000_000_000), 1.5, "DE", "amount")
	f.Add("", "", int64(0), math.NaN(), "", "")
	f.Add("x", "{}", int64(-1), math.Inf(1), "\xff\xfe", "*")
	f.Add("y", "u", int64(math.MaxInt64/2), -math.MaxFloat64, "=", "a=b")
	f.Fuzz(func(t *testing.T, id, entity string, ms int64, x float64, s, name string) {
		evs := []wire.Event{
			{ID: id, Entity: entity, Time: time.UnixMilli(ms), Fields: map[string]any{name: x, "s": s, "x": x}},
			{ID: id + "'", Entity: entity, Time: time.UnixMilli(ms / 2), Fields: map[string]any{"x": x / 3, name: s}},
			{ID: id, Entity: entity, Time: time.UnixMilli(ms), Fields: map[string]any{name: x, "s": s, "x": x}},
		}
		out := make([]wire.Vector, len(evs))
		u := e.ApplyEntity(nil, evs, nil, nil, out)
		for i, v := range out {
			for _, f := range v {
				if math.IsNaN(f.Value) || math.IsInf(f.Value, 0) {
					t.Fatalf("event %d: %q is %v", i, f.Name, f.Value)
				}
			}
		}
		e.ApplyEntity(u.State, evs, nil, nil, out)
		e.Snapshot(entity, u.State, time.UnixMilli(ms))
	})
}
