package features_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/streamlearn/streamlearn/features"
	"github.com/streamlearn/streamlearn/wire"
)

// extremes are finite values that overflow, underflow or cancel in naive arithmetic.
var extremes = []float64{
	math.MaxFloat64, -math.MaxFloat64, 1e308, -1e308, 1e200, -1e200, 1e155, 1e-300, -1e-300,
	5e-324, -5e-324, 0, 1, -1, 90,
}

// everyAggregate is a config with every aggregate function and transform over the field amount and
// all numeric fields, and crosses.
func everyAggregate() features.Config {
	cfg := features.DefaultConfig()
	hour := []features.Window{features.Window(time.Hour)}
	std := []features.Transform{{Kind: features.TransformStandardize}}
	for _, fn := range []string{features.FuncSum, features.FuncMean, features.FuncMin, features.FuncMax,
		features.FuncStddev, features.FuncLast, features.FuncDistinct} {
		cfg.Aggregates = append(cfg.Aggregates,
			features.Aggregate{Function: fn, Field: "amount", Windows: hour, Transforms: std},
			features.Aggregate{Function: fn, Field: features.AllFields, Windows: hour})
	}
	cfg.Aggregates = append(cfg.Aggregates, features.Aggregate{Function: features.FuncSincePrev, Windows: hour})
	lo, hi := -1e6, 1e6
	cfg.Fields = []features.Field{
		{Name: "amount", Type: features.TypeNumeric, Transforms: std},
		{Name: "logged", Type: features.TypeNumeric, Transforms: []features.Transform{{Kind: features.TransformLog}, {Kind: features.TransformStandardize}}},
		{Name: "clipped", Type: features.TypeNumeric, Transforms: []features.Transform{{Kind: features.TransformClip, Min: &lo, Max: &hi}, {Kind: features.TransformStandardize}}},
	}
	cfg.Crosses = [][]string{{"amount", "other"}, {"amount_sum_1h", "other"}}
	return cfg
}

func fieldsOf(x float64) map[string]any {
	return map[string]any{"amount": x, "logged": x, "clipped": x, "other": x}
}

// engineStream applies events to one entity (or none) as a store would, batch by batch, folding the
// standardize observations into z after each batch, and checks that every vector, every statistic and
// every stored number stays finite.
type engineStream struct {
	t     *testing.T
	e     *features.Engine
	z     features.ZStats
	state []byte
	n     int
}

func (s *engineStream) apply(entity string, xs ...float64) []wire.Vector {
	s.t.Helper()
	var evs []wire.Event
	for _, x := range xs {
		s.n++
		evs = append(evs, wire.Event{ID: fmt.Sprint("e", s.n), Entity: entity, Time: time.UnixMilli(int64(s.n) * 1000), Fields: fieldsOf(x)})
	}
	obs := features.ZStats{}
	out := make([]wire.Vector, len(evs))
	if entity == "" {
		for i, ev := range evs {
			out[i] = s.e.Stateless(ev, s.z, obs)
		}
	} else {
		upd := s.e.ApplyEntity(s.state, evs, s.z, obs, out)
		if upd.Changed {
			s.state = upd.State
		}
	}
	for name, st := range obs {
		cur := s.z[name]
		cur.N, cur.Sum, cur.SumSq = cur.N+st.N, cur.Sum+st.Sum, cur.SumSq+st.SumSq
		s.z[name] = cur
	}
	s.check(out)
	return out
}

func (s *engineStream) check(out []wire.Vector) {
	s.t.Helper()
	for i, v := range out {
		for _, f := range v {
			if !isFinite(f.Value) {
				s.t.Fatalf("event %d of batch: %s = %v", i, f.Name, f.Value)
			}
		}
	}
	for name, st := range s.z {
		if !isFinite(st.N) || !isFinite(st.Sum) || !isFinite(st.SumSq) {
			s.t.Fatalf("standardize statistics of %s: %+v", name, st)
		}
	}
	if s.state == nil {
		return
	}
	nums, err := features.StateNumbers(s.e, s.state)
	if err != nil {
		s.t.Fatal(err)
	}
	for i, x := range nums {
		if !isFinite(x) {
			s.t.Fatalf("stored number %d is %v", i, x)
		}
	}
	snap, _ := s.e.Snapshot("u", s.state, time.Time{})
	for name, x := range snap.Values {
		if !isFinite(x) {
			s.t.Fatalf("aggregate %s = %v", name, x)
		}
	}
}

func isFinite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// TestFeatureStateStaysFinite applies extreme finite values, with and without an entity, and checks
// that vectors, standardize statistics, stored tiles and marks and served aggregates stay finite.
func TestFeatureStateStaysFinite(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	random := make([]float64, 200)
	for i := range random {
		random[i] = extremes[r.IntN(len(extremes))]
	}
	tests := []struct {
		name string
		xs   []float64
	}{
		{"1e200", []float64{1e200}},
		{"max twice", []float64{math.MaxFloat64, math.MaxFloat64}},
		{"-max twice", []float64{-math.MaxFloat64, -math.MaxFloat64}},
		{"both signs", []float64{1e308, -1e308, 1e308}},
		{"denormal", []float64{5e-324, -5e-324, 5e-324}},
		{"random extremes", random},
	}
	for _, tt := range tests {
		for _, entity := range []string{"u", ""} {
			t.Run(fmt.Sprintf("%s/entity=%q", tt.name, entity), func(t *testing.T) {
				e, err := features.NewEngine(everyAggregate(), features.EngineOptions{})
				if err != nil {
					t.Fatal(err)
				}
				s := &engineStream{t: t, e: e, z: features.ZStats{}}
				for i := range 20 {
					s.apply(entity, float64(i), float64(100-i))
				}
				s.apply(entity, tt.xs...) // one batch
				for _, x := range tt.xs { // one at a time
					s.apply(entity, x)
				}
				s.apply(entity, 1, 90)
			})
		}
	}
}

// TestStandardizeSurvivesOutlier checks that one extreme value does not switch a standardized field
// off: afterwards 1 and 90 still standardize to values far apart.
func TestStandardizeSurvivesOutlier(t *testing.T) {
	for _, outlier := range []float64{1e200, -1e308, math.MaxFloat64, 1e20} {
		t.Run(fmt.Sprint(outlier), func(t *testing.T) {
			e, err := features.NewEngine(everyAggregate(), features.EngineOptions{})
			if err != nil {
				t.Fatal(err)
			}
			s := &engineStream{t: t, e: e, z: features.ZStats{}}
			for i := range 100 {
				s.apply("", 1+float64(i%100))
			}
			s.apply("", outlier)
			s.apply("", 50)
			got := s.apply("", 1, 90)
			lo, hi := got[0].Map()["amount"], got[1].Map()["amount"]
			if !(hi-lo > 1) {
				t.Errorf("standardized amount of 1 = %v, of 90 = %v; want them more than 1 apart", lo, hi)
			}
		})
	}
}
