package drift_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/streamlearn/streamlearn/drift"
	"github.com/streamlearn/streamlearn/eval"
	"github.com/streamlearn/streamlearn/wire"
)

var t0 = time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)

type outcome struct{ score, label float64 }

// scenario drives a Monitor with a synthetic stream: eventsPerHour events a
// hour for hours hours, in event-time order with a little jitter. From
// shiftHour on, "amount" moves by one standard deviation and the scores of
// version 1 move up; nothing else changes.
type scenario struct {
	hours, eventsPerHour, shiftHour int
	seed                            uint64
	rowsEvery                       int // call Rows after this many events
}

type result struct {
	features map[string]wire.FeatureDriftRow // latest row per key
	perf     map[string]wire.PerformanceRow
	outcomes map[time.Time][]outcome // per window start, version 1
	calls    [][]string              // every Rows call, formatted without Updated
	stats    drift.MonitorStats
}

func featureKey(r wire.FeatureDriftRow) string {
	return fmt.Sprintf("%s/%s/%s", r.Model, r.Feature, r.WindowStart.Format(time.RFC3339))
}

func (sc scenario) run(t *testing.T, cfg drift.MonitorConfig) result {
	t.Helper()
	m := drift.NewMonitor(cfg)
	rng := rand.New(rand.NewPCG(sc.seed, 1))
	res := result{
		features: map[string]wire.FeatureDriftRow{},
		perf:     map[string]wire.PerformanceRow{},
		outcomes: map[time.Time][]outcome{},
	}
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	collect := func() {
		now = now.Add(time.Second)
		fr, pr := m.Rows(now)
		var call []string
		for _, r := range fr {
			if !r.Updated.Equal(now) {
				t.Fatalf("row Updated = %v, want %v", r.Updated, now)
			}
			res.features[featureKey(r)] = r
			r.Updated = time.Time{}
			call = append(call, fmt.Sprintf("%+v", r))
		}
		for _, r := range pr {
			res.perf[fmt.Sprintf("%s/%d/%s%s", r.Model, r.Version, r.Segment, r.WindowStart.Format(time.RFC3339))] = r
			r.Updated = time.Time{}
			call = append(call, fmt.Sprintf("%+v", r))
		}
		res.calls = append(res.calls, call)
	}
	countries := []string{"DE", "FR", "US", "IT", "ES"}
	step := time.Hour / time.Duration(sc.eventsPerHour)
	for i := 0; i < sc.hours*sc.eventsPerHour; i++ {
		hour := i / sc.eventsPerHour
		// Jitter of ±step keeps events slightly out of order within the hours.
		ts := t0.Add(time.Duration(i)*step - step + time.Duration(rng.Int64N(int64(2*step))))
		if ts.Before(t0) {
			ts = t0
		}
		amount := rng.NormFloat64()
		score := 1 / (1 + math.Exp(-rng.NormFloat64()))
		if hour >= sc.shiftHour {
			amount++
			score = 1 / (1 + math.Exp(-(rng.NormFloat64() + 1.5)))
		}
		fields := map[string]any{
			"amount":  amount,
			"age":     18 + rng.IntN(60),
			"country": countries[min(rng.IntN(8), 4)],
			"new":     rng.IntN(3) == 0,
		}
		if rng.IntN(20) == 0 {
			delete(fields, "age") // 5% missing at every hour
		}
		m.ObserveEvent("fraud", ts, fields)
		m.ObservePrediction("fraud", 1, ts, score)
		label := 0.0
		if rng.Float64() < score {
			label = 1
		}
		m.ObserveOutcome("fraud", 1, ts, score, label)
		ws := ts.Truncate(time.Hour)
		res.outcomes[ws] = append(res.outcomes[ws], outcome{score, label})
		if sc.rowsEvery > 0 && (i+1)%sc.rowsEvery == 0 {
			collect()
		}
	}
	m.Flush()
	collect()
	res.stats = m.Stats()
	return res
}

