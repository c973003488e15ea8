package featurestore_test

import (
	"fmt"
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/streamlearn/streamlearn/features"
	"github.com/streamlearn/streamlearn/features/featurestore"
	"github.com/streamlearn/streamlearn/internal/testenv"
	"github.com/streamlearn/streamlearn/wire"
)

// standardizedAmount is the default features with amount standardized, raw and in its 1h aggregates.
func standardizedAmount() features.Config {
	cfg := features.DefaultConfig()
	std := []features.Transform{{Kind: features.TransformStandardize}}
	hour := []features.Window{window("1h")}
	cfg.Fields = []features.Field{{Name: "amount", Type: features.TypeNumeric, Transforms: std}}
	for _, fn := range []string{features.FuncSum, features.FuncStddev, features.FuncMax} {
		cfg.Aggregates = append(cfg.Aggregates, features.Aggregate{Function: fn, Field: "amount", Windows: hour, Transforms: std})
	}
	return cfg
}

// TestExtremeValueIsNoPoisonRecord applies extreme finite amounts, with and without an entity, to a
// store that standardizes them: every Apply succeeds (an infinite sum of squares used to make
// HINCRBYFLOAT fail on every retry), the statistics in Redis, the vectors and the aggregates stay
// finite, and amount still tells 1 from 90 afterwards.
func TestExtremeValueIsNoPoisonRecord(t *testing.T) {
	for _, x := range []float64{1e200, -1e308, math.MaxFloat64, 5e-324} {
		for _, entity := range []string{"", "u"} {
			t.Run(fmt.Sprintf("%v/entity=%q", x, entity), func(t *testing.T) {
				prefix := testPrefix(t)
				store, rdb := newStore(t, standardizedAmount(), featurestore.Options{Prefix: prefix})
				ctx := testenv.Context(t, 30*time.Second)
				n := 0
				apply := func(xs ...float64) []wire.Vector {
					t.Helper()
					var evs []wire.Event
					for _, x := range xs {
						n++
						evs = append(evs, ev(fmt.Sprint("e", n), entity, time.Duration(n)*time.Second, map[string]any{"amount": x}))
					}
					got, err := store.Apply(ctx, evs)
					if err != nil {
						t.Fatalf("apply %v: %v", xs, err)
					}
					checkFinite(t, got)
					return got
				}
				for i := range 50 {
					apply(float64(1+2*i), float64(100-2*i))
				}
				apply(x)
				apply(x, x)
				apply(50)
				got := apply(1, 90)
				if lo, hi := got[0].Map()["amount"], got[1].Map()["amount"]; !(hi-lo > 1) {
					t.Errorf("standardized amount of 1 = %v, of 90 = %v; want them more than 1 apart", lo, hi)
				}
				stats, err := rdb.HGetAll(ctx, prefix+"fz").Result()
				if err != nil {
					t.Fatal(err)
				}
				for k, v := range stats {
					if f, err := strconv.ParseFloat(v, 64); err != nil || !isFinite(f) {
						t.Errorf("statistic %s = %q", k, v)
					}
				}
				if entity == "" {
					return
				}
				snap, ok, err := store.Aggregates(ctx, entity, time.Time{})
				if err != nil || !ok {
					t.Fatalf("aggregates: %v %v", ok, err)
				}
				for name, v := range snap.Values {
					if !isFinite(v) {
						t.Errorf("aggregate %s = %v", name, v)
					}
				}
			})
		}
	}
}

func checkFinite(t *testing.T, vs []wire.Vector) {
	t.Helper()
	for i, v := range vs {
		for _, f := range v {
			if !isFinite(f.Value) {
				t.Fatalf("event %d: %s = %v", i, f.Name, f.Value)
			}
		}
	}
}

func isFinite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
