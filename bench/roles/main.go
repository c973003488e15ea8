// Command roles measures each role of streamlearn alone: events per second per core of score, join,
// learn and correlate, each in its own `streamlearn` process with GOMAXPROCS=1, draining a backlog
// that this command published with its own Kafka client to a `streamlearn broker` process. It also
// reports the Redis memory of the entities' feature state and of the pending joins (MEMORY USAGE of
// every key) and the ClickHouse rows and bytes the correlator wrote (system.parts after OPTIMIZE
// FINAL).
//
// A run: publish N events; run `ingest` until N predictions are on the predictions topic (score;
// the join consumer idles); measure Redis; publish N outcomes; run `ingest` again until N examples
// are on the examples topic (join; the score group has nothing left); run `learner` until it has
// learned N examples; run `drift` until ClickHouse holds N prediction and N outcome rows and its
// group has no lag on events, predictions, outcomes and examples. A role's
// figure is N divided by the CPU seconds (user + system, /proc) its process spent from /readyz to
// the end, so it is events per second of one core, whatever else the machine runs.
//
//	go run ./bench/roles -bin bin/streamlearn -redis 127.0.0.1:6399 -clickhouse 127.0.0.1:9900 -n 100000 -runs 3
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"sort"
	"time"
)

type options struct {
	bin, redis, ch string
	n, entities    int
	procs          int
	dir            string
	windows        string
	memoryOnly     bool
	// pids of the servers (Redis, ClickHouse) whose CPU time each phase also reports; 0: not read.
	redisPID, chPID int
}

// phase is one role's measurement in one run.
type phase struct {
	cpu, wall time.Duration
	// redis and ch: CPU time of the Redis and ClickHouse servers during the phase.
	redis, ch time.Duration
	// peakRSS is the most resident memory the role's process held, start-up included, in bytes.
	peakRSS int64
}

func (p phase) perCore(n int) float64 { return float64(n) / p.cpu.Seconds() }

