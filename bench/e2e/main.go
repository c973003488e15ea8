// Command e2e measures the whole loop through Kafka: it publishes N synthetic events and their
// outcomes to an embedded broker, then starts streamlearn and times how long it takes until every
// event has its prediction and the learner has learned every example.
//
//	go run ./bench/e2e -redis 127.0.0.1:6399 -clickhouse 127.0.0.1:9900 -n 200000 -runs 3
package main

import (
	"context"
	"encoding/csv"
	"flag"
	"fmt"
	"log"
	"os"
	"runtime/pprof"
	"sort"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamlearn/streamlearn/bench/internal/procstat"
	"github.com/streamlearn/streamlearn/internal/app"
	"github.com/streamlearn/streamlearn/internal/config"
	"github.com/streamlearn/streamlearn/internal/kafkaclient"
	"github.com/streamlearn/streamlearn/internal/synth"
	"github.com/streamlearn/streamlearn/internal/telemetry"
)

func main() {
	redis := flag.String("redis", "127.0.0.1:6399", "Redis address")
	ch := flag.String("clickhouse", "127.0.0.1:9900", "ClickHouse native address")
	n := flag.Int("n", 200000, "events (each with an outcome)")
	runs := flag.Int("runs", 3, "runs; the median is reported")
	export := flag.String("export", "", "write the stream as CSV to this file (for bench/e2e/sgd.py) and exit")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the runs to this file")
	memprofile := flag.String("memprofile", "", "write an allocation profile of the runs to this file")
	family := flag.String("family", "", "model family (default: the config's default, auto)")
	redisPID := flag.Int("redis-pid", 0, "redis-server's pid: report its CPU per event")
	chPID := flag.Int("clickhouse-pid", 0, "clickhouse-server's pid: report its CPU per event")
	flag.Parse()
	servers := map[string]int{"redis-server": *redisPID, "clickhouse-server": *chPID}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	if *memprofile != "" {
		defer writeHeapProfile(*memprofile)
	}
	if *export != "" {
		if err := exportCSV(*export, *n); err != nil {
			log.Fatal(err)
		}
		return
	}
	var rates []float64
	for run := 1; run <= *runs; run++ {
		before, err := cpuTimes(servers)
		if err != nil {
			log.Fatal(err)
		}
		r, err := once(*redis, *ch, *family, *n, run)
		if err != nil {
			log.Fatal(err)
		}
		after, err := cpuTimes(servers)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("run %d: %d events + %d outcomes scored, joined and learned in %s, their rows in ClickHouse in %s: %.0f events/s\n",
			run, *n, *n, r.learned.Truncate(time.Millisecond), r.written.Truncate(time.Millisecond), float64(*n)/r.written.Seconds())
		fmt.Printf("run %d: CPU per event: %s\n", run, perEvent(r.cpu, before, after, *n))
		rates = append(rates, float64(*n)/r.written.Seconds())
	}
	sort.Float64s(rates)
	fmt.Printf("median: %.0f events/s end to end (each event scored, joined with its outcome and learned, the rows in ClickHouse)\n", rates[len(rates)/2])
}

// result is one run's timing: until every event was scored and learned, until their prediction and
// outcome rows were in ClickHouse, and this process's CPU time over the latter (the embedded broker
// included, the preload not).
type result struct {
	learned, written, cpu time.Duration
}

