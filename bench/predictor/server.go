package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"syscall"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/streamlearn/streamlearn/features/featurestore"
	"github.com/streamlearn/streamlearn/internal/app"
	"github.com/streamlearn/streamlearn/internal/config"
	"github.com/streamlearn/streamlearn/internal/synth"
	"github.com/streamlearn/streamlearn/learner"
	"github.com/streamlearn/streamlearn/learner/registry"
	"github.com/streamlearn/streamlearn/wire"
)

// serve is the server process: a private redis-server, the predictor role (app.RoleHTTP with an
// embedded broker for the models topic, as `streamlearn predictor` runs it) with a trained model
// and entity features in Redis, and the floor handler. It prints "READY <predictor> <floor>" and
// runs until stdin closes or a signal comes.
func serve(redisAddr string, entities int, profile string, nearCache, writeRate int) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	redisPID := 0
	if redisAddr == "" {
		addr, pid, cleanup, err := startRedis()
		if err != nil {
			return err
		}
		defer cleanup()
		redisAddr, redisPID = addr, pid
	}
	cfg := config.DefaultConfig()
	cfg.Redis.Addr = redisAddr
	cfg.Redis.KeyPrefix = fmt.Sprintf("bench:%d:", time.Now().UnixNano())
	if nearCache >= 0 {
		cfg.Redis.NearCacheEntries = nearCache
	}
	cfg.Kafka.Embedded = "127.0.0.1:0"
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.Log.Level = "warn"
	if err := seed(ctx, cfg, entities); err != nil {
		return fmt.Errorf("seed: %w", err)
	}

	m := app.New(cfg, app.RoleHTTP)
	m.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	appCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- m.Run(appCtx) }()
	select {
	case <-m.Ready:
	case err := <-done:
		return fmt.Errorf("predictor: %w", err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	floor := &http.Server{Handler: http.HandlerFunc(floorHandler)}
	go floor.Serve(ln)
	defer floor.Close()

	if writeRate > 0 {
		go func() {
			if err := writeStream(appCtx, cfg, entities, writeRate); err != nil && appCtx.Err() == nil {
				fmt.Fprintln(os.Stderr, "server: writes:", err)
			}
		}()
	}
	fmt.Printf("READY %s %s %d\n", m.HTTPAddr, ln.Addr(), redisPID)
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); cancel() }() // the parent went away
	<-appCtx.Done()
	err = <-done
	printCacheStats(m)
	return err
}

// writeStream applies rate events a second to random entities' features until ctx ends, in
// batches every 10 ms, as the stream's score role would.
func writeStream(ctx context.Context, cfg config.Config, entities, rate int) error {
	rdb := goredis.NewClient(&goredis.Options{Addr: cfg.Redis.Addr})
	defer rdb.Close()
	store, err := featurestore.NewOnline(rdb, cfg.Features, featurestore.Options{Prefix: cfg.Redis.KeyPrefix, TTL: cfg.Redis.EntityTTL})
	if err != nil {
		return err
	}
	g := synth.New(synth.Config{Seed: 3, Entities: entities, Start: time.Now(), Step: time.Second / time.Duration(rate)})
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	owed := 0.0
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		owed += float64(rate) / 100
		evs := make([]wire.Event, 0, int(owed))
		for ; owed >= 1; owed-- {
			s := g.Next()
			evs = append(evs, wire.Event{ID: s.ID, Entity: s.Entity, Time: s.Time, Fields: s.Fields})
		}
		if _, err := store.Apply(ctx, evs); err != nil {
			return err
		}
	}
}