func TestMonitorCovariateShift(t *testing.T) {
	sc := scenario{hours: 8, eventsPerHour: 3000, shiftHour: 4, seed: 7, rowsEvery: 1000}
	cfg := drift.DefaultMonitorConfig()
	cfg.Trigger.Disabled = true // an alert would make the drifted hours the new reference
	res := sc.run(t, cfg)
	features := []string{"age", "amount", "country", "new", drift.ScoreFeature}
	for h := 0; h < sc.hours; h++ {
		ws := t0.Add(time.Duration(h) * time.Hour)
		for _, f := range features {
			r, ok := res.features[fmt.Sprintf("fraud/%s/%s", f, ws.Format(time.RFC3339))]
			if !ok {
				t.Errorf("hour %d %s: no row", h, f)
				continue
			}
			shifted := h >= sc.shiftHour && (f == "amount" || f == drift.ScoreFeature)
			if r.Drifted != shifted {
				t.Errorf("hour %d %s: Drifted = %v (PSI %.3f), want %v", h, f, r.Drifted, r.PSI, shifted)
			}
			if !r.ReferenceStart.Equal(t0) || !r.WindowEnd.Equal(ws.Add(time.Hour)) {
				t.Errorf("hour %d %s: reference %v end %v", h, f, r.ReferenceStart, r.WindowEnd)
			}
			if r.N < int64(sc.eventsPerHour)-5 || r.N > int64(sc.eventsPerHour)+5 {
				t.Errorf("hour %d %s: N = %d", h, f, r.N)
			}
			if h == 0 && (r.PSI != 0 || r.Drifted) {
				t.Errorf("reference %s: PSI %v Drifted %v, want 0 and false", f, r.PSI, r.Drifted)
			}
			if shifted && (r.KSPValue > 1e-6 || r.Wasserstein < 0.5) {
				t.Errorf("hour %d %s: KS p %g Wasserstein %g, want a clear shift", h, f, r.KSPValue, r.Wasserstein)
			}
			wantKind := map[string]string{"age": drift.KindNumeric, "amount": drift.KindNumeric,
				"country": drift.KindCategorical, "new": drift.KindCategorical, drift.ScoreFeature: drift.KindScore}[f]
			if r.Kind != wantKind {
				t.Errorf("%s: Kind = %q, want %q", f, r.Kind, wantKind)
			}
			if f == "age" && (r.MissingRate < 0.02 || r.MissingRate > 0.09) {
				t.Errorf("hour %d age: MissingRate = %v, want about 0.05", h, r.MissingRate)
			}
			checkHistogram(t, r, shifted)
		}
	}
	if len(res.features) != sc.hours*len(features) {
		t.Errorf("%d feature rows, want %d", len(res.features), sc.hours*len(features))
	}
	if res.stats != (drift.MonitorStats{}) {
		t.Errorf("stats = %+v, want zero", res.stats)
	}
}

func TestMonitorPerformanceMatchesFunctions(t *testing.T) {
	sc := scenario{hours: 4, eventsPerHour: 2000, shiftHour: 2, seed: 11, rowsEvery: 777}
	res := sc.run(t, drift.DefaultMonitorConfig())
	if len(res.perf) != 2*sc.hours {
		t.Fatalf("%d performance rows, want %d (version 1 and all versions)", len(res.perf), 2*sc.hours)
	}
	for ws, os := range res.outcomes {
		r, ok := res.perf["fraud/1/"+ws.Format(time.RFC3339)]
		if !ok {
			t.Fatalf("no performance row for %v", ws)
		}
		all := res.perf["fraud/-1/"+ws.Format(time.RFC3339)]
		all.Version, all.Updated, r.Updated = r.Version, time.Time{}, time.Time{}
		if fmt.Sprint(all) != fmt.Sprint(r) {
			t.Errorf("%v: all versions %+v, want the one version's %+v", ws, all, r)
		}
		scores, labels := make([]float64, len(os)), make([]float64, len(os))
		var pos int64
		for i, o := range os {
			scores[i], labels[i] = o.score, o.label
			pos += int64(o.label)
		}
		if r.N != int64(len(os)) || r.Positives != pos {
			t.Errorf("%v: N %d positives %d, want %d and %d", ws, r.N, r.Positives, len(os), pos)
		}
		if want := eval.AUC(scores, labels); r.AUC != want {
			t.Errorf("%v: AUC = %.17g, want exactly %.17g", ws, r.AUC, want)
		}
		checkClose(t, "LogLoss", r.LogLoss, eval.LogLoss(scores, labels), 1e-12)
		checkClose(t, "Brier", r.Brier, eval.Brier(scores, labels), 1e-12)
		ece, _ := drift.ECE(scores, labels, 10)
		checkClose(t, "ECE", r.ECE, ece, 1e-12)
	}
}

