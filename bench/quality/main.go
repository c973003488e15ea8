// Command quality checks that learning at full speed through the whole loop keeps the quality of
// learning one example at a time: for each data set of learner/testdata it takes the progressive
// AUC of a trainer fed the rows one by one in file order (paced), then runs streamlearn with the
// default config (raw fields as features, no aggregates, since every row is its own entity) on an
// embedded broker, publishes the rows as events and then their labels as outcomes, each as fast as
// it goes, and reads the learner's progressive AUC once every example is learned (full speed).
//
//	go run ./bench/quality -redis 127.0.0.1:6399 -clickhouse 127.0.0.1:9900 -sets pima,thresholds
package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamlearn/streamlearn/eval"
	"github.com/streamlearn/streamlearn/features"
	"github.com/streamlearn/streamlearn/internal/app"
	"github.com/streamlearn/streamlearn/internal/config"
	"github.com/streamlearn/streamlearn/internal/kafkaclient"
	"github.com/streamlearn/streamlearn/internal/telemetry"
	"github.com/streamlearn/streamlearn/learner"
	"github.com/streamlearn/streamlearn/wire"
)

func main() {
	redis := flag.String("redis", "127.0.0.1:6399", "Redis address")
	ch := flag.String("clickhouse", "127.0.0.1:9900", "ClickHouse native address")
	sets := flag.String("sets", "pima,ionosphere,breast_cancer,house_votes,sonar,checkerboard,thresholds", "data sets of learner/testdata")
	family := flag.String("family", "", "model family (default: the config's default, auto)")
	partitions := flag.Int("partitions", 0, "partitions of the topics (default: the config's, 4)")
	flag.Parse()
	fmt.Printf("%-14s %6s %8s %10s %10s %8s\n", "set", "rows", "family", "paced", "full speed", "diff")
	for _, name := range strings.Split(*sets, ",") {
		rows, err := load(filepath.Join("learner", "testdata", name+".csv"))
		if err != nil {
			log.Fatal(err)
		}
		cfg := configFor(*redis, *ch, *family, name, len(rows))
		if *partitions > 0 {
			cfg.Kafka.Partitions = int32(*partitions)
		}
		paced, err := pacedAUC(cfg.Model, rows)
		if err != nil {
			log.Fatal(err)
		}
		full, err := fullSpeedAUC(cfg, rows)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%-14s %6d %8s %10.4f %10.4f %+8.4f\n", name, len(rows), cfg.Model.Family, paced, full, full-paced)
	}
}

// row is one line of a data set: its label and its fields (numbers, or strings for categories).
type row struct {
	label  float64
	fields map[string]any
}

// load reads a data set (label first, then features) the way learner's quality tests do.
func load(path string) ([]row, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, err
	}
	header, recs := recs[0], recs[1:]
	out := make([]row, len(recs))
	for i, r := range recs {
		y, err := strconv.ParseFloat(r[0], 64)
		if err != nil {
			return nil, fmt.Errorf("%s row %d: label: %w", path, i, err)
		}
		fields := map[string]any{}
		for j := 1; j < len(r); j++ {
			switch x, err := strconv.ParseFloat(r[j], 64); {
			case r[j] == "":
			case err == nil:
				fields[header[j]] = x
			default:
				fields[header[j]] = r[j]
			}
		}
		out[i] = row{label: y, fields: fields}
	}
	return out, nil
}

func configFor(redis, ch, family, name string, n int) config.Config {
	cfg := config.DefaultConfig()
	if family != "" {
		cfg.Model.Family = family
	}
	cfg.Features.Aggregates = []features.Aggregate{}
	cfg.Learner.MetricsWindow = n + 1
	cfg.Redis.Addr = redis
	cfg.Redis.KeyPrefix = fmt.Sprintf("quality:%s:%d:", name, time.Now().UnixNano())
	cfg.ClickHouse.Addr = []string{ch}
	cfg.ClickHouse.Database = "bench_quality"
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.Log.Level = "error"
	return cfg
}