// printCacheStats writes the predictor's feature-cache counters to stderr.
func printCacheStats(m *app.Main) {
	mfs, err := m.Registry.Gather()
	if err != nil {
		return
	}
	v := map[string]float64{}
	for _, mf := range mfs {
		if len(mf.GetMetric()) == 1 && mf.GetMetric()[0].GetCounter() != nil {
			v[mf.GetName()] = mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	hits, misses := v["streamlearn_features_cache_hits_total"], v["streamlearn_features_cache_misses_total"]
	if hits+misses > 0 {
		fmt.Fprintf(os.Stderr, "feature cache: %.0f hits, %.0f misses (%.1f%% hits), %.0f invalidations\n",
			hits, misses, 100*hits/(hits+misses), v["streamlearn_features_cache_invalidations_total"])
	}
}

// floorHandler is the floor of the comparison: a trivial Go JSON handler that decodes the event
// (or the batch, {"events": [...]}) and answers a fixed score for each, with no feature store and
// no model.
func floorHandler(w http.ResponseWriter, r *http.Request) {
	var ev map[string]any
	if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	score := func(ev map[string]any) map[string]any {
		return map[string]any{"id": ev["id"], "model": "floor", "version": 1, "score": 0.5, "route": "champion"}
	}
	var out any = score(ev)
	if events, ok := ev["events"].([]any); ok {
		results := make([]any, len(events))
		for i, e := range events {
			m, _ := e.(map[string]any)
			results[i] = score(m)
		}
		out = map[string]any{"results": results, "errors": 0}
	}
	b, _ := json.Marshal(out)
	// A length, not chunks, as the predictor answers (the generator's client reads only that).
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	_, _ = w.Write(append(b, '\n'))
}

// seed gives every entity features in Redis and publishes a model trained on the same stream.
func seed(ctx context.Context, cfg config.Config, entities int) error {
	rdb := goredis.NewClient(&goredis.Options{Addr: cfg.Redis.Addr})
	defer rdb.Close()
	store, err := featurestore.NewOnline(rdb, cfg.Features, featurestore.Options{Prefix: cfg.Redis.KeyPrefix, TTL: cfg.Redis.EntityTTL})
	if err != nil {
		return err
	}
	tr, err := learner.NewTrainer(cfg.Model)
	if err != nil {
		return err
	}
	g := synth.New(synth.Config{Seed: 1, Entities: entities, Start: time.Now().Add(-24 * time.Hour), Step: 100 * time.Millisecond})
	const batch = 1000
	for range 5 * entities / batch {
		evs := make([]wire.Event, batch)
		labels := make([]float64, batch)
		for i := range evs {
			s := g.Next()
			evs[i] = wire.Event{ID: s.ID, Entity: s.Entity, Time: s.Time, Fields: s.Fields}
			labels[i] = float64(s.Label)
		}
		vecs, err := store.Apply(ctx, evs)
		if err != nil {
			return err
		}
		for i := range evs {
			tr.Learn(vecs[i], learner.Label{Value: labels[i]})
		}
	}
	snap, err := tr.Snapshot().MarshalBinary()
	if err != nil {
		return err
	}
	reg := registry.NewRegistry(rdb, cfg.Redis.KeyPrefix)
	v, err := reg.Publish(ctx, learner.Version{Model: cfg.Model.Name, Spec: tr.Spec(), Examples: tr.Seen()}, snap, nil)
	if err != nil {
		return err
	}
	_, err = reg.Promote(ctx, cfg.Model.Name, v.Version, "benchmark", false, false)
	return err
}

// startRedis starts a private redis-server on a free port, without persistence.
func startRedis() (addr string, pid int, cleanup func(), err error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return "", 0, nil, fmt.Errorf("redis-server not installed: %w", err)
	}
	dir, err := os.MkdirTemp("", "bench-predictor-redis-")
	if err != nil {
		return "", 0, nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", 0, nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(bin, "--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir)
	cmd.Stdout, _ = os.Create(filepath.Join(dir, "redis.log"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return "", 0, nil, err
	}
	cleanup = func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); os.RemoveAll(dir) }
	addr = fmt.Sprintf("127.0.0.1:%d", port)
	for deadline := time.Now().Add(10 * time.Second); ; {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr, cmd.Process.Pid, cleanup, nil
		}
		if time.Now().After(deadline) {
			cleanup()
			return "", 0, nil, fmt.Errorf("redis-server did not listen on %s", addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
