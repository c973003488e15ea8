package telemetry_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	goredis "github.com/redis/go-redis/v9"

	"github.com/streamlearn/streamlearn/internal/telemetry"
	"github.com/streamlearn/streamlearn/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// series returns the metrics of one family by their label values joined with ",".
func series(t *testing.T, reg prometheus.Gatherer, name string) map[string]*dto.Metric {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*dto.Metric{}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			var vals []string
			for _, l := range m.GetLabel() {
				vals = append(vals, l.GetValue())
			}
			out[strings.Join(vals, ",")] = m
		}
	}
	return out
}

// TestRedisHook runs commands, a pipeline and a transaction on a real Redis through a client with
// the hook: each is timed under its op, and only real errors are counted (a miss is not).
func TestRedisHook(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	rdb := goredis.NewClient(&goredis.Options{Addr: testenv.Redis(t)})
	defer rdb.Close()
	rdb.AddHook(telemetry.NewRedisHook(reg))
	ctx := context.Background()
	key := fmt.Sprintf("t:telemetry:%d:", time.Now().UnixNano())

	if err := rdb.Set(ctx, key+"s", "x", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := rdb.Get(ctx, key+"missing").Err(); !errors.Is(err, goredis.Nil) {
			t.Fatalf("GET of a missing key: %v", err)
		}
	}
	if err := rdb.Incr(ctx, key+"s").Err(); err == nil {
		t.Fatal("INCR of a string that is no number succeeded")
	}
	if _, err := rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		p.HSet(ctx, key+"h", "a", 1)
		p.Expire(ctx, key+"h", time.Minute)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := rdb.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		p.Incr(ctx, key+"n")
		p.Expire(ctx, key+"n", time.Minute)
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	counts := map[string]uint64{}
	for op, m := range series(t, reg, "streamlearn_redis_command_duration_seconds") {
		counts[op] = m.GetHistogram().GetSampleCount()
	}
	for op, want := range map[string]uint64{"set": 1, "get": 2, "incr": 1, "pipeline:hset": 1, "multi:incr": 1} {
		if counts[op] != want {
			t.Errorf("command_duration_seconds{op=%q} count = %d, want %d (all: %v)", op, counts[op], want, counts)
		}
	}
	errs := map[string]float64{}
	for op, m := range series(t, reg, "streamlearn_redis_errors_total") {
		errs[op] = m.GetCounter().GetValue()
	}
	if errs["incr"] != 1 || errs["get"] != 0 || errs["set"] != 0 || errs["pipeline:hset"] != 0 || errs["multi:incr"] != 0 {
		t.Errorf("errors_total = %v, want 1 for incr only (a miss is no error)", errs)
	}
}

// TestRedisHookBoundsOps: past 64 distinct operations, the rest are counted as "other".
func TestRedisHookBoundsOps(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	h := telemetry.NewRedisHook(reg)
	process := h.ProcessHook(func(context.Context, goredis.Cmder) error { return nil })
	for i := range 100 {
		if err := process(context.Background(), goredis.NewCmd(context.Background(), fmt.Sprintf("cmd%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	got := series(t, reg, "streamlearn_redis_command_duration_seconds")
	if len(got) != 65 || got["other"].GetHistogram().GetSampleCount() != 36 {
		t.Errorf("%d series, other counted %d; want 64 named + other with 36", len(got), got["other"].GetHistogram().GetSampleCount())
	}
}

func TestStageTimer(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := telemetry.NewMetrics(reg)
	timer := m.StageTimer("score", "decode", "features")
	timer("features", 3*time.Millisecond)
	timer("features", 5*time.Millisecond)
	timer("other", time.Second)
	got := series(t, reg, "streamlearn_stage_duration_seconds")
	var keys []string
	for k := range got {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if strings.Join(keys, " ") != "score,decode score,features score,other" {
		t.Fatalf("series %v", keys)
	}
	if h := got["score,decode"].GetHistogram(); h.GetSampleCount() != 0 {
		t.Errorf("decode: %d samples, want 0 (exported before any batch)", h.GetSampleCount())
	}
	if h := got["score,features"].GetHistogram(); h.GetSampleCount() != 2 || h.GetSampleSum() < 0.0079 || h.GetSampleSum() > 0.0081 {
		t.Errorf("features: %d samples summing to %v, want 2 summing to 0.008", h.GetSampleCount(), h.GetSampleSum())
	}
}

func TestFreshness(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	served := []telemetry.ServedModel{
		{Model: "a", Version: 7, CreatedAt: now.Add(-90 * time.Second), LoadedAt: now.Add(-10 * time.Second), DataTo: now.Add(-5 * time.Minute)},
		{Model: "b", Version: 0, LoadedAt: now.Add(-time.Hour)},                // untrained: age since loaded, no data age
		{Model: "c", Version: 3, LoadedAt: now.Add(-time.Second)},              // metadata not read: nothing reported
		{Model: "d", Version: 2, CreatedAt: now.Add(time.Second), DataTo: now}, // clock skew: never negative
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(telemetry.NewFreshness(func() []telemetry.ServedModel { return served }, func() time.Time { return now }))
	gauges := func(name string) map[string]float64 {
		out := map[string]float64{}
		for k, m := range series(t, reg, name) {
			out[k] = m.GetGauge().GetValue()
		}
		return out
	}
	if got, want := fmt.Sprint(gauges("streamlearn_model_version_age_seconds")), fmt.Sprint(map[string]float64{"a": 90, "b": 3600, "d": 0}); got != want {
		t.Errorf("version age %s, want %s", got, want)
	}
	if got, want := fmt.Sprint(gauges("streamlearn_model_data_age_seconds")), fmt.Sprint(map[string]float64{"a": 300, "d": 0}); got != want {
		t.Errorf("data age %s, want %s", got, want)
	}
}
