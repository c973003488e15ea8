package drift_test

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/streamlearn/streamlearn/drift"
)

func featureWindows(drifted ...int) []drift.FeatureWindow {
	var out []drift.FeatureWindow
	for h, d := range drifted {
		w := drift.FeatureWindow{Model: "m", Start: t0.Add(time.Duration(h) * time.Hour), End: t0.Add(time.Duration(h+1) * time.Hour),
			Events: 5000, Compared: 5}
		for i := 0; i < d; i++ {
			w.Drifted = append(w.Drifted, string(rune('a'+i)))
		}
		out = append(out, w)
	}
	return out
}

func TestPolicyFeatureDrift(t *testing.T) {
	cfg := drift.DefaultTriggerConfig()
	cfg.Cooldown = 3 * time.Hour
	tests := []struct {
		name    string
		drifted []int // drifted features (of 5) per hourly window
		want    []int // hours whose window raises an alert
	}{
		{"stable", []int{0, 0, 0, 0, 0, 0}, nil},
		{"one window is not enough", []int{0, 3, 0, 3, 0, 3}, nil},
		{"below the share", []int{0, 0, 0, 0}, nil},
		{"two in a row", []int{0, 2, 2, 0}, []int{2}},
		{"persistent: cooldown, then again", []int{0, 1, 1, 1, 1, 1, 1, 1, 1}, []int{2, 6}},
	}
	for _, tt := range tests {
		p := drift.NewPolicy(cfg, false)
		var got []int
		for h, w := range featureWindows(tt.drifted...) {
			a, ok := p.FeatureWindow(w)
			if !ok {
				continue
			}
			got = append(got, h)
			if a.Kind != drift.AlertFeatureDrift || a.ID != "m:feature_drift:"+w.Start.Format("20060102T150405Z") ||
				!a.Time.Equal(w.End) || !a.To.Equal(w.End) || a.Value != float64(len(w.Drifted))/5 || a.Threshold != 0.2 {
				t.Errorf("%s: alert %+v", tt.name, a)
			}
		}
		if len(got) != len(tt.want) || (len(got) > 0 && got[0] != tt.want[0]) {
			t.Errorf("%s: alerts at hours %v, want %v", tt.name, got, tt.want)
		}
		for i := range min(len(got), len(tt.want)) {
			if got[i] != tt.want[i] {
				t.Errorf("%s: alerts at hours %v, want %v", tt.name, got, tt.want)
			}
		}
	}
}

func TestPolicyFeatureDriftNeedsSamplesAndContiguity(t *testing.T) {
	p := drift.NewPolicy(drift.DefaultTriggerConfig(), false)
	ws := featureWindows(0, 2, 2, 2, 2)
	ws[2].Events = 10 // too small: counts neither way
	if _, ok := p.FeatureWindow(ws[0]); ok {
		t.Fatal("alert on a stable window")
	}
	if _, ok := p.FeatureWindow(ws[1]); ok {
		t.Fatal("alert after one window")
	}
	if _, ok := p.FeatureWindow(ws[2]); ok {
		t.Fatal("alert on a window below min_events")
	}
	a, ok := p.FeatureWindow(ws[3])
	if !ok || !a.From.Equal(ws[1].Start) {
		t.Fatalf("alert %+v, %v; want one from hour 1 (a small window neither breaks nor extends the streak)", a, ok)
	}
	// A gap between windows breaks a streak.
	p = drift.NewPolicy(drift.DefaultTriggerConfig(), false)
	p.FeatureWindow(ws[1])
	if _, ok := p.FeatureWindow(ws[3]); ok {
		t.Error("windows 1 and 3 counted as consecutive")
	}
}

func perfWindow(h int, auc float64, adwin, ph bool) drift.PerformanceWindow {
	return drift.PerformanceWindow{Model: "m", Start: t0.Add(time.Duration(h) * time.Hour), End: t0.Add(time.Duration(h+1) * time.Hour),
		N: 4000, Positives: 1000, AUC: auc, RMSE: 0.4, ErrorRate: 0.2, Version: int64(h), ADWIN: adwin, PageHinkley: ph}
}

