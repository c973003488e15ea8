package drift_test

import (
	"fmt"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/streamlearn/streamlearn/drift"
	"github.com/streamlearn/streamlearn/wire"
)

// collected holds the latest row per key and every alert, as ClickHouse's
// ReplacingMergeTree tables would.
type collected struct {
	features map[string]wire.FeatureDriftRow
	perf     map[string]wire.PerformanceRow
	alerts   []drift.Alert
}

func newCollected() *collected {
	return &collected{features: map[string]wire.FeatureDriftRow{}, perf: map[string]wire.PerformanceRow{}}
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

// clockConfig is restartConfig with windows closed by a Clock's watermarks.
func clockConfig() drift.MonitorConfig {
	cfg := restartConfig()
	cfg.ExternalWatermarks = true
	return cfg
}

// driver feeds observations to a Monitor as the correlator does: a Clock
// that knows which partitions have records left sets the watermarks after
// every batch, and ResumePoints tracks where a restart must resume.
type driver struct {
	m     *drift.Monitor
	clock *drift.Clock
	rp    *drift.ResumePoints
	left  map[drift.Partition]int
	n     int
}

func obsPartition(o *obs) drift.Partition {
	return drift.Partition{Topic: fmt.Sprint(o.stream), Partition: o.part}
}

// newDriver returns a driver that will read order.
func newDriver(m *drift.Monitor, window time.Duration, order []obs) *driver {
	d := &driver{m: m, clock: drift.NewClock(0), rp: drift.NewResumePoints(window), left: map[drift.Partition]int{}}
	for i := range order {
		d.left[obsPartition(&order[i])]++
	}
	for i := range order {
		d.clock.Lagging(obsPartition(&order[i]), order[i].stream, true)
	}
	return d
}

func (d *driver) feed(o *obs) {
	p := obsPartition(o)
	feed(d.m, o)
	d.clock.Seen(p, o.stream, o.eventTime())
	d.rp.Seen(p, o.stream, o.offset, o.eventTime())
	if d.left[p]--; d.left[p] == 0 {
		d.clock.Lagging(p, o.stream, false)
	}
	if d.n++; d.n%200 == 0 { // a poll
		d.advance()
	}
}

func (d *driver) advance() {
	for _, s := range []drift.Stream{drift.StreamEvents, drift.StreamPredictions, drift.StreamOutcomes} {
		if w, ok := d.clock.Watermark(s); ok {
			d.m.Advance(s, w)
		}
	}
}

// TestRestartRebuildsOpenWindows cuts a run in the middle of open windows,
// snapshots the Monitor, and resumes in a new one from the ResumePoints
// offsets. Partitions are read far apart (up to 3 hours of event time, more
// than the lateness) and interleaved differently in every run: every row
// and alert must match those of an uninterrupted run that read partitions
// almost in step.
func TestRestartRebuildsOpenWindows(t *testing.T) {
	spec := streamSpec{seed: 3, hours: 30, perHour: 1500, delay: 20 * time.Minute,
		covariate: scale(1.5, step(12)), concept: step(20)}
	all := partitioned(spec.generate(), 4)
	cfg := restartConfig()

	want := newCollected()
	a := drift.NewMonitor(cfg)
	for i, o := range interleave(all, 1, time.Minute) {
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
	if st := a.Stats(); st.Late != 0 {
		t.Fatalf("uninterrupted run dropped %d late observations", st.Late)
	}

	for _, cut := range []int{len(all) / 3, len(all)/2 + 777, 2 * len(all) / 3} {
		got := newCollected()
		first := drift.NewMonitor(clockConfig())
		order := interleave(all, 2, 3*time.Hour)
		d := newDriver(first, cfg.Window, order)
		for i, o := range order[:cut] {
			d.feed(&o)
			if i%5000 == 0 {
				got.take(first)
			}
		}
		d.advance()
		got.take(first)
		snap, err := first.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		resume := d.rp.Resume(first.Oldest())
		committed := d.rp.Next()

		second := drift.NewMonitor(clockConfig())
		if err := second.Restore(snap); err != nil {
			t.Fatal(err)
		}
		var rest []obs
		var replayed int
		for _, o := range interleave(all, 3, 3*time.Hour) {
			p := obsPartition(&o)
			if start, ok := resume[p]; ok && o.offset < start {
				continue
			}
			if o.offset < committed[p] {
				replayed++
			}
			rest = append(rest, o)
		}
		d = newDriver(second, cfg.Window, rest)
		for i := range rest {
			d.feed(&rest[i])
		}
		d.advance()
		second.Flush()
		got.take(second)
		t.Logf("cut at %d of %d: %d observations replayed, %d alerts", cut, len(all), replayed, len(got.alerts))
		if n := first.Stats().Late; n != 0 {
			t.Errorf("cut at %d: first run dropped %d observations as late", cut, n)
		}
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

// TestClockHoldsForLaggingPartitions: a partition with records left holds its stream's watermark
// at its largest event time, a caught-up one holds only for the idle time after its last records,
// and the watermark never goes back.
func TestClockHoldsForLaggingPartitions(t *testing.T) {
	wall := time.Unix(1e9, 0)
	c := drift.NewClock(10 * time.Second)
	c.Now = func() time.Time { return wall }
	a, b := drift.Partition{Topic: "events", Partition: 0}, drift.Partition{Topic: "events", Partition: 1}
	c.Lagging(a, drift.StreamEvents, true)
	c.Lagging(b, drift.StreamEvents, true)
	c.Seen(a, drift.StreamEvents, t0.Add(3*time.Hour))
	if _, ok := c.Watermark(drift.StreamEvents); ok {
		t.Fatal("a watermark before the lagging partition 1 was read")
	}
	c.Seen(b, drift.StreamEvents, t0.Add(time.Hour))
	if w, _ := c.Watermark(drift.StreamEvents); !w.Equal(t0.Add(time.Hour)) {
		t.Errorf("watermark %v, want partition 1's %v", w, t0.Add(time.Hour))
	}
	c.Lagging(b, drift.StreamEvents, false) // caught up a moment ago: its next records may be on their way
	wall = wall.Add(9 * time.Second)
	if w, _ := c.Watermark(drift.StreamEvents); !w.Equal(t0.Add(time.Hour)) {
		t.Errorf("watermark %v within the idle time, want partition 1's %v", w, t0.Add(time.Hour))
	}
	wall = wall.Add(time.Second) // idle now
	if w, _ := c.Watermark(drift.StreamEvents); !w.Equal(t0.Add(3 * time.Hour)) {
		t.Errorf("watermark %v, want partition 0's %v", w, t0.Add(3*time.Hour))
	}
	c.Lagging(b, drift.StreamEvents, true) // more records, older ones
	if w, _ := c.Watermark(drift.StreamEvents); !w.Equal(t0.Add(3 * time.Hour)) {
		t.Errorf("watermark went back to %v", w)
	}
	if _, ok := c.Watermark(drift.StreamPredictions); ok {
		t.Error("a watermark for a stream without partitions")
	}
}

// TestClockHoldsForAPartitionThatWasEmpty: a partition assigned with nothing to read holds the
// stream back for the idle time, so records that reach it a moment later are not late.
func TestClockHoldsForAPartitionThatWasEmpty(t *testing.T) {
	wall := time.Unix(1e9, 0)
	c := drift.NewClock(10 * time.Second)
	c.Now = func() time.Time { return wall }
	a, b := drift.Partition{Topic: "events", Partition: 0}, drift.Partition{Topic: "events", Partition: 1}
	c.Lagging(b, drift.StreamEvents, false)
	c.Lagging(a, drift.StreamEvents, true)
	c.Seen(a, drift.StreamEvents, t0.Add(3*time.Hour))
	if w, ok := c.Watermark(drift.StreamEvents); ok {
		t.Fatalf("watermark %v while partition 1, empty a moment ago, may still get records", w)
	}
	wall = wall.Add(11 * time.Second)
	if w, _ := c.Watermark(drift.StreamEvents); !w.Equal(t0.Add(3 * time.Hour)) {
		t.Errorf("watermark %v, want partition 0's %v once partition 1 is idle", w, t0.Add(3*time.Hour))
	}
}
