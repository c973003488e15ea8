package kafkaclient

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// LagCollector exports the lag of this process's consumer groups as
// streamlearn_kafka_consumer_lag{group,topic,partition}: the partition's end offset minus the
// group's committed offset (the whole partition before the first commit). It asks the brokers at
// each scrape (kadm's Lag, bounded by Timeout), so replicas of a role report the same figures; a
// scrape that cannot reach Kafka exports no lag and counts streamlearn_kafka_lag_errors_total.
type LagCollector struct {
	adm     *kadm.Client
	logger  *slog.Logger
	timeout time.Duration

	mu     sync.Mutex
	groups []string

	lag    *prometheus.Desc
	errors prometheus.Counter
}

var _ prometheus.Collector = (*LagCollector)(nil)

// NewLagCollector returns a collector that asks Kafka through cl (any client; it is not closed).
func NewLagCollector(cl *kgo.Client, logger *slog.Logger) *LagCollector {
	if logger == nil {
		logger = slog.Default()
	}
	return &LagCollector{
		adm: kadm.NewClient(cl), logger: logger, timeout: 2 * time.Second,
		lag: prometheus.NewDesc("streamlearn_kafka_consumer_lag",
			"Records not yet committed by the consumer group: end offset minus committed offset, by group, topic and partition.",
			[]string{"group", "topic", "partition"}, nil),
		errors: prometheus.NewCounter(prometheus.CounterOpts{Name: "streamlearn_kafka_lag_errors_total",
			Help: "Scrapes whose consumer lag could not be read from Kafka."}),
	}
}

// Watch adds a consumer group to those reported (again: no effect).
func (c *LagCollector) Watch(group string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, g := range c.groups {
		if g == group {
			return
		}
	}
	c.groups = append(c.groups, group)
}

// Describe implements prometheus.Collector.
func (c *LagCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.lag
	c.errors.Describe(ch)
}

// Collect implements prometheus.Collector.
func (c *LagCollector) Collect(ch chan<- prometheus.Metric) {
	defer c.errors.Collect(ch)
	c.mu.Lock()
	groups := append([]string(nil), c.groups...)
	c.mu.Unlock()
	if len(groups) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	lags, err := c.adm.Lag(ctx, groups...)
	if err != nil {
		c.errors.Inc()
		c.logger.Debug("consumer lag", "err", err)
		return
	}
	for _, gl := range lags.Sorted() {
		if err := gl.Error(); err != nil {
			c.errors.Inc()
			c.logger.Debug("consumer lag", "group", gl.Group, "err", err)
			continue
		}
		for _, ml := range gl.Lag.Sorted() {
			if ml.Err != nil || ml.Lag < 0 {
				continue
			}
			ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, float64(ml.Lag), gl.Group, ml.Topic, strconv.Itoa(int(ml.Partition)))
		}
	}
}