func TestPolicyPerformanceDrop(t *testing.T) {
	cfg := drift.DefaultTriggerConfig()
	cfg.Concept.Disabled = true
	p := drift.NewPolicy(cfg, false)
	aucs := []float64{0.80, 0.82, 0.81, 0.80, 0.82, 0.81, 0.79, 0.70, 0.69, 0.70, 0.70}
	var alerts []drift.Alert
	for h, auc := range aucs {
		if a, ok := p.PerformanceWindow(perfWindow(h, auc, false, false)); ok {
			alerts = append(alerts, a)
		}
	}
	if len(alerts) != 1 {
		t.Fatalf("alerts %+v, want one", alerts)
	}
	a := alerts[0]
	if a.Kind != drift.AlertPerformance || !a.From.Equal(t0.Add(7*time.Hour)) || !a.Time.Equal(t0.Add(9*time.Hour)) || a.Version != 8 {
		t.Errorf("alert %+v, want a performance alert raised by hours 7-8", a)
	}
	if a.Value != 0.69 || math.Abs(a.Threshold-(0.8083-0.05)) > 0.001 {
		t.Errorf("value %v threshold %v, want 0.69 and the mean of the last 6 windows (0.808) minus 0.05", a.Value, a.Threshold)
	}
	// The baseline starts again after the alert: the new level (0.70) is
	// not a drop.
	for h := 11; h < 20; h++ {
		if a, ok := p.PerformanceWindow(perfWindow(h, 0.70, false, false)); ok {
			t.Errorf("alert %+v on the new level", a)
		}
	}
}

func TestPolicyPerformanceNoiseIsNotADrop(t *testing.T) {
	cfg := drift.DefaultTriggerConfig()
	p := drift.NewPolicy(cfg, false)
	for h := 0; h < 6; h++ {
		p.PerformanceWindow(perfWindow(h, 0.80, false, false))
	}
	// 0.72 is 0.08 below, but from 40 examples its standard error is about
	// 0.08: no alert.
	for h := 6; h < 9; h++ {
		w := perfWindow(h, 0.72, false, false)
		w.N, w.Positives = 1000, 10
		if a, ok := p.PerformanceWindow(w); ok {
			t.Errorf("alert %+v from a noisy window", a)
		}
	}
}

func TestPolicyRegressionRMSE(t *testing.T) {
	p := drift.NewPolicy(drift.DefaultTriggerConfig(), true)
	var got []drift.Alert
	for h, rmse := range []float64{1, 1.1, 0.9, 1, 1, 1.5, 1.6} {
		w := perfWindow(h, math.NaN(), false, false)
		w.RMSE = rmse
		if a, ok := p.PerformanceWindow(w); ok {
			got = append(got, a)
		}
	}
	if len(got) != 1 || got[0].Kind != drift.AlertPerformance || got[0].Value != 1.6 {
		t.Errorf("alerts %+v, want one on RMSE 1.6", got)
	}
}

func TestPolicyConceptDetectors(t *testing.T) {
	for _, tt := range []struct {
		detector  string
		adwin, ph bool
		want      bool
	}{
		{drift.DetectorBoth, true, false, false},
		{drift.DetectorBoth, true, true, true},
		{drift.DetectorEither, false, true, true},
		{drift.DetectorADWIN, true, false, true},
		{drift.DetectorPageHinkley, true, false, false},
	} {
		cfg := drift.DefaultTriggerConfig()
		cfg.Concept.Detector = tt.detector
		p := drift.NewPolicy(cfg, false)
		p.PerformanceWindow(perfWindow(0, 0.8, false, false))
		a, ok := p.PerformanceWindow(perfWindow(1, 0.8, tt.adwin, tt.ph))
		if ok != tt.want || (ok && a.Kind != drift.AlertConceptDrift) {
			t.Errorf("%s adwin=%v ph=%v: alert %+v %v, want %v", tt.detector, tt.adwin, tt.ph, a, ok, tt.want)
		}
	}
}

func TestPolicyDisabled(t *testing.T) {
	cfg := drift.DefaultTriggerConfig()
	cfg.Disabled = true
	p := drift.NewPolicy(cfg, false)
	for _, w := range featureWindows(5, 5, 5, 5) {
		if _, ok := p.FeatureWindow(w); ok {
			t.Fatal("alert from a disabled policy")
		}
	}
	for h := 0; h < 4; h++ {
		if _, ok := p.PerformanceWindow(perfWindow(h, 0.5, true, true)); ok {
			t.Fatal("alert from a disabled policy")
		}
	}
}

func TestTriggerConfigValidate(t *testing.T) {
	if err := drift.DefaultTriggerConfig().Validate(); err != nil {
		t.Error(err)
	}
	bad := drift.TriggerConfig{Cooldown: -1, Concept: drift.ConceptDriftTrigger{Detector: "magic"}}
	bad.FeatureDrift.MinShare = 2
	err := bad.Validate()
	for _, want := range []string{"trigger.cooldown", "trigger.concept.detector", "trigger.feature_drift.min_share"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to name %s", err, want)
		}
	}
}
