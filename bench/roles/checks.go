package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
)

// topicHas reports done when topic's partitions end at n records in all.
func (s *stack) topicHas(topic string, n int) func(context.Context) (bool, error) {
	return func(ctx context.Context) (bool, error) {
		ends, err := s.adm.ListEndOffsets(ctx, topic)
		if err != nil {
			return false, nil // the broker is busy; ask again
		}
		var sum int64
		ends.Each(func(o kadm.ListedOffset) { sum += o.Offset })
		return sum >= int64(n), nil
	}
}

// metricReaches reports done when the role process's counter name sums to n on its /metrics.
func (s *stack) metricReaches(name string, n int) func(context.Context) (bool, error) {
	return func(ctx context.Context) (bool, error) {
		sum, lines, err := s.metricSum(name, "")
		return err == nil && lines > 0 && sum >= float64(n), err
	}
}

// metricSum sums the samples of metric name whose labels contain label, on the role process's
// /metrics, and counts them. An unreachable endpoint is no samples.
func (s *stack) metricSum(name, label string) (float64, int, error) {
	resp, err := http.Get("http://" + s.ops + "/metrics")
	if err != nil {
		return 0, 0, nil
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, 0, nil
	}
	var sum float64
	var lines int
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, name+" ") && !strings.HasPrefix(line, name+"{") || !strings.Contains(line, label) {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			return 0, 0, fmt.Errorf("metric line %q: %w", line, err)
		}
		sum += v
		lines++
	}
	return sum, lines, nil
}

// correlated reports done when ClickHouse holds n distinct predictions and n distinct outcomes and
// the correlator's consumer group has no lag on any of its four topics (events and examples feed
// the drift tables after the rows are in).
func (s *stack) correlated(n int) func(context.Context) (bool, error) {
	rows := s.rowsReach(n)
	return func(ctx context.Context) (bool, error) {
		if ok, err := rows(ctx); !ok || err != nil {
			return ok, err
		}
		lag, partitions, err := s.metricSum("streamlearn_kafka_consumer_lag", `group="streamlearn-correlator"`)
		return err == nil && partitions >= 4*4 && lag == 0, err
	}
}

// rowsReach reports done when ClickHouse holds n distinct predictions and n distinct outcomes.
func (s *stack) rowsReach(n int) func(context.Context) (bool, error) {
	return func(ctx context.Context) (bool, error) {
		var preds, outs uint64
		err := s.chc.QueryRow(ctx, fmt.Sprintf("SELECT (SELECT uniqExact(id) FROM %s.predictions), (SELECT uniqExact(id) FROM %s.outcomes)", s.db, s.db)).Scan(&preds, &outs)
		if err != nil {
			return false, nil // the tables may not exist yet
		}
		return preds >= uint64(n) && outs >= uint64(n), nil
	}
}

// memory is the Redis memory of one run's keys after the score phase.
type memory struct {
	entities, joins                     int
	featureBytes, joinBytes, otherBytes int64
}

func (m memory) perEntity() float64 { return float64(m.featureBytes) / float64(max(1, m.entities)) }
func (m memory) perJoin() float64   { return float64(m.joinBytes) / float64(max(1, m.joins)) }

// redisMemory sums MEMORY USAGE (SAMPLES 0: every element) over the run's keys: feature state
// (<prefix>f{entity}), pending joins (<prefix>join:…) and the rest.
func (s *stack) redisMemory(ctx context.Context) (memory, error) {
	var m memory
	iter := s.rdb.Scan(ctx, 0, s.prefix+"*", 10000).Iterator()
	for iter.Next(ctx) {
		key := iter.Val()
		b, err := s.rdb.MemoryUsage(ctx, key, 0).Result()
		if err != nil {
			return m, fmt.Errorf("MEMORY USAGE %s: %w", key, err)
		}
		rest := strings.TrimPrefix(key, s.prefix)
		switch {
		case strings.HasPrefix(rest, "f{"):
			m.entities++
			m.featureBytes += b
		case strings.HasPrefix(rest, "join:"):
			m.joins++
			m.joinBytes += b
		default:
			m.otherBytes += b
		}
	}
	return m, iter.Err()
}

type tableSize struct {
	table                     string
	rows, bytes, uncompressed uint64
}

// clickhouseSizes merges every table's parts (OPTIMIZE FINAL, as background merges eventually
// would) and reads their rows and bytes on disk from system.parts.
func (s *stack) clickhouseSizes(ctx context.Context) ([]tableSize, error) {
	tables := []string{"predictions", "outcomes", "feature_drift", "model_performance", "drift_alerts", "retrain_events", "model_versions"}
	var out []tableSize
	for _, t := range tables {
		if err := s.chc.Exec(ctx, fmt.Sprintf("OPTIMIZE TABLE %s.%s FINAL", s.db, t)); err != nil {
			return nil, fmt.Errorf("optimize %s: %w", t, err)
		}
		ts := tableSize{table: t}
		if err := s.chc.QueryRow(ctx, "SELECT sum(rows), sum(bytes_on_disk), sum(data_uncompressed_bytes) FROM system.parts WHERE database = ? AND table = ? AND active",
			s.db, t).Scan(&ts.rows, &ts.bytes, &ts.uncompressed); err != nil {
			return nil, fmt.Errorf("system.parts %s: %w", t, err)
		}
		out = append(out, ts)
	}
	return out, nil
}
