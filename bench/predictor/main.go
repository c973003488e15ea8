// Command predictor measures POST /v1/score latency under an open-loop load at fixed offered
// rates, side by side with a trivial Go JSON handler as the floor. A child process serves both: the
// predictor role (as `streamlearn predictor` runs it) with features read from a private
// redis-server over loopback, and the floor; this process is the load generator. Runs alternate
// between the two targets so that both see the same background load. Besides latency it reports
// the CPU time per request of the generator, the server process and redis-server.
//
//	go run ./bench/predictor -rates 2000,10000 -runs 5 -duration 10s -max
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/streamlearn/streamlearn/internal/synth"
)

func main() {
	serverMode := flag.Bool("serve", false, "run the server process (used by the benchmark itself)")
	redisAddr := flag.String("redis", "", "Redis to use (default: start a private redis-server)")
	entities := flag.Int("entities", 10000, "entities with features in Redis")
	ratesFlag := flag.String("rates", "2000,10000", "offered rates, requests per second")
	runs := flag.Int("runs", 5, "runs per target and rate")
	duration := flag.Duration("duration", 10*time.Second, "length of a run")
	findMax := flag.Bool("max", false, "also find the maximum sustainable rate of each target")
	maxFrom := flag.Float64("max-from", 0, "the first rate of the -max search (default 2000 events/s)")
	slo := flag.Duration("slo", 10*time.Millisecond, "p99 a sustainable rate must keep (and no failed request)")
	profile := flag.String("server-cpuprofile", "", "write the server process's CPU profile to this file")
	clientKind := flag.String("client", "raw", "HTTP client of the generator: raw (persistent connections, little CPU) or std (net/http)")
	only := flag.String("targets", "floor,predictor", "the targets to attack, in this order (for profiling one alone)")
	writeRate := flag.Int("write-rate", 0, "events/s the server applies to the entities' features during the runs, as a stream would (each write invalidates the entity's cached value)")
	nearCache := flag.Int("near-cache", -1, "the predictor's redis.near_cache_entries (default: the config's default; 0: off)")
	batch := flag.Int("batch", 1, "events per request: above 1, each POST is {\"events\": [...]} (rates stay in requests per second)")
	flag.Parse()

	if *serverMode {
		if err := serve(*redisAddr, *entities, *profile, *nearCache, *writeRate); err != nil {
			fmt.Fprintln(os.Stderr, "server:", err)
			os.Exit(1)
		}
		return
	}
	var rates []float64
	for _, s := range strings.Split(*ratesFlag, ",") {
		r, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || r <= 0 {
			fmt.Fprintf(os.Stderr, "bad rate %q\n", s)
			os.Exit(2)
		}
		rates = append(rates, r)
	}
	srv, err := startServer(*redisAddr, *entities, *profile, *nearCache, *writeRate)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer srv.stop()
	srv.targets = slices.DeleteFunc(srv.targets, func(t target) bool { return !slices.Contains(strings.Split(*only, ","), t.name) })
	b := &bench{srv: srv, posters: map[string]poster{}, bodies: requestBodies(*entities, *batch), batch: *batch}
	for _, t := range srv.targets {
		if b.posters[t.name], err = newPoster(*clientKind, t.url); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
	}
	b.latencies(rates, *runs, *duration)
	if *findMax {
		b.maxRates(*slo, *maxFrom)
	}
}

type target struct{ name, url string }

// server is the child process serving the targets.
type server struct {
	targets  []target
	pid      int
	redisPID int
	stop     func()
}

type bench struct {
	srv     *server
	posters map[string]poster // by target name
	bodies  [][]byte
	batch   int
}

func newPoster(kind, url string) (poster, error) {
	switch kind {
	case "std":
		return stdPoster(url), nil
	case "raw":
		rc, err := newRawClient(url, maxConns)
		if err != nil {
			return nil, err
		}
		return rc.post, nil
	}
	return nil, fmt.Errorf("-client %q: want raw or std", kind)
}

