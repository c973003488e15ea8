package telemetry

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ServedModel is what the freshness metrics need to know of a model version that serves.
type ServedModel struct {
	Model   string
	Version int64
	// CreatedAt is when the version was published, or the weight delta applied to it taken (zero:
	// not reported; version 0, the untrained model, is counted from LoadedAt); DataTo the event
	// time of the newest example it learned (zero: not reported).
	CreatedAt, LoadedAt, DataTo time.Time
}

// Freshness is a collector of the age of the models a process serves, read at each scrape:
//
//	streamlearn_model_version_age_seconds{model}  now - the serving version's publication
//	streamlearn_model_data_age_seconds{model}     now - the event time of the newest example it learned
//
// A model that keeps serving one version while examples arrive is stale (alert
// StreamlearnModelStale); one whose newest example is old was trained on old data.
type Freshness struct {
	served  func() []ServedModel
	now     func() time.Time
	version *prometheus.Desc
	data    *prometheus.Desc
}

var _ prometheus.Collector = (*Freshness)(nil)

// NewFreshness returns the collector of the models served returns (now: time.Now when nil).
func NewFreshness(served func() []ServedModel, now func() time.Time) *Freshness {
	if now == nil {
		now = time.Now
	}
	return &Freshness{
		served: served, now: now,
		version: prometheus.NewDesc("streamlearn_model_version_age_seconds",
			"Seconds since the version this process serves was published, by model (version 0, the untrained model: since it was loaded).", []string{"model"}, nil),
		data: prometheus.NewDesc("streamlearn_model_data_age_seconds",
			"Seconds since the event time of the newest example the serving version learned, by model (absent for version 0).", []string{"model"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (f *Freshness) Describe(ch chan<- *prometheus.Desc) {
	ch <- f.version
	ch <- f.data
}

// Collect implements prometheus.Collector.
func (f *Freshness) Collect(ch chan<- prometheus.Metric) {
	now := f.now()
	for _, s := range f.served() {
		born := s.CreatedAt
		if s.Version == 0 {
			born = s.LoadedAt
		}
		if !born.IsZero() {
			ch <- prometheus.MustNewConstMetric(f.version, prometheus.GaugeValue, max(0, now.Sub(born).Seconds()), s.Model)
		}
		if !s.DataTo.IsZero() {
			ch <- prometheus.MustNewConstMetric(f.data, prometheus.GaugeValue, max(0, now.Sub(s.DataTo).Seconds()), s.Model)
		}
	}
}