func TestMonitorAUCHistogramBeyondExactBound(t *testing.T) {
	cfg := drift.DefaultMonitorConfig()
	cfg.MaxExactOutcomes = 1000
	m := drift.NewMonitor(cfg)
	rng := rand.New(rand.NewPCG(3, 3))
	var scores, labels []float64
	for i := 0; i < 20000; i++ {
		s := rng.Float64()
		y := 0.0
		if rng.Float64() < s {
			y = 1
		}
		scores, labels = append(scores, s), append(labels, y)
		m.ObserveOutcome("m", 2, t0.Add(time.Duration(i)*time.Millisecond), s, y)
	}
	_, pr := m.Rows(t0)
	if len(pr) != 2 || pr[0].Version != drift.AllVersions || pr[1].Version != 2 {
		t.Fatalf("rows %+v, want all versions and version 2", pr)
	}
	if want := eval.AUC(scores, labels); math.Abs(pr[0].AUC-want) > 1e-4 {
		t.Errorf("histogram AUC = %v, exact %v", pr[0].AUC, want)
	}
}

func TestMonitorReplayIsDeterministic(t *testing.T) {
	sc := scenario{hours: 5, eventsPerHour: 5000, shiftHour: 3, seed: 5, rowsEvery: 2500}
	cfg := drift.DefaultMonitorConfig()
	cfg.SampleSize = 512 // force reservoir replacement
	a := sc.run(t, cfg)
	b := sc.run(t, cfg)
	if len(a.calls) != len(b.calls) {
		t.Fatalf("%d vs %d Rows calls", len(a.calls), len(b.calls))
	}
	for i := range a.calls {
		if fmt.Sprint(a.calls[i]) != fmt.Sprint(b.calls[i]) {
			t.Fatalf("Rows call %d differs:\n%v\n%v", i, a.calls[i], b.calls[i])
		}
	}
}

func TestMonitorReferenceNotScoredUntilClosed(t *testing.T) {
	cfg := drift.DefaultMonitorConfig()
	m := drift.NewMonitor(cfg)
	obs := func(ts time.Time, x float64) { m.ObserveEvent("m", ts, map[string]any{"x": x}) }
	for i := 0; i < 100; i++ {
		obs(t0.Add(time.Duration(i)*time.Second), float64(i))
		obs(t0.Add(time.Hour+time.Duration(i)*time.Second), float64(i+50))
	}
	fr, _ := m.Rows(t0)
	if len(fr) != 1 || !fr[0].WindowStart.Equal(t0) || fr[0].PSI != 0 {
		t.Fatalf("rows before the reference closed = %+v, want only the reference", fr)
	}
	if fr, _ := m.Rows(t0); len(fr) != 0 {
		t.Fatalf("unchanged windows re-emitted: %+v", fr)
	}
	// Event time passes the end of hour 1 + lateness: the reference closes.
	obs(t0.Add(2*time.Hour), 1)
	fr, _ = m.Rows(t0)
	var sawHour1 bool
	for _, r := range fr {
		if r.WindowStart.Equal(t0.Add(time.Hour)) {
			sawHour1 = true
			if math.IsNaN(r.PSI) || r.PSI <= 0 {
				t.Errorf("hour 1 PSI = %v, want > 0", r.PSI)
			}
		}
	}
	if !sawHour1 {
		t.Errorf("hour 1 not scored after the reference closed: %+v", fr)
	}
	// A late event for the closed reference window is dropped.
	obs(t0.Add(time.Minute), 3)
	if got := m.Stats().Late; got != 1 {
		t.Errorf("Late = %d, want 1", got)
	}
}

