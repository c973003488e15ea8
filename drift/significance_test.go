package drift_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/streamlearn/streamlearn/drift"
	"github.com/streamlearn/streamlearn/wire"
)

// stationary drives a Monitor with perWindow events in each of windows+1
// hourly windows (the first is the reference). From hour shiftAt on (when
// it is positive), "amount" moves by shift standard deviations and
// "coupon" is present in couponAfter tenths of the events instead of 3;
// nothing else changes. Events carry ids, so samples are taken by hash.
type stationary struct {
	seed               uint64
	perWindow, windows int
	shiftAt            int
	shift              float64
	couponAfter        int
}

type stationaryResult struct {
	rows    []wire.FeatureDriftRow // final rows of compared windows
	flagged map[time.Time][]string // drifted features per window
	alerts  []drift.Alert
}

func (s stationary) run(t *testing.T, cfg drift.MonitorConfig) stationaryResult {
	t.Helper()
	m := drift.NewMonitor(cfg)
	rng := rand.New(rand.NewPCG(s.seed, 13))
	step := time.Hour / time.Duration(s.perWindow)
	cats := []string{"DE", "FR", "US", "GB", "IN", "IT", "ES", "NL"}
	for h := 0; h <= s.windows; h++ {
		for i := 0; i < s.perWindow; i++ {
			amount, coupon := rng.NormFloat64(), 3
			if s.shiftAt > 0 && h >= s.shiftAt {
				amount += s.shift
				coupon = s.couponAfter
			}
			fields := map[string]any{
				"amount":  amount,
				"age":     18 + rng.IntN(60),
				"country": cats[min(rng.IntN(12), len(cats)-1)],
				"mobile":  rng.IntN(3) == 0,
			}
			if rng.IntN(10) < coupon {
				fields["coupon"] = rng.ExpFloat64()
			}
			ts := t0.Add(time.Duration(h)*time.Hour + time.Duration(i)*step)
			m.AddEvent(drift.Event{Model: "m", ID: fmt.Sprintf("%d-%d-%d", s.seed, h, i), Time: ts, Fields: fields})
		}
	}
	// Close every window through the watermark, so the trigger judges them.
	m.AddEvent(drift.Event{Model: "m", ID: "end", Time: t0.Add(time.Duration(s.windows+3) * time.Hour), Fields: map[string]any{}})
	res := stationaryResult{flagged: map[time.Time][]string{}, alerts: m.Alerts()}
	fr, _ := m.Rows(t0)
	for _, r := range fr {
		if !r.ReferenceStart.Before(r.WindowStart) || r.WindowStart.After(t0.Add(time.Duration(s.windows)*time.Hour)) {
			continue
		}
		res.rows = append(res.rows, r)
		if r.Drifted {
			res.flagged[r.WindowStart] = append(res.flagged[r.WindowStart], fmt.Sprintf("%s (PSI %.3f, chi2 p %.2g, missing %.2f)", r.Feature, r.PSI, r.Chi2PValue, r.MissingRate))
		}
	}
	return res
}

// eagerTrigger alerts on the first window in which any feature drifted,
// whatever its size: only the drift rule stands between noise and an alert.
func eagerTrigger(cfg drift.MonitorConfig) drift.MonitorConfig {
	cfg.Trigger.FeatureDrift.MinEvents = 1
	cfg.Trigger.FeatureDrift.MinShare = 0.01
	cfg.Trigger.FeatureDrift.Consecutive = 1
	return cfg
}

func TestStationarySmallWindowsNeverDrift(t *testing.T) {
	tests := []struct {
		name      string
		perWindow int
		cfg       func(drift.MonitorConfig) drift.MonitorConfig
	}{
		{"60 events, defaults", 60, func(c drift.MonitorConfig) drift.MonitorConfig { return c }},
		{"60 events, eager trigger", 60, eagerTrigger},
		{"200 events, eager trigger", 200, eagerTrigger},
		{"60 events, min 1, eager trigger", 60, func(c drift.MonitorConfig) drift.MonitorConfig {
			c.MinWindowValues = 1 // only the significance bound is left
			return eagerTrigger(c)
		}},
	}
	for _, tt := range tests {
		for seed := uint64(1); seed <= 5; seed++ {
			t.Run(fmt.Sprintf("%s/seed %d", tt.name, seed), func(t *testing.T) {
				res := stationary{seed: seed, perWindow: tt.perWindow, windows: 48}.run(t, tt.cfg(drift.DefaultMonitorConfig()))
				if len(res.rows) == 0 {
					t.Fatal("no compared rows")
				}
				if got := len(res.flagged); got != 0 {
					t.Errorf("%d of 48 stationary windows flagged, want 0: %v", got, res.flagged)
				}
				if got := len(res.alerts); got != 0 {
					t.Errorf("%d alerts on a stationary stream, want 0: %+v", got, res.alerts[0])
				}
			})
		}
	}
}

