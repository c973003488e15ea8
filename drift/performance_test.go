package drift_test

import (
	"fmt"
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/streamlearn/streamlearn/drift"
	"github.com/streamlearn/streamlearn/wire"
)

// TestPerformanceRowsAgainstSklearn streams each labelled reference case
// through a Monitor and checks its row against scikit-learn: precision and
// recall at a threshold, MAE, RMSE, and the metrics the functions compute.
func TestPerformanceRowsAgainstSklearn(t *testing.T) {
	for _, c := range loadReference(t).Labelled {
		for thrStr, want := range c.AtThreshold {
			thr, _ := strconv.ParseFloat(thrStr, 64)
			cfg := drift.DefaultMonitorConfig()
			cfg.Threshold = thr
			m := drift.NewMonitor(cfg)
			s, y := floats(c.Scores), floats(c.Labels)
			for i := range s {
				m.AddOutcome(drift.Outcome{Model: "m", ID: fmt.Sprint(i), Version: 3, Time: t0.Add(time.Duration(i) * time.Millisecond), Score: s[i], Label: y[i]})
			}
			_, rows := m.Rows(t0)
			if len(rows) != 2 {
				t.Fatalf("%s: %d rows", c.Name, len(rows))
			}
			r := rows[1]
			name := c.Name + "@" + thrStr
			checkClose(t, name+" precision", r.Precision, float64(want.Precision), 1e-12)
			checkClose(t, name+" recall", r.Recall, float64(want.Recall), 1e-12)
			checkClose(t, name+" MAE", r.MAE, float64(c.MAE), 1e-12)
			checkClose(t, name+" RMSE", r.RMSE, float64(c.RMSE), 1e-12)
			checkClose(t, name+" AUC", r.AUC, float64(c.AUC), 1e-12)
			checkClose(t, name+" LogLoss", r.LogLoss, float64(c.LogLoss), 1e-12)
			checkClose(t, name+" Brier", r.Brier, float64(c.Brier), 1e-12)
		}
	}
}

func perfRows(rows []wire.PerformanceRow) map[string]wire.PerformanceRow {
	out := map[string]wire.PerformanceRow{}
	for _, r := range rows {
		out[fmt.Sprintf("%d/%s", r.Version, r.Segment)] = r
	}
	return out
}

// TestCoverageDelayAndSegments checks label coverage (examples over
// predictions of the version, of all versions, events of the segment),
// the mean label delay, and segment rows with missing and overflowing
// values.
func TestCoverageDelayAndSegments(t *testing.T) {
	cfg := drift.DefaultMonitorConfig()
	cfg.Segments = []string{"country", "new"}
	cfg.MaxSegmentValues = 2
	m := drift.NewMonitor(cfg)
	countries := []any{"DE", "FR", "US", nil} // US overflows the bound of 2, nil is missing
	for i := 0; i < 40; i++ {
		ts := t0.Add(time.Duration(i) * time.Minute)
		id := fmt.Sprint("e", i)
		fields := map[string]any{"amount": float64(i), "new": i%2 == 0}
		if c := countries[i%4]; c != nil {
			fields["country"] = c
		}
		m.AddEvent(drift.Event{Model: "m", ID: id, Time: ts, Fields: fields})
		version := int64(1 + i/20) // versions 1 and 2, 20 predictions each
		m.AddPrediction(drift.Prediction{Model: "m", ID: id, Version: version, Time: ts, Score: 0.5})
		if i%4 == 3 {
			continue // no label for a quarter: the missing-country events
		}
		seg := drift.SegmentValue(fields["country"])
		o := drift.Outcome{Model: "m", ID: id, Version: version, Time: ts, OutcomeTime: ts.Add(time.Duration(i%3) * time.Minute),
			Score: float64(i%10) / 10, Label: float64(i % 2), Segments: []string{seg, drift.SegmentValue(fields["new"])}}
		if i == 0 {
			o.Implicit = true // counts in the metrics, not in coverage or delay
		}
		m.AddOutcome(o)
	}
	_, rows := m.Rows(t0)
	got := perfRows(rows)
	tests := []struct {
		key      string
		n        int64
		coverage float64
	}{
		{"1/", 15, 14.0 / 20},
		{"2/", 15, 15.0 / 20},
		{"-1/", 30, 29.0 / 40},
		{"-1/country=DE", 10, 9.0 / 10},
		{"-1/country=FR", 10, 10.0 / 10},
		{"-1/country=__other__", 10, 10.0 / 10},
		{"-1/new=1", 20, 19.0 / 20},
		{"-1/new=0", 10, 10.0 / 20},
	}
	for _, tt := range tests {
		r, ok := got[tt.key]
		if !ok {
			t.Errorf("no row %s in %v", tt.key, rows)
			continue
		}
		if r.N != tt.n || math.Abs(r.LabelCoverage-tt.coverage) > 1e-12 {
			t.Errorf("%s: N %d coverage %v, want %d and %v", tt.key, r.N, r.LabelCoverage, tt.n, tt.coverage)
		}
	}
	if len(got) != len(tests) {
		t.Errorf("%d rows, want %d: %v", len(got), len(tests), got)
	}
	// Delays of the 29 observed labels: i%3 minutes for i not ≡ 3 (mod 4), i > 0.
	var sum float64
	var n int
	for i := 1; i < 40; i++ {
		if i%4 != 3 {
			sum += float64(i%3) * 60
			n++
		}
	}
	if r := got["-1/"]; math.Abs(r.MeanDelaySeconds-sum/float64(n)) > 1e-9 {
		t.Errorf("mean delay %v, want %v", r.MeanDelaySeconds, sum/float64(n))
	}
}