// pacedAUC learns the rows one at a time in file order, scoring each before learning it.
func pacedAUC(spec learner.Spec, rows []row) (float64, error) {
	tr, err := learner.NewTrainer(spec)
	if err != nil {
		return 0, err
	}
	scores, labels := make([]float64, len(rows)), make([]float64, len(rows))
	for i, r := range rows {
		scores[i], labels[i] = tr.Learn(vector(r.fields), learner.Label{Value: r.label}).Score, r.label
	}
	return eval.AUC(scores, labels), nil
}

// vector is what the feature store makes of fields with the default config: numbers as they are,
// strings one-hot.
func vector(fields map[string]any) wire.Vector {
	var v wire.Vector
	for k, x := range fields {
		switch x := x.(type) {
		case float64:
			v = append(v, wire.Feature{Name: k, Value: x})
		case string:
			v = append(v, wire.Feature{Name: k + "=" + x, Value: 1})
		}
	}
	v.Sort()
	return v
}

// fullSpeedAUC runs streamlearn, publishes every row as an event and, once all are scored, every
// label as an outcome, waits until it has learned them all and returns the learner's progressive
// AUC (its window holds every example). Outcomes go after the events so that every example is made
// by the join, in the order of its outcome: with both sides racing, the scoring stage would make
// some of them, and the two stages' examples would interleave on the topic in no set order.
func fullSpeedAUC(cfg config.Config, rows []row) (float64, error) {
	emb, err := kafkaclient.StartEmbedded("127.0.0.1:0", "", cfg.Kafka.Partitions, cfg.Kafka.Topics.All()...)
	if err != nil {
		return 0, err
	}
	defer emb.Close()
	cfg.Kafka.Brokers = []string{emb.Addr()}
	m := app.New(cfg)
	m.Logger = nil
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	select {
	case <-m.Ready:
	case err := <-done:
		return 0, fmt.Errorf("streamlearn did not start: %v", err)
	}
	n := float64(len(rows))
	if err := publish(cfg, cfg.Kafka.Topics.Events, rows); err != nil {
		return 0, err
	}
	if err := waitFor(m, done, "streamlearn_events_total", n); err != nil {
		return 0, err
	}
	if err := publish(cfg, cfg.Kafka.Topics.Outcomes, rows); err != nil {
		return 0, err
	}
	if err := waitFor(m, done, "streamlearn_examples_learned_total", n); err != nil {
		return 0, err
	}
	// The gauge is set at each publish, and the learner publishes what it learned since its last
	// version when it stops: after a graceful stop the gauge covers every example.
	cancel()
	if err := <-done; err != nil {
		return 0, fmt.Errorf("shutdown: %w", err)
	}
	got := telemetry.Sum(m.Registry, "streamlearn_progressive_auc")
	if math.IsNaN(got) {
		return 0, fmt.Errorf("no progressive AUC")
	}
	return got, nil
}

// waitFor waits until the metric's sum reaches n.
func waitFor(m *app.Main, done chan error, metric string, n float64) error {
	deadline := time.Now().Add(5 * time.Minute)
	for telemetry.Sum(m.Registry, metric) < n {
		if time.Now().After(deadline) {
			return fmt.Errorf("%s below %.0f after 5 minutes", metric, n)
		}
		select {
		case err := <-done:
			return fmt.Errorf("streamlearn stopped: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// publish produces the rows as events, or their labels as outcomes.
func publish(cfg config.Config, topic string, rows []row) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(cfg.Kafka.Brokers...), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx := context.Background()
	start := time.Now().Add(-24 * time.Hour).UTC()
	for i, r := range rows {
		id, entity := "q"+strconv.Itoa(i), "r"+strconv.Itoa(i)
		at := start.Add(time.Duration(i) * 100 * time.Millisecond)
		rec := &kgo.Record{Topic: topic, Key: []byte(entity)}
		if topic == cfg.Kafka.Topics.Events {
			rec.Value, _ = json.Marshal(map[string]any{"id": id, "entity": entity, "time": at, "fields": r.fields})
		} else {
			rec.Key = []byte(id)
			rec.Value, _ = json.Marshal(map[string]any{"id": id, "label": r.label, "time": at.Add(time.Second)})
		}
		cl.Produce(ctx, rec, nil)
	}
	return cl.Flush(ctx)
}