func TestShiftFlagsOnlyWithEnoughValues(t *testing.T) {
	tests := []struct {
		name        string
		perWindow   int
		shift       float64
		couponAfter int
		want        string // drifted features in the two windows after the shift
	}{
		{"1000 events, amount 1 sd", 1000, 1, 3, "[amount]"},
		{"500 events, amount 0.6 sd", 500, 0.6, 3, "[amount]"},
		{"3000 events, amount 0.5 sd", 3000, 0.5, 3, "[amount]"},
		{"2000 events, coupon missing 70% to 40%", 2000, 0, 6, "[coupon]"},
		{"2000 events, both", 2000, 1, 6, "[amount coupon]"},
		{"60 events, amount 2 sd: too few values", 60, 2, 3, "[]"},
		{"150 events, coupon missing 70% to 40%: too few values", 150, 0, 6, "[]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := drift.DefaultMonitorConfig()
			cfg.Trigger.FeatureDrift.MinEvents = 1
			res := stationary{seed: 3, perWindow: tt.perWindow, windows: 6, shiftAt: 3, shift: tt.shift, couponAfter: tt.couponAfter}.run(t, cfg)
			for h := 1; h <= 6; h++ {
				ws := t0.Add(time.Duration(h) * time.Hour)
				var got []string
				for _, r := range res.rows {
					if r.WindowStart.Equal(ws) && r.Drifted {
						got = append(got, r.Feature)
					}
				}
				want := "[]"
				if h >= 3 && h < 5 { // the alert after two windows makes hour 5 on the reference
					want = tt.want
				}
				if fmt.Sprint(got) != want {
					t.Errorf("hour %d: drifted %v, want %s", h, got, want)
				}
			}
			wantAlerts := 1
			if tt.want == "[]" {
				wantAlerts = 0
			}
			if len(res.alerts) != wantAlerts {
				t.Fatalf("alerts %+v, want %d", res.alerts, wantAlerts)
			}
			if wantAlerts == 1 && (res.alerts[0].Kind != drift.AlertFeatureDrift || fmt.Sprint(res.alerts[0].Features) != tt.want) {
				t.Errorf("alert %+v, want a feature-drift alert on %s", res.alerts[0], tt.want)
			}
		})
	}
}

// TestStationaryFalsePositiveRate counts the windows of 1000 events of a
// stationary stream that get any drifted flag, over 200 windows.
func TestStationaryFalsePositiveRate(t *testing.T) {
	if testing.Short() {
		t.Skip("200 windows of 1000 events")
	}
	cfg := drift.DefaultMonitorConfig()
	cfg.Trigger.Disabled = true // keep the one reference
	res := stationary{seed: 42, perWindow: 1000, windows: 200}.run(t, cfg)
	if got, want := len(res.rows), 200*5; got != want {
		t.Fatalf("%d compared rows, want %d", got, want)
	}
	t.Logf("stationary, 1000 events/window: %d of 200 windows flagged, %d of %d rows", len(res.flagged), countFlags(res), len(res.rows))
	// Bonferroni bounds the chance of a flagged window by Alpha (0.001).
	if got := len(res.flagged); got > 1 {
		t.Errorf("%d of 200 stationary windows flagged, want at most 1: %v", got, res.flagged)
	}
}

func countFlags(res stationaryResult) int {
	n := 0
	for _, f := range res.flagged {
		n += len(f)
	}
	return n
}

func TestSignificanceConfig(t *testing.T) {
	tests := []struct {
		name      string
		cfg       drift.MonitorConfig
		wantErr   bool
		wantMin   int64
		wantAlpha float64
	}{
		{"zero means default", drift.MonitorConfig{}, false, 200, 0.001},
		{"set", drift.MonitorConfig{MinWindowValues: 100, Alpha: 0.05}, false, 100, 0.05},
		{"alpha 1", drift.MonitorConfig{Alpha: 1}, false, 200, 1},
		{"negative min", drift.MonitorConfig{MinWindowValues: -1}, true, 200, 0.001},
		{"negative alpha", drift.MonitorConfig{Alpha: -0.1}, true, 200, 0.001},
		{"alpha above 1", drift.MonitorConfig{Alpha: 1.5}, true, 200, 0.001},
		{"alpha NaN", drift.MonitorConfig{Alpha: math.NaN()}, true, 200, 0.001},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.cfg.Validate(); (err != nil) != tt.wantErr {
				t.Errorf("Validate() = %v, want error %v", err, tt.wantErr)
			}
			got := drift.NewMonitor(tt.cfg).Config()
			if got.MinWindowValues != tt.wantMin || got.Alpha != tt.wantAlpha {
				t.Errorf("in effect: MinWindowValues %d Alpha %v, want %d and %v", got.MinWindowValues, got.Alpha, tt.wantMin, tt.wantAlpha)
			}
		})
	}
}

// TestChiSquareMissingRateTables checks the 2×2 tables of present and
// missing counts that the missing-rate test uses against
// scipy.stats.chi2_contingency(t, correction=False) (scipy 1.10.1).
func TestChiSquareMissingRateTables(t *testing.T) {
	tests := []struct {
		ref, cur     []float64
		stat, pvalue float64
	}{
		{[]float64{700, 300}, []float64{400, 600}, 181.8181818181818, 1.9428901015464146e-41},
		{[]float64{1000, 0}, []float64{950, 50}, 51.282051282051285, 8.000378447994628e-13},
		{[]float64{450, 50}, []float64{470, 30}, 5.434782608695652, 0.019739547569938176},
		{[]float64{1800, 200}, []float64{1700, 300}, 22.857142857142858, 1.7449962508738087e-06},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.ref, tt.cur), func(t *testing.T) {
			stat, p := drift.ChiSquare(tt.ref, tt.cur)
			checkClose(t, "stat", stat, tt.stat, 1e-10)
			if math.Abs(p-tt.pvalue) > 1e-8*tt.pvalue { // relative: the p-values are tiny
				t.Errorf("p-value = %.17g, want %.17g", p, tt.pvalue)
			}
		})
	}
}
