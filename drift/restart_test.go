package drift_test

import (
	"fmt"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/streamlearn/streamlearn/drift"
)

// collected holds the latest row per key and every alert, as ClickHouse's
// ReplacingMergeTree tables would.
type collected struct {
	features map[string]drift.FeatureDriftRow
	perf     map[string]drift.PerformanceRow
	alerts   []drift.Alert
}

func newCollected() *collected {
	return &collected{features: map[string]drift.FeatureDriftRow{}, perf: map[string]drift.PerformanceRow{}}
}

func (c *collected) take(m *drift.Monitor) {
	fr, pr := m.Rows(time.Time{})
	for _, r := range fr {
		c.features[featureKey(r)] = r
	}
	for _, r := range pr {
		c.perf[fmt.Sprintf("%s/%d/%s/%s", r.Model, r.Version, r.Segment, r.WindowStart.Format(time.RFC3339))] = r
	}
	c.alerts = append(c.alerts, m.Alerts()...)
}

func restartConfig() drift.MonitorConfig {
	cfg := drift.DefaultMonitorConfig()
	cfg.Segments = []string{"country"}
	cfg.SampleSize = 256 // samples smaller than windows: the sample must not depend on arrival order
	cfg.Trigger.FeatureDrift.MinEvents = 500
	cfg.Trigger.Performance.MinExamples = 500
	return cfg
}

// TestRestartRebuildsOpenWindows cuts a run in the middle of open windows,
// snapshots the Monitor, and resumes in a new one from the ResumePoints
// offsets, with partitions interleaved differently from an uninterrupted
// run: every row and alert must match that run's.
func TestRestartRebuildsOpenWindows(t *testing.T) {
	spec := streamSpec{seed: 3, hours: 30, perHour: 1500, delay: 20 * time.Minute,
		covariate: scale(1.5, step(12)), concept: step(20)}
	all := partitioned(spec.generate(), 4)
	cfg := restartConfig()

	want := newCollected()
	a := drift.NewMonitor(cfg)
	for i, o := range interleave(all, 1, 10*time.Minute) {
		feed(a, &o)
		if i%5000 == 0 {
			want.take(a)
		}
	}
	a.Flush()
	want.take(a)
	if len(want.alerts) < 2 {
		t.Fatalf("uninterrupted run raised %d alerts, want feature and outcome alerts to compare: %+v", len(want.alerts), want.alerts)
	}

	for _, cut := range []int{len(all) / 3, len(all)/2 + 777, 2 * len(all) / 3} {
		got := newCollected()
		first := drift.NewMonitor(cfg)
		rp := drift.NewResumePoints(cfg.Window)
		order := interleave(all, 2, 10*time.Minute)
		for i, o := range order[:cut] {
			feed(first, &o)
			rp.Seen(drift.Partition{Topic: fmt.Sprint(o.stream), Partition: o.part}, o.stream, o.offset, o.eventTime())
			if i%5000 == 0 {
				got.take(first)
			}
		}
		got.take(first)
		snap, err := first.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		resume := rp.Resume(first.Oldest())
		committed := rp.Next()

		second := drift.NewMonitor(cfg)
		if err := second.Restore(snap); err != nil {
			t.Fatal(err)
		}
		var replayed int
		for _, o := range interleave(all, 3, 10*time.Minute) {
			p := drift.Partition{Topic: fmt.Sprint(o.stream), Partition: o.part}
			if start, ok := resume[p]; ok && o.offset < start {
				continue
			}
			if o.offset < committed[p] {
				replayed++
			}
			feed(second, &o)
		}
		second.Flush()
		got.take(second)
		t.Logf("cut at %d of %d: %d observations replayed, %d alerts", cut, len(all), replayed, len(got.alerts))
		if replayed == 0 {
			t.Errorf("cut at %d: nothing replayed; the cut is not inside open windows", cut)
		}
		compareCollected(t, fmt.Sprintf("cut %d", cut), got, want)
	}
}

func compareCollected(t *testing.T, name string, got, want *collected) {
	t.Helper()
	if len(got.features) != len(want.features) || len(got.perf) != len(want.perf) {
		t.Errorf("%s: %d feature and %d performance rows, want %d and %d", name, len(got.features), len(got.perf), len(want.features), len(want.perf))
	}
	bad := 0
	for k, w := range want.features {
		g, ok := got.features[k]
		if !ok || !rowsClose(g, w) {
			if bad++; bad <= 5 {
				t.Errorf("%s: feature row %s\n got  %+v\n want %+v", name, k, g, w)
			}
		}
	}
	for k, w := range want.perf {
		g, ok := got.perf[k]
		if !ok || !rowsClose(g, w) {
			if bad++; bad <= 10 {
				t.Errorf("%s: performance row %s\n got  %+v\n want %+v", name, k, g, w)
			}
		}
	}
	if !reflect.DeepEqual(got.alerts, want.alerts) {
		t.Errorf("%s: alerts\n got  %+v\n want %+v", name, got.alerts, want.alerts)
	}
}

// rowsClose compares two rows field by field: equal, both NaN, or floats
// within 1e-9 relative (sums in another order round differently).
func rowsClose(a, b any) bool {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	for i := 0; i < va.NumField(); i++ {
		fa, fb := va.Field(i), vb.Field(i)
		if fa.Kind() == reflect.Float64 {
			x, y := fa.Float(), fb.Float()
			if !(x == y || (math.IsNaN(x) && math.IsNaN(y)) || math.Abs(x-y) <= 1e-9*math.Max(math.Abs(x), math.Abs(y))) {
				return false
			}
			continue
		}
		if !reflect.DeepEqual(fa.Interface(), fb.Interface()) {
			return false
		}
	}
	return true
}