func once(redis, ch, family string, n, run int) (result, error) {
	cfg := config.DefaultConfig()
	if family != "" {
		cfg.Model.Family = family
	}
	cfg.Redis.Addr = redis
	cfg.Redis.KeyPrefix = fmt.Sprintf("bench:%d:%d:", time.Now().UnixNano(), run)
	cfg.ClickHouse.Addr = []string{ch}
	cfg.ClickHouse.Database = fmt.Sprintf("bench_e2e_%d", run)
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.Log.Level = "error"
	emb, err := kafkaclient.StartEmbedded("127.0.0.1:0", "", cfg.Kafka.Partitions, cfg.Kafka.Topics.All()...)
	if err != nil {
		return result{}, err
	}
	defer emb.Close()
	cfg.Kafka.Brokers = []string{emb.Addr()}
	t := time.Now()
	if err := preload(cfg, n); err != nil {
		return result{}, err
	}
	// The embedded broker's produce ceiling, in the same process and run: what one franz-go client
	// publishes to it, nothing else running.
	fmt.Printf("run %d: preload: %d records produced to the embedded broker in %s: %.0f records/s\n",
		run, 2*n, time.Since(t).Truncate(time.Millisecond), float64(2*n)/time.Since(t).Seconds())
	m := app.New(cfg)
	m.Logger = nil
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	cpu0, err := procstat.CPUTime(0)
	if err != nil {
		return result{}, err
	}
	start := time.Now()
	go func() { done <- m.Run(ctx) }()
	<-m.Ready
	var r result
	learned := func() bool {
		return telemetry.Sum(m.Registry, "streamlearn_events_total") >= float64(n) &&
			telemetry.Sum(m.Registry, "streamlearn_examples_learned_total") >= float64(n)
	}
	// Every outcome makes two rows: one from the outcomes topic, one (joined) from its example.
	written := func() bool {
		return rowsWritten(m.Registry, "predictions") >= float64(n) && rowsWritten(m.Registry, "outcomes") >= float64(2*n)
	}
	for r.written == 0 {
		if r.learned == 0 && learned() {
			r.learned = time.Since(start)
		}
		if r.learned != 0 && written() {
			r.written = time.Since(start)
			break
		}
		select {
		case err := <-done:
			return result{}, fmt.Errorf("streamlearn stopped: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	cpu1, err := procstat.CPUTime(0)
	if err != nil {
		return result{}, err
	}
	r.cpu = cpu1 - cpu0
	fmt.Printf("run %d: time in stages: %s\n", run, stageTimes(m.Registry))
	cancel()
	if err := <-done; err != nil {
		fmt.Fprintln(os.Stderr, "shutdown:", err)
	}
	return r, nil
}

// preload publishes the events, then the outcomes (so every outcome finds its prediction waiting or
// arrives first: both orders happen while the two consumers race).
func preload(cfg config.Config, n int) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(cfg.Kafka.Brokers...), kgo.ProducerLinger(5*time.Millisecond), kgo.MaxBufferedRecords(1<<20))
	if err != nil {
		return err
	}
	defer cl.Close()
	g := synth.New(synth.Config{Seed: 1, Entities: 100000, Start: time.Now().Add(-48 * time.Hour), Step: 100 * time.Millisecond})
	ctx := context.Background()
	for i := 0; i < n; i++ {
		ev := g.Next()
		cl.Produce(ctx, &kgo.Record{Topic: cfg.Kafka.Topics.Events, Key: []byte(ev.Entity), Value: ev.JSON()}, nil)
		cl.Produce(ctx, &kgo.Record{Topic: cfg.Kafka.Topics.Outcomes, Key: []byte(ev.ID), Value: ev.OutcomeJSON()}, nil)
	}
	return cl.Flush(ctx)
}

// exportCSV writes the same synthetic stream the benchmark publishes, one row per event.
func exportCSV(path string, n int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w := csv.NewWriter(f)
	_ = w.Write([]string{"label", "amount", "age", "country", "mobile", "visits"})
	g := synth.New(synth.Config{Seed: 1, Entities: 100000, Start: time.Now().Add(-48 * time.Hour), Step: 100 * time.Millisecond})
	for range n {
		ev := g.Next()
		mobile := "0"
		if ev.Fields["mobile"].(bool) {
			mobile = "1"
		}
		_ = w.Write([]string{strconv.Itoa(ev.Label), fmt.Sprint(ev.Fields["amount"]), fmt.Sprint(ev.Fields["age"]), ev.Fields["country"].(string), mobile, fmt.Sprint(ev.Fields["visits"])})
	}
	w.Flush()
	return w.Error()
}
