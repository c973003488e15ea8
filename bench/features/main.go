// Command features measures events per second through the feature stage (features/featurestore.Online.Apply)
// against a real Redis, next to redis-benchmark's pipelined EVAL rate on the same server in the same
// run, and the memory an entity takes in Redis (MEMORY USAGE). Without -addr it starts a private
// redis-server on a free port.
//
//	go run ./bench/features -runs 5
//
// Each scenario streams events of -entities entities, picked at random, in batches of -batch per
// Apply call from -workers goroutines that own disjoint entities (as Kafka partitions keyed by
// entity do). Event time advances 43ms per event, about 20 events per entity and day. A warm-up run
// fills the entities before the timed runs.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/streamlearn/streamlearn/features"
	"github.com/streamlearn/streamlearn/features/featurestore"
	"github.com/streamlearn/streamlearn/wire"
)

const evalScript = `return redis.call('hincrbyfloat',KEYS[1],'a',1)`

func main() {
	addr := flag.String("addr", "", "Redis host:port (default: start a private redis-server)")
	runs := flag.Int("runs", 5, "timed runs per scenario")
	perRun := flag.Int("events", 300_000, "events per run")
	entities := flag.Int("entities", 100_000, "entities")
	batch := flag.Int("batch", 1000, "events per Apply call")
	workers := flag.Int("workers", 4, "goroutines calling Apply, each with its own entities")
	scenario := flag.String("scenario", "all", "defaults, 3x5 or all")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the timed runs to this file")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	if *runs < 1 || *perRun < 1 || *entities < 1 || *batch < 1 || *workers < 1 {
		fmt.Fprintln(os.Stderr, "runs, events, entities, batch and workers must be positive")
		os.Exit(2)
	}
	if err := run(*addr, *scenario, *runs, *perRun, *entities, *batch, *workers); err != nil {
		fmt.Fprintln(os.Stderr, err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func run(addr, scenario string, runs, perRun, entities, batch, workers int) error {
	if addr == "" {
		a, stop, err := startRedis()
		if err != nil {
			return err
		}
		defer stop()
		addr = a
	}
	ctx := context.Background()
	rdb := goredis.NewClient(&goredis.Options{Addr: addr, PoolSize: 4 * workers})
	defer rdb.Close()
	info, err := rdb.Info(ctx, "server").Result()
	if err != nil {
		return fmt.Errorf("redis at %s: %w", addr, err)
	}
	fmt.Printf("machine: %s, %d cores; %s; redis %s; %s\n", cpuModel(), runtime.NumCPU(), runtime.Version(),
		infoField(info, "redis_version"), time.Now().UTC().Format("2006-01-02"))
	fmt.Printf("%d entities, %d events per run, batches of %d, %d workers, %d runs; load average %s\n", entities, perRun, batch, workers, runs, loadAverage())
	host, port, _ := net.SplitHostPort(addr)
	fmt.Printf("peer: redis-benchmark -h %s -p %s -P 64 -n 200000 -r 100000 -q EVAL \"%s\" 1 bench:rb:__rand_int__\n", host, port, evalScript)
	for _, sc := range scenarios() {
		if scenario != "all" && scenario != sc.name {
			continue
		}
		if err := measure(ctx, rdb, host, port, sc, runs, perRun, entities, batch, workers); err != nil {
			return fmt.Errorf("%s: %w", sc.name, err)
		}
	}
	return nil
}

type scenarioDef struct {
	name string
	cfg  features.Config
}

func scenarios() []scenarioDef {
	defaults := features.DefaultConfig()
	threeByFive := features.DefaultConfig()
	ws := []features.Window{features.Window(5 * time.Minute), features.Window(time.Hour), features.Window(24 * time.Hour)}
	threeByFive.Aggregates = []features.Aggregate{{Function: features.FuncCount, Windows: ws}}
	for _, fn := range []string{features.FuncSum, features.FuncMean, features.FuncMax, features.FuncStddev} {
		threeByFive.Aggregates = append(threeByFive.Aggregates, features.Aggregate{Function: fn, Field: "amount", Windows: ws})
	}
	return []scenarioDef{{"defaults", defaults}, {"3x5", threeByFive}}
}

func measure(ctx context.Context, rdb *goredis.Client, host, port string, sc scenarioDef, runs, perRun, entities, batch, workers int) error {
	prefix := "bench:" + sc.name + ":"
	store, err := featurestore.NewOnline(rdb, sc.cfg, featurestore.Options{Prefix: prefix})
	if err != nil {
		return err
	}
	defer cleanup(ctx, rdb, prefix)
	gen := newGenerator(entities, workers)
	fmt.Printf("\n## %s\n", sc.name)
	used0 := usedMemory(ctx, rdb)
	// Warm-up: every entity gets a few events.
	if _, err := pass(ctx, store, gen.next(2*entities, batch), workers); err != nil {
		return err
	}
	fmt.Printf("redis used_memory after the warm-up: %.1f MiB more, %.0f B per entity (%d entities)\n",
		float64(usedMemory(ctx, rdb)-used0)/(1<<20), float64(usedMemory(ctx, rdb)-used0)/float64(entities), entities)
	var rates, evals []float64
	for r := range runs {
		work := gen.next(perRun, batch)
		redisCPU0, selfCPU0 := redisCPU(ctx, rdb), selfCPU()
		d, err := pass(ctx, store, work, workers)
		if err != nil {
			return err
		}
		redisUs := (redisCPU(ctx, rdb) - redisCPU0).Seconds() * 1e6 / float64(perRun)
		selfUs := (selfCPU() - selfCPU0).Seconds() * 1e6 / float64(perRun)
		rate := float64(perRun) / d.Seconds()
		eval, err := redisBenchmark(host, port)
		if err != nil {
			return err
		}
		rates, evals = append(rates, rate), append(evals, eval)
		fmt.Printf("run %d: %.0f events/s (CPU per event: redis %.1fµs, this process %.1fµs); redis-benchmark EVAL %.0f/s\n", r+1, rate, redisUs, selfUs, eval)
	}
	if stats, err := rdb.Info(ctx, "commandstats").Result(); err == nil {
		for _, cmd := range []string{"cmdstat_mget", "cmdstat_evalsha", "cmdstat_watch", "cmdstat_set", "cmdstat_exec"} {
			if line := infoLine(stats, cmd+":"); !strings.HasSuffix(line, "none") {
				fmt.Printf("%s\n", line)
			}
		}
		rdb.ConfigResetStat(ctx)
	}
	mu, err := memoryPerEntity(ctx, rdb, prefix, entities)
	if err != nil {
		return err
	}
	fmt.Printf("load average %s\n", loadAverage())
	rate, eval := median(rates), median(evals)
	st := store.Stats()
	fmt.Printf("median: %.0f events/s; EVAL %.0f/s; ratio %.2f; memory per entity: median %d B, mean %.0f B (MEMORY USAGE of %d entities); %+v\n",
		rate, eval, rate/eval, mu.median, mu.mean, mu.n, st)
	return nil
}

// generator makes the event stream: random entities, event time 43ms apart. Events share a few
// thousand field maps, so that the pre-generated stream does not weigh on the garbage collector
// more than a stream decoded batch by batch would.
type generator struct {
	rng      *rand.Rand
	entities int
	workers  int
	seq      int
	clock    time.Time
	fields   []map[string]any
}

func newGenerator(entities, workers int) *generator {
	g := &generator{rng: rand.New(rand.NewPCG(1, 2)), entities: entities, workers: workers,
		clock: time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)}
	countries := []string{"DE", "FR", "US", "IT", "ES", "NL", "PL", "SE"}
	for range 4096 {
		g.fields = append(g.fields, map[string]any{
			"amount":  float64(g.rng.IntN(100000)) / 100,
			"items":   float64(1 + g.rng.IntN(5)),
			"score":   g.rng.NormFloat64(),
			"country": countries[g.rng.IntN(len(countries))],
			"device":  []string{"ios", "android", "web"}[g.rng.IntN(3)],
			"new":     g.rng.IntN(10) == 0,
		})
	}
	return g
}

// next returns n events cut into each worker's batches.
func (g *generator) next(n, batch int) [][][]wire.Event {
	perWorker := make([][]wire.Event, g.workers)
	for range n {
		e := g.rng.IntN(g.entities)
		g.seq++
		g.clock = g.clock.Add(43 * time.Millisecond)
		ev := wire.Event{ID: "e" + strconv.Itoa(g.seq), Entity: "u" + strconv.Itoa(e), Time: g.clock,
			Fields: g.fields[g.rng.IntN(len(g.fields))]}
		perWorker[e%g.workers] = append(perWorker[e%g.workers], ev)
	}
	out := make([][][]wire.Event, g.workers)
	for w, evs := range perWorker {
		for i := 0; i < len(evs); i += batch {
			out[w] = append(out[w], evs[i:min(i+batch, len(evs))])
		}
	}
	return out
}

func pass(ctx context.Context, store *featurestore.Online, work [][][]wire.Event, workers int) (time.Duration, error) {
	var wg sync.WaitGroup
	errs := make([]error, workers)
	began := time.Now()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, b := range work[w] {
				if _, err := store.Apply(ctx, b); err != nil {
					errs[w] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	return time.Since(began), errors.Join(errs...)
}

var rpsRe = regexp.MustCompile(`([0-9.]+) requests per second`)

func redisBenchmark(host, port string) (float64, error) {
	out, err := exec.Command("redis-benchmark", "-h", host, "-p", port, "-P", "64", "-n", "200000", "-r", "100000", "-q",
		"EVAL", evalScript, "1", "bench:rb:__rand_int__").CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("redis-benchmark: %w: %s", err, out)
	}
	m := rpsRe.FindAllSubmatch(out, -1)
	if len(m) == 0 {
		return 0, fmt.Errorf("redis-benchmark: no rate in %q", out)
	}
	return strconv.ParseFloat(string(m[len(m)-1][1]), 64)
}

type memory struct {
	n      int
	median int64
	mean   float64
}

// usedMemory is Redis's used_memory (bytes), 0 when INFO fails.
func usedMemory(ctx context.Context, rdb *goredis.Client) int64 {
	info, err := rdb.Info(ctx, "memory").Result()
	if err != nil {
		return 0
	}
	n, _ := strconv.ParseInt(strings.TrimPrefix(infoLine(info, "used_memory:"), "used_memory:"), 10, 64)
	return n
}

func memoryPerEntity(ctx context.Context, rdb *goredis.Client, prefix string, entities int) (memory, error) {
	var sizes []int64
	rng := rand.New(rand.NewPCG(3, 4))
	for range 1000 {
		key := prefix + "f{u" + strconv.Itoa(rng.IntN(entities)) + "}"
		n, err := rdb.MemoryUsage(ctx, key, 0).Result()
		if errors.Is(err, goredis.Nil) {
			continue
		}
		if err != nil {
			return memory{}, err
		}
		sizes = append(sizes, n)
	}
	if len(sizes) == 0 {
		return memory{}, errors.New("no entity keys found")
	}
	slices.Sort(sizes)
	sum := int64(0)
	for _, s := range sizes {
		sum += s
	}
	return memory{n: len(sizes), median: sizes[len(sizes)/2], mean: float64(sum) / float64(len(sizes))}, nil
}

func cleanup(ctx context.Context, rdb *goredis.Client, prefix string) {
	iter := rdb.Scan(ctx, 0, prefix+"*", 10000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
		if len(keys) == 1000 {
			rdb.Unlink(ctx, keys...)
			keys = keys[:0]
		}
	}
	if len(keys) > 0 {
		rdb.Unlink(ctx, keys...)
	}
	rdb.Del(ctx, "bench:rb:*")
}

// redisCPU is the CPU time Redis has used (INFO cpu).
func redisCPU(ctx context.Context, rdb *goredis.Client) time.Duration {
	info, err := rdb.Info(ctx, "cpu").Result()
	if err != nil {
		return 0
	}
	u, _ := strconv.ParseFloat(infoField(info, "used_cpu_user"), 64)
	s, _ := strconv.ParseFloat(infoField(info, "used_cpu_sys"), 64)
	return time.Duration((u + s) * float64(time.Second))
}

// selfCPU is the CPU time this process has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

func startRedis() (string, func(), error) {
	dir, err := os.MkdirTemp("", "bench-features-redis-")
	if err != nil {
		return "", nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir)
	cmd.Stdout, _ = os.Create(filepath.Join(dir, "redis.log"))
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("start redis-server: %w", err)
	}
	stop := func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); os.RemoveAll(dir) }
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for i := 0; ; i++ {
		if c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
			c.Close()
			return addr, stop, nil
		}
		if i == 100 {
			stop()
			return "", nil, errors.New("redis-server did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

func infoLine(info, prefix string) string {
	for _, line := range strings.Split(info, "\n") {
		if strings.HasPrefix(line, prefix) {
			return strings.TrimSpace(line)
		}
	}
	return prefix + ": none"
}

func infoField(info, key string) string {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), key+":"); ok {
			return v
		}
	}
	return "?"
}