func main() {
	var o options
	flag.StringVar(&o.bin, "bin", "bin/streamlearn", "the streamlearn binary (make build)")
	flag.StringVar(&o.redis, "redis", "127.0.0.1:6399", "Redis address")
	flag.StringVar(&o.ch, "clickhouse", "127.0.0.1:9900", "ClickHouse native address")
	flag.IntVar(&o.n, "n", 100000, "events (each with an outcome)")
	flag.IntVar(&o.entities, "entities", 10000, "distinct entities among the events")
	flag.IntVar(&o.procs, "gomaxprocs", 1, "GOMAXPROCS of each role's process")
	flag.StringVar(&o.windows, "windows", "", "aggregate windows, comma-separated (e.g. 5m,1h,24h,7d): count and mean of every numeric field over each; empty: the default aggregates (1h, 24h)")
	flag.IntVar(&o.redisPID, "redis-pid", 0, "pid of redis-server, to report its CPU time per phase (0: not)")
	flag.IntVar(&o.chPID, "clickhouse-pid", 0, "pid of clickhouse-server, to report its CPU time per phase (0: not)")
	flag.BoolVar(&o.memoryOnly, "memory-only", false, "stop each run after the score phase and the Redis measurement")
	runs := flag.Int("runs", 3, "runs; medians are reported")
	flag.Parse()
	dir, err := os.MkdirTemp("", "streamlearn-bench-roles-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	o.dir = dir
	if o.bin, err = filepath.Abs(o.bin); err != nil {
		log.Fatal(err)
	}
	var results []result
	for run := 1; run <= *runs; run++ {
		r, err := once(o, run)
		if err != nil {
			log.Fatalf("run %d: %v", run, err)
		}
		r.print(fmt.Sprintf("run %d", run), o.n)
		results = append(results, r)
	}
	fmt.Printf("\nmedians of %d runs, N=%d events, %d entities, GOMAXPROCS=%d per role:\n", *runs, o.n, o.entities, o.procs)
	printMedians(results, o)
}

type result struct {
	phases map[string]phase
	mem    memory
	ch     []tableSize
}

var roles = []string{"score", "join", "learn", "correlate"}

func (r result) print(label string, n int) {
	fmt.Printf("%s:", label)
	for _, role := range roles {
		p, ok := r.phases[role]
		if !ok {
			continue
		}
		fmt.Printf("  %s %.0f/s per core (%.2fs CPU, %.1fs wall; redis %.2fs, clickhouse %.2fs CPU; peak RSS %d MiB)", role, p.perCore(n), p.cpu.Seconds(), p.wall.Seconds(), p.redis.Seconds(), p.ch.Seconds(), p.peakRSS>>20)
	}
	fmt.Println()
}

func printMedians(rs []result, o options) {
	for _, role := range roles {
		if _, ok := rs[0].phases[role]; !ok {
			continue
		}
		var perCore, wall, redisUS, chUS, rssMiB []float64
		for _, r := range rs {
			p := r.phases[role]
			perCore = append(perCore, p.perCore(o.n))
			wall = append(wall, float64(o.n)/p.wall.Seconds())
			redisUS = append(redisUS, float64(p.redis.Microseconds())/float64(o.n))
			chUS = append(chUS, float64(p.ch.Microseconds())/float64(o.n))
			rssMiB = append(rssMiB, float64(p.peakRSS)/(1<<20))
		}
		fmt.Printf("  %-10s %8.0f events/s per core (runs %s)   wall %8.0f events/s   redis %.1f µs, clickhouse %.1f µs CPU per event   peak RSS %.0f MiB\n",
			role, median(perCore), list(perCore), median(wall), median(redisUS), median(chUS), median(rssMiB))
	}
	med := func(f func(memory) float64) float64 {
		var xs []float64
		for _, r := range rs {
			xs = append(xs, f(r.mem))
		}
		return median(xs)
	}
	fmt.Printf("  redis: %.0f entities hold %.0f bytes of feature state: %.0f bytes per entity (%.0f per entity and window of %d)\n",
		med(func(m memory) float64 { return float64(m.entities) }), med(func(m memory) float64 { return float64(m.featureBytes) }),
		med(memory.perEntity), med(memory.perEntity)/float64(o.windowCount()), o.windowCount())
	fmt.Printf("  redis: %.0f bytes per pending join (prediction waiting for its outcome); other keys %.0f bytes\n",
		med(memory.perJoin), med(func(m memory) float64 { return float64(m.otherBytes) }))
	fmt.Println("  clickhouse (after OPTIMIZE FINAL, last run):")
	for _, t := range rs[len(rs)-1].ch {
		fmt.Printf("    %-18s %9d rows %11d bytes on disk (%11d uncompressed)  %6.1f bytes/row  %7.3f rows/event  %6.1f bytes/event\n",
			t.table, t.rows, t.bytes, t.uncompressed, float64(t.bytes)/max(1, float64(t.rows)), float64(t.rows)/float64(o.n), float64(t.bytes)/float64(o.n))
	}
}

func (o options) windowCount() int {
	if o.windows == "" {
		return 2
	}
	n := 1
	for _, c := range o.windows {
		if c == ',' {
			n++
		}
	}
	return n
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)/2]
}

func list(xs []float64) string {
	out := ""
	for i, x := range xs {
		if i > 0 {
			out += ", "
		}
		out += fmt.Sprintf("%.0f", x)
	}
	return out
}

// once runs the four phases on a fresh broker, key prefix and database.
func once(o options, run int) (result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	st, err := newStack(ctx, o, run)
	if err != nil {
		return result{}, err
	}
	defer st.close()
	r := result{phases: map[string]phase{}}
	if err := st.produce(ctx, false); err != nil {
		return r, err
	}
	if r.phases["score"], err = st.measure(ctx, "ingest", st.topicHas(st.topics.Predictions, o.n)); err != nil {
		return r, fmt.Errorf("score: %w", err)
	}
	if r.mem, err = st.redisMemory(ctx); err != nil || o.memoryOnly {
		return r, err
	}
	if err := st.produce(ctx, true); err != nil {
		return r, err
	}
	if r.phases["join"], err = st.measure(ctx, "ingest", st.topicHas(st.topics.Examples, o.n)); err != nil {
		return r, fmt.Errorf("join: %w", err)
	}
	if r.phases["learn"], err = st.measure(ctx, "learner", st.metricReaches("streamlearn_examples_learned_total", o.n)); err != nil {
		return r, fmt.Errorf("learn: %w", err)
	}
	if r.phases["correlate"], err = st.measure(ctx, "drift", st.correlated(o.n)); err != nil {
		return r, fmt.Errorf("correlate: %w", err)
	}
	if r.ch, err = st.clickhouseSizes(ctx); err != nil {
		return r, err
	}
	return r, nil
}