// run attacks t at rate for d and measures the CPU the three processes used meanwhile.
func (b *bench) run(t target, rate float64, d time.Duration) result {
	g0, s0, r0 := cpuSeconds(0), cpuSeconds(b.srv.pid), cpuSeconds(b.srv.redisPID)
	res := attack(context.Background(), b.posters[t.name], b.bodies, rate, d)
	res.genCPU, res.serverCPU = cpuSeconds(0)-g0, cpuSeconds(b.srv.pid)-s0
	if b.srv.redisPID > 0 {
		res.redisCPU = cpuSeconds(b.srv.redisPID) - r0
	}
	return res
}

// latencies runs every target at every rate, runs times, and prints each run and the medians.
func (b *bench) latencies(rates []float64, runs int, d time.Duration) {
	for _, t := range b.srv.targets { // warm up connections and heaps
		b.run(t, max(2000/float64(b.batch), 20), 3*time.Second)
	}
	fmt.Printf("%-10s %8s %4s %10s %9s %9s %9s %7s %20s\n", "target", "offered", "run", "achieved", "p50", "p99", "p999", "failed", "CPU µs/req gen/srv/redis")
	all := map[string][]result{}
	for _, rate := range rates {
		for i := range runs {
			for _, t := range b.srv.targets {
				r := b.run(t, rate, d)
				all[key(t.name, rate)] = append(all[key(t.name, rate)], r)
				fmt.Printf("%-10s %8.0f %4d %10.0f %9s %9s %9s %7d %8.0f/%.0f/%.0f %s\n", t.name, rate, i+1, r.throughput(),
					ms(r.quantile(0.5)), ms(r.quantile(0.99)), ms(r.quantile(0.999)), r.failed,
					r.cpuPerRequest(r.genCPU), r.cpuPerRequest(r.serverCPU), r.cpuPerRequest(r.redisCPU), failedCodes(r))
			}
		}
	}
	fmt.Printf("\nmedians of %d runs of %s, %d event(s) per request\n\n", runs, d, b.batch)
	fmt.Println("| target | offered req/s | achieved req/s | events/s | p50 | p99 | p999 | failed | server CPU µs/req | redis CPU µs/req |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|")
	for _, rate := range rates {
		for _, t := range b.srv.targets {
			rs := all[key(t.name, rate)]
			med := func(f func(result) float64) float64 { return median(rs, f) }
			fmt.Printf("| %s | %.0f | %.0f | %.0f | %s | %s | %s | %.0f | %.0f | %.0f |\n", t.name, rate,
				med(result.throughput), med(result.throughput)*float64(b.batch),
				msf(med(func(r result) float64 { return float64(r.quantile(0.5)) })),
				msf(med(func(r result) float64 { return float64(r.quantile(0.99)) })),
				msf(med(func(r result) float64 { return float64(r.quantile(0.999)) })),
				med(func(r result) float64 { return float64(r.failed) }),
				med(func(r result) float64 { return r.cpuPerRequest(r.serverCPU) }),
				med(func(r result) float64 { return r.cpuPerRequest(r.redisCPU) }))
		}
	}
}

