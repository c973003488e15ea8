package console

import (
	"math"
	"net/http"
	"sort"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// The metrics the overview reads from the registry.
const (
	metricEvents      = "streamlearn_events_total"
	metricPredictions = "streamlearn_predictions_total"
	metricInvalid     = "streamlearn_invalid_records_total"
	metricLag         = "streamlearn_kafka_consumer_lag"
	metricBuffered    = "streamlearn_clickhouse_buffered_rows"
	metricMaxBuffered = "streamlearn_clickhouse_max_buffered_rows"
	metricPublished   = "streamlearn_model_published_timestamp_seconds"
	metricVersion     = "streamlearn_model_version"
)

// sample is one reading of the registry: counters as totals, gauges as values.
type sample struct {
	t           time.Time
	events      float64
	predictions float64
	dead        map[string]float64 // by reason, summed over topics
	lag         float64
	lagByGroup  map[string]float64
	buffered    float64
	maxBuffered float64
	published   map[string]float64 // unix seconds, by model
	version     map[string]float64
}

func (c *Console) sample() {
	mfs, err := c.opts.Gatherer.Gather()
	if err != nil && len(mfs) == 0 {
		c.opts.Logger.Warn("console: gather metrics", "err", err)
		return
	}
	s := sample{t: c.opts.Now(), dead: map[string]float64{}, lagByGroup: map[string]float64{}, published: map[string]float64{}, version: map[string]float64{}}
	for _, mf := range mfs {
		for _, m := range mf.Metric {
			v := value(m)
			switch mf.GetName() {
			case metricEvents:
				s.events += v
			case metricPredictions:
				s.predictions += v
			case metricInvalid:
				s.dead[label(m, "reason")] += v
			case metricLag:
				s.lag += v
				s.lagByGroup[label(m, "group")] += v
			case metricBuffered:
				s.buffered += v
			case metricMaxBuffered:
				s.maxBuffered += v
			case metricPublished:
				s.published[label(m, "model")] = v
			case metricVersion:
				s.version[label(m, "model")] = v
			}
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.samples = append(c.samples, s)
	if n := len(c.samples) - c.opts.Samples; n > 0 {
		c.samples = append(c.samples[:0], c.samples[n:]...)
	}
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Untyped != nil:
		return m.Untyped.GetValue()
	}
	return 0
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.Label {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// Overview is the answer of GET /v1/console/overview: series over the kept samples, oldest first,
// one point per sample. Rates are per second between a sample and the one before it (the first
// point of a rate is null).
type Overview struct {
	Time               []int64          `json:"time"` // unix seconds
	EventsPerSec       []num            `json:"events_per_s"`
	PredictionsPerSec  []num            `json:"predictions_per_s"`
	DeadLettersPerSec  map[string][]num `json:"dead_letters_per_s"` // by reason
	ConsumerLag        []num            `json:"consumer_lag"`
	ClickHouseBuffered []num            `json:"clickhouse_buffered"`
	// Latest readings.
	EventsTotal        float64            `json:"events_total"`
	PredictionsTotal   float64            `json:"predictions_total"`
	DeadLettersTotal   map[string]float64 `json:"dead_letters_total"`
	LagByGroup         map[string]float64 `json:"consumer_lag_by_group"`
	ClickHouseMaxRows  float64            `json:"clickhouse_max_buffered"`
	ModelAgeSeconds    map[string]num     `json:"model_age_s"` // since the latest version this process published
	ServingVersion     map[string]int64   `json:"serving_version"`
	SampleIntervalSecs float64            `json:"sample_interval_s"`
}

func (c *Console) overview(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	ss := append([]sample(nil), c.samples...)
	c.mu.Unlock()
	if len(ss) == 0 {
		c.sample()
		c.mu.Lock()
		ss = append([]sample(nil), c.samples...)
		c.mu.Unlock()
	}
	writeJSON(w, http.StatusOK, c.buildOverview(ss))
}

func (c *Console) buildOverview(ss []sample) Overview {
	o := Overview{
		Time: make([]int64, len(ss)), EventsPerSec: make([]num, len(ss)), PredictionsPerSec: make([]num, len(ss)),
		DeadLettersPerSec: map[string][]num{}, ConsumerLag: make([]num, len(ss)), ClickHouseBuffered: make([]num, len(ss)),
		DeadLettersTotal: map[string]float64{}, LagByGroup: map[string]float64{}, ModelAgeSeconds: map[string]num{},
		ServingVersion: map[string]int64{}, SampleIntervalSecs: c.opts.SampleInterval.Seconds(),
	}
	reasons := map[string]bool{}
	for _, s := range ss {
		for r := range s.dead {
			reasons[r] = true
		}
	}
	names := make([]string, 0, len(reasons))
	for r := range reasons {
		names = append(names, r)
	}
	sort.Strings(names)
	for _, r := range names {
		o.DeadLettersPerSec[r] = make([]num, len(ss))
	}
	nan := num(math.NaN())
	for i, s := range ss {
		o.Time[i] = s.t.Unix()
		o.ConsumerLag[i], o.ClickHouseBuffered[i] = num(s.lag), num(s.buffered)
		if i == 0 {
			o.EventsPerSec[i], o.PredictionsPerSec[i] = nan, nan
			for _, r := range names {
				o.DeadLettersPerSec[r][i] = nan
			}
			continue
		}
		p := ss[i-1]
		dt := s.t.Sub(p.t).Seconds()
		o.EventsPerSec[i] = rate(s.events, p.events, dt)
		o.PredictionsPerSec[i] = rate(s.predictions, p.predictions, dt)
		for _, r := range names {
			o.DeadLettersPerSec[r][i] = rate(s.dead[r], p.dead[r], dt)
		}
	}
	if len(ss) > 0 {
		last := ss[len(ss)-1]
		o.EventsTotal, o.PredictionsTotal, o.ClickHouseMaxRows = last.events, last.predictions, last.maxBuffered
		o.DeadLettersTotal, o.LagByGroup = last.dead, last.lagByGroup
		for m, ts := range last.published {
			o.ModelAgeSeconds[m] = num(last.t.Sub(time.Unix(0, int64(ts*1e9))).Seconds())
		}
		for m, v := range last.version {
			o.ServingVersion[m] = int64(v)
		}
	}
	return o
}

// rate is the per-second increase of a counter; a reset (a restart of the process's counters)
// reads as the new total.
func rate(cur, prev, dt float64) num {
	if dt <= 0 {
		return num(math.NaN())
	}
	d := cur - prev
	if d < 0 {
		d = cur
	}
	return num(d / dt)
}
