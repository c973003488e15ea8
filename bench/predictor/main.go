// Command predictor measures POST /v1/score latency under an open-loop load at fixed offered
// rates, side by side with a trivial Go JSON handler as the floor. A child process serves both: the
// predictor role (as `streamlearn predictor` runs it) with features read from a private
// redis-server over loopback, and the floor; this process is the load generator. Runs alternate
// between the two targets so that both see the same background load.
//
//	go run ./bench/predictor -rates 2000,10000 -runs 5 -duration 10s -max
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
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
	slo := flag.Duration("slo", 10*time.Millisecond, "p99 a sustainable rate must keep (and no failed request)")
	profile := flag.String("server-cpuprofile", "", "write the server process's CPU profile to this file")
	flag.Parse()

	if *serverMode {
		if err := serve(*redisAddr, *entities, *profile); err != nil {
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
	if err := run(*redisAddr, *entities, *profile, rates, *runs, *duration, *findMax, *slo); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

type target struct{ name, url string }

func run(redisAddr string, entities int, profile string, rates []float64, runs int, d time.Duration, findMax bool, slo time.Duration) error {
	targets, stop, err := startServer(redisAddr, entities, profile)
	if err != nil {
		return err
	}
	defer stop()
	bodies := requestBodies(entities)
	client := newClient()
	ctx := context.Background()
	for _, t := range targets { // warm up connections, caches and the JIT-free but GC-sized heap
		attack(ctx, client, t.url, bodies, 2000, 3*time.Second)
	}

	fmt.Printf("%-10s %8s %4s %10s %9s %9s %9s %7s\n", "target", "offered", "run", "achieved", "p50", "p99", "p999", "failed")
	all := map[string][]result{}
	for _, rate := range rates {
		for i := range runs {
			for _, t := range targets {
				r := attack(ctx, client, t.url, bodies, rate, d)
				all[key(t.name, rate)] = append(all[key(t.name, rate)], r)
				fmt.Printf("%-10s %8.0f %4d %10.0f %9s %9s %9s %7d\n", t.name, rate, i+1, r.throughput(), ms(r.quantile(0.5)), ms(r.quantile(0.99)), ms(r.quantile(0.999)), r.failed)
			}
		}
	}
	fmt.Printf("\nmedians of %d runs of %s\n\n| target | offered req/s | achieved req/s | p50 | p99 | p999 | failed |\n|---|---|---|---|---|---|---|\n", runs, d)
	for _, rate := range rates {
		for _, t := range targets {
			rs := all[key(t.name, rate)]
			fmt.Printf("| %s | %.0f | %.0f | %s | %s | %s | %d |\n", t.name, rate,
				median(rs, func(r result) float64 { return r.throughput() }),
				msf(median(rs, func(r result) float64 { return float64(r.quantile(0.5)) })),
				msf(median(rs, func(r result) float64 { return float64(r.quantile(0.99)) })),
				msf(median(rs, func(r result) float64 { return float64(r.quantile(0.999)) })),
				int(median(rs, func(r result) float64 { return float64(r.failed) })))
		}
	}
	if findMax {
		fmt.Printf("\nmaximum sustainable rate (p99 <= %s, no failure; 5s steps of +20%%)\n\n", slo)
		for _, t := range targets {
			best := 0.0
			for rate := 2000.0; rate <= 200000; rate *= 1.2 {
				r := attack(ctx, client, t.url, bodies, rate, 5*time.Second)
				pass := r.failed == 0 && r.quantile(0.99) <= slo
				fmt.Printf("  %-10s %8.0f req/s: achieved %8.0f, p99 %s, failed %d\n", t.name, rate, r.throughput(), ms(r.quantile(0.99)), r.failed)
				if !pass {
					break
				}
				best = rate
				time.Sleep(time.Second) // let the last run's connections settle
			}
			fmt.Printf("| %s | %.0f req/s |\n", t.name, best)
		}
	}
	return nil
}

// startServer starts this binary in server mode and returns the two targets.
func startServer(redisAddr string, entities int, profile string) ([]target, func(), error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, nil, err
	}
	cmd := exec.Command(exe, "-serve", "-redis", redisAddr, "-entities", strconv.Itoa(entities), "-server-cpuprofile", profile)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	stop := func() { stdin.Close(); _ = cmd.Wait() }
	line, err := bufio.NewReader(stdout).ReadString('\n')
	f := strings.Fields(line)
	if err != nil || len(f) != 3 || f[0] != "READY" {
		stop()
		return nil, nil, fmt.Errorf("server did not start: %q %v", line, err)
	}
	return []target{{"floor", "http://" + f[2] + "/"}, {"predictor", "http://" + f[1] + "/v1/score"}}, stop, nil
}

// requestBodies returns live scoring requests for the seeded entities (no time: scored as of now).
func requestBodies(entities int) [][]byte {
	g := synth.New(synth.Config{Seed: 2, Entities: entities, Start: time.Now(), Step: time.Millisecond})
	out := make([][]byte, 10000)
	for i := range out {
		ev := g.Next()
		out[i], _ = json.Marshal(map[string]any{"id": ev.ID, "entity": ev.Entity, "fields": ev.Fields})
	}
	return out
}

func key(name string, rate float64) string { return fmt.Sprintf("%s@%.0f", name, rate) }

func median(rs []result, f func(result) float64) float64 {
	vs := make([]float64, len(rs))
	for i, r := range rs {
		vs[i] = f(r)
	}
	slices.Sort(vs)
	if len(vs) == 0 {
		return 0
	}
	return vs[len(vs)/2]
}

func ms(d time.Duration) string { return msf(float64(d)) }

func msf(ns float64) string { return fmt.Sprintf("%.3f ms", ns/1e6) }