func TestRegressionRows(t *testing.T) {
	cfg := drift.DefaultMonitorConfig()
	cfg.Regression = true
	m := drift.NewMonitor(cfg)
	preds, labels := []float64{1, 2, 3, 4}, []float64{1.5, 2, 5, 3}
	for i := range preds {
		m.AddOutcome(drift.Outcome{Model: "m", ID: fmt.Sprint(i), Version: 1, Time: t0, Score: preds[i], Label: labels[i]})
	}
	_, rows := m.Rows(t0)
	r := perfRows(rows)["1/"]
	checkClose(t, "MAE", r.MAE, (0.5+0+2+1)/4.0, 1e-12)
	checkClose(t, "RMSE", r.RMSE, math.Sqrt((0.25+0+4+1)/4), 1e-12)
	for name, v := range map[string]float64{"AUC": r.AUC, "LogLoss": r.LogLoss, "Precision": r.Precision, "ECE": r.ECE} {
		if !math.IsNaN(v) {
			t.Errorf("regression %s = %v, want NaN", name, v)
		}
	}
	if r.N != 4 || r.Positives != 0 || m.Stats().BadOutcomes != 0 {
		t.Errorf("row %+v, stats %+v", r, m.Stats())
	}
}

// TestFeatureAlertMovesTheReference: after a feature-drift alert the
// windows after it are the new reference, so a drift that persists stops
// counting as drift.
func TestFeatureAlertMovesTheReference(t *testing.T) {
	cfg := drift.DefaultMonitorConfig()
	cfg.Trigger.FeatureDrift.MinEvents = 100
	m := drift.NewMonitor(cfg)
	for i := 0; i < 10*600; i++ {
		ts := t0.Add(time.Duration(i) * 6 * time.Second)
		x := float64(i % 100)
		if ts.Sub(t0) >= 3*time.Hour {
			x += 70
		}
		m.AddEvent(drift.Event{Model: "m", ID: fmt.Sprint(i), Time: ts, Fields: map[string]any{"x": x}})
	}
	fr, _ := m.Rows(t0)
	alerts := m.Alerts()
	if len(alerts) != 1 || alerts[0].ID != "m:feature_drift:"+t0.Add(4*time.Hour).Format("20060102T150405Z") {
		t.Fatalf("alerts %+v, want one raised by hours 3-4", alerts)
	}
	for _, r := range fr {
		h := int(r.WindowStart.Sub(t0).Hours())
		switch {
		case h <= 4 && !r.ReferenceStart.Equal(t0):
			t.Errorf("hour %d: reference %v, want the first hour", h, r.ReferenceStart)
		case h >= 5 && !r.ReferenceStart.Equal(t0.Add(5*time.Hour)):
			t.Errorf("hour %d: reference %v, want hour 5, the first after the alert", h, r.ReferenceStart)
		case h >= 5 && r.Drifted:
			t.Errorf("hour %d drifted against the new reference (PSI %v)", h, r.PSI)
		}
	}
}

func TestRestoreRejectsMismatch(t *testing.T) {
	a := drift.NewMonitor(drift.DefaultMonitorConfig())
	a.AddEvent(drift.Event{Model: "m", Time: t0, Fields: map[string]any{"x": 1.0}})
	snap, err := a.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Restore(snap); err == nil {
		t.Error("restored into a monitor with data")
	}
	other := drift.DefaultMonitorConfig()
	other.Window = time.Minute
	if err := drift.NewMonitor(other).Restore(snap); err == nil {
		t.Error("restored a snapshot of other windows")
	}
	if err := drift.NewMonitor(drift.DefaultMonitorConfig()).Restore([]byte("junk")); err == nil {
		t.Error("restored junk")
	}
	if err := drift.NewMonitor(drift.DefaultMonitorConfig()).Restore(snap); err != nil {
		t.Errorf("restore: %v", err)
	}
}