func TestMonitorBadInputsNeverPanic(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	values := []any{nil, nan, inf, -inf, 0.0, -1e308, 1e308, "", "x", true, false, int64(5), uint64(7),
		float32(2), []int{1}, map[string]any{"a": 1}, struct{}{}, 3}
	times := []time.Time{{}, t0, t0.Add(-100 * 365 * 24 * time.Hour), t0.Add(200 * 365 * 24 * time.Hour),
		time.Unix(0, math.MaxInt64), time.Unix(0, math.MinInt64), t0.Add(3 * time.Hour), t0.Add(-time.Hour)}
	cfgs := []drift.MonitorConfig{{}, drift.DefaultMonitorConfig(),
		{Window: -1, Bins: -3, MaxCategories: -1, SampleSize: -1, AllowedLateness: -time.Hour, ECEBins: -2, MaxFeatures: 1, MaxTrackedCategories: 1, MaxExactOutcomes: 1}}
	for ci, cfg := range cfgs {
		m := drift.NewMonitor(cfg)
		rng := rand.New(rand.NewPCG(uint64(ci), 9))
		for i := 0; i < 5000; i++ {
			ts := times[rng.IntN(len(times))].Add(time.Duration(rng.IntN(1000)) * time.Second)
			fields := map[string]any{}
			for j := rng.IntN(4); j > 0; j-- {
				fields[fmt.Sprint("f", rng.IntN(5))] = values[rng.IntN(len(values))]
			}
			if rng.IntN(10) == 0 {
				fields = nil
			}
			m.ObserveEvent(fmt.Sprint("m", rng.IntN(2)), ts, fields)
			m.ObservePrediction("m0", rng.Int64N(3), ts, []float64{nan, inf, 0.3, -2, 5}[rng.IntN(5)])
			m.ObserveOutcome("m0", rng.Int64N(3), ts, []float64{nan, inf, 0.3, 0, 1, -2}[rng.IntN(6)], []float64{nan, 0, 1, 0.5, 2}[rng.IntN(5)])
			if rng.IntN(100) == 0 {
				m.Rows(ts)
			}
			if rng.IntN(1000) == 0 {
				m.Flush()
			}
		}
		m.Flush()
		m.Rows(t0)
	}
}

func TestMonitorConfigValidate(t *testing.T) {
	if err := drift.DefaultMonitorConfig().Validate(); err != nil {
		t.Errorf("default config: %v", err)
	}
	if err := (drift.MonitorConfig{}).Validate(); err != nil {
		t.Errorf("zero config: %v", err)
	}
	if err := (drift.MonitorConfig{Bins: -1, Window: -time.Second}).Validate(); err == nil {
		t.Error("negative fields accepted")
	}
	got := drift.NewMonitor(drift.MonitorConfig{}).Config()
	if want := drift.DefaultMonitorConfig(); !reflect.DeepEqual(got, want) {
		t.Errorf("defaults = %+v, want %+v", got, want)
	}
}

// checkHistogram checks a row's binned distributions: one share per bin on each side, each side
// summing to 1, categorical bins ending with __other__, and a total variation distance between
// the two sides that is large exactly when the window shifted.
func checkHistogram(t *testing.T, r wire.FeatureDriftRow, shifted bool) {
	t.Helper()
	if len(r.Bins) == 0 || len(r.ReferenceShares) != len(r.Bins) || len(r.WindowShares) != len(r.Bins) {
		t.Errorf("%s %v: %d bins, %d reference and %d window shares", r.Feature, r.WindowStart, len(r.Bins), len(r.ReferenceShares), len(r.WindowShares))
		return
	}
	var refSum, winSum, tv float64
	for i := range r.Bins {
		refSum += r.ReferenceShares[i]
		winSum += r.WindowShares[i]
		tv += math.Abs(r.ReferenceShares[i]-r.WindowShares[i]) / 2
	}
	if math.Abs(refSum-1) > 1e-9 || math.Abs(winSum-1) > 1e-9 {
		t.Errorf("%s %v: shares sum to %v and %v, want 1", r.Feature, r.WindowStart, refSum, winSum)
	}
	if r.Kind == drift.KindCategorical && r.Bins[len(r.Bins)-1] != drift.OtherCategory {
		t.Errorf("%s: last bin %q, want %q", r.Feature, r.Bins[len(r.Bins)-1], drift.OtherCategory)
	}
	if shifted != (tv > 0.2) {
		t.Errorf("%s %v: total variation %.3f between the histograms, shifted %v", r.Feature, r.WindowStart, tv, shifted)
	}
}