// maxRates raises the offered rate by 20% a step while the median of three 3-second runs keeps
// p99 within slo with no failed request, and prints the last rate that did for each target. At
// each rate the targets' runs alternate, so that both see the same background load.
func (b *bench) maxRates(slo time.Duration, from float64) {
	if from <= 0 {
		from = max(2000/float64(b.batch), 20)
	}
	fmt.Printf("\nmaximum sustainable rate: median of 3 runs of 3s keeps p99 <= %s, no failure; +20%% a step\n\n", slo)
	best := map[string]float64{}
	live := map[string]bool{}
	for _, t := range b.srv.targets {
		live[t.name] = true
	}
	for rate := from; rate <= 200000 && len(live) > 0; rate *= 1.2 {
		rs := map[string][]result{}
		for range 3 {
			for _, t := range b.srv.targets {
				if live[t.name] {
					rs[t.name] = append(rs[t.name], b.run(t, rate, 3*time.Second))
					time.Sleep(500 * time.Millisecond) // let a backlog drain before the next run
				}
			}
		}
		for _, t := range b.srv.targets {
			if !live[t.name] {
				continue
			}
			r := rs[t.name]
			p99 := time.Duration(median(r, func(r result) float64 { return float64(r.quantile(0.99)) }))
			failed := median(r, func(r result) float64 { return float64(r.failed) })
			achieved := median(r, result.throughput)
			fmt.Printf("  %-10s %8.0f req/s: achieved %8.0f, p99 %s, failed %.0f %s\n", t.name, rate, achieved, ms(p99), failed, failedCodes(r...))
			if failed > 0 || p99 > slo {
				delete(live, t.name)
				continue
			}
			best[t.name] = rate
		}
	}
	for _, t := range b.srv.targets {
		fmt.Printf("| %s | %.0f req/s | %.0f events/s |\n", t.name, best[t.name], best[t.name]*float64(b.batch))
	}
	if f, p := best["floor"], best["predictor"]; f > 0 {
		fmt.Printf("predictor / floor = %.2f\n", p/f)
	}
}

// startServer starts this binary in server mode.
func startServer(redisAddr string, entities int, profile string, nearCache, writeRate int) (*server, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, "-serve", "-redis", redisAddr, "-entities", strconv.Itoa(entities), "-server-cpuprofile", profile, "-near-cache", strconv.Itoa(nearCache), "-write-rate", strconv.Itoa(writeRate))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	stop := func() { stdin.Close(); _ = cmd.Wait() }
	line, err := bufio.NewReader(stdout).ReadString('\n')
	f := strings.Fields(line)
	if err != nil || len(f) != 4 || f[0] != "READY" {
		stop()
		return nil, fmt.Errorf("server did not start: %q %v", line, err)
	}
	redisPID, _ := strconv.Atoi(f[3])
	return &server{
		targets: []target{{"floor", "http://" + f[2] + "/"}, {"predictor", "http://" + f[1] + "/v1/score"}},
		pid:     cmd.Process.Pid, redisPID: redisPID, stop: stop,
	}, nil
}

// requestBodies returns live scoring requests for the seeded entities (no time: scored as of now),
// batch events each (as {"events": [...]} when batch > 1).
func requestBodies(entities, batch int) [][]byte {
	g := synth.New(synth.Config{Seed: 2, Entities: entities, Start: time.Now(), Step: time.Millisecond})
	event := func() []byte {
		ev := g.Next()
		b, _ := json.Marshal(map[string]any{"id": ev.ID, "entity": ev.Entity, "fields": ev.Fields})
		return b
	}
	out := make([][]byte, max(10000/batch, 100))
	for i := range out {
		if batch <= 1 {
			out[i] = event()
			continue
		}
		b := []byte(`{"events":[`)
		for k := range batch {
			if k > 0 {
				b = append(b, ',')
			}
			b = append(b, event()...)
		}
		out[i] = append(b, "]}"...)
	}
	return out
}

// failedCodes lists the status codes of the failed requests of rs ("" when none failed).
func failedCodes(rs ...result) string {
	all := map[int]int{}
	for _, r := range rs {
		for c, n := range r.codes {
			all[c] += n
		}
	}
	if len(all) == 0 {
		return ""
	}
	var parts []string
	for _, c := range slices.Sorted(maps.Keys(all)) {
		parts = append(parts, fmt.Sprintf("%d×%d", all[c], c))
	}
	return "(" + strings.Join(parts, " ") + ")"
}

func key(name string, rate float64) string { return fmt.Sprintf("%s@%.0f", name, rate) }

func median(rs []result, f func(result) float64) float64 {
	if len(rs) == 0 {
		return 0
	}
	vs := make([]float64, len(rs))
	for i, r := range rs {
		vs[i] = f(r)
	}
	slices.Sort(vs)
	return vs[len(vs)/2]
}

func ms(d time.Duration) string { return msf(float64(d)) }

func msf(ns float64) string { return fmt.Sprintf("%.3f ms", ns/1e6) }
