package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamlearn/streamlearn/features"
	"github.com/streamlearn/streamlearn/internal/config"
	"github.com/streamlearn/streamlearn/internal/synth"
	"github.com/streamlearn/streamlearn/internal/testenv"
	"github.com/streamlearn/streamlearn/learner"
	"github.com/streamlearn/streamlearn/learner/registry"
	"github.com/streamlearn/streamlearn/wire"
)

// TestLearnerSurvivesKill9 kills the learner process with SIGKILL mid-stream and starts it again:
// the model must have learned every example exactly once, which shows as a Seen count equal to the
// stream length and weights bit-identical to a learner fed the same stream without interruption.
func TestLearnerSurvivesKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	const n = 30000
	reg, examples := killAndResume(t, n, "", nil, nil, os.Stderr)
	// The resumed model equals one trained without interruption on the same order.
	// The zero-config model: family auto, every family learned side by side, so the kill -9 checks
	// that each of them resumes bit-exactly.
	ref, err := learner.NewTrainer(config.DefaultConfig().Model)
	if err != nil {
		t.Fatal(err)
	}
	for _, ex := range examples {
		ref.Learn(ex.Features, learner.Label{Value: ex.Label})
	}
	cp, err := reg.Checkpoint(context.Background(), "default")
	if err != nil {
		t.Fatal(err)
	}
	got, err := learner.UnmarshalTrainer(cp.State)
	if err != nil {
		t.Fatal(err)
	}
	if got.Seen() != ref.Seen() {
		t.Fatalf("seen %d, reference %d", got.Seen(), ref.Seen())
	}
	for _, ex := range examples[:200] {
		if a, b := got.Predict(ex.Features).Score, ref.Predict(ex.Features).Score; a != b {
			t.Fatalf("resumed model scores %v, uninterrupted %v: not the same weights", a, b)
		}
	}
}

// killAndResume runs `streamlearn learner` with args (and env added to the environment, and extra
// appended to its config file) over a stream
// of n examples, SIGKILLs it once it has checkpointed 3,000, starts it again, and checks that exactly
// n were learned in the end. Its stderr goes to stderr. It returns the registry and the stream.
func killAndResume(t *testing.T, n int, extra string, args, env []string, stderr io.Writer) (*registry.Registry, []wire.Example) {
	t.Helper()
	bin := build(t)
	if len(env) > 0 {
		env = append(os.Environ(), env...)
	}
	brokers := testenv.Kafka(t, 1, "examples") // one partition: a total order to compare against
	redisAddr := testenv.Redis(t)
	prefix := fmt.Sprintf("kill9:%d:", time.Now().UnixNano())
	cfgFile := filepath.Join(t.TempDir(), "streamlearn.yaml")
	cfg := fmt.Sprintf("redis:\n  key_prefix: %q\nclickhouse:\n  database: kill9_%d\nkafka:\n  partitions: 1\nlearner:\n  publish_interval: 100ms\n",
		prefix, time.Now().UnixNano()%1e9)
	if err := os.WriteFile(cfgFile, []byte(cfg+extra), 0o600); err != nil {
		t.Fatal(err)
	}
	startLearner := func() *exec.Cmd {
		cmd := exec.Command(bin, append([]string{"learner", "--config", cfgFile, "--kafka", brokers, "--redis", redisAddr,
			"--clickhouse", testenv.ClickHouse(t), "--log-level", "warn"}, args...)...)
		cmd.Stderr, cmd.Env = stderr, env
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		return cmd
	}

	// The stream: examples as the join would write them.
	g := synth.New(synth.Config{Seed: 5, Entities: 500, Start: time.Now().Add(-24 * time.Hour), Step: time.Second})
	examples := make([]wire.Example, n)
	for i := range examples {
		ev := g.Next()
		v := features.RawVector(wire.Event{ID: ev.ID, Entity: ev.Entity, Time: ev.Time, Fields: ev.Fields})
		examples[i] = wire.Example{Pending: wire.Pending{ID: ev.ID, Time: ev.Time, Features: v, Model: "default"}, Label: float64(ev.Label), OutcomeTime: ev.OutcomeTime}
	}
	producer, err := kgo.NewClient(kgo.SeedBrokers(brokers))
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	// The stream trickles in, in three parts: the second waits for a checkpoint of the first, the
	// third for the kill. The kill comes once a checkpoint covers part of the second, so it lands
	// mid-stream, with the learner likely busy, however fast it learns.
	produced := make(chan error, 1)
	first, second := n*2/5/500*500, n*7/10/500*500
	gates := map[int]*gate{first: newGate(), second: newGate()}
	t.Cleanup(func() { gates[first].open(); gates[second].open() })
	go func() {
		for from := 0; from < n; from += 500 {
			if g, ok := gates[from]; ok {
				<-g.c
			}
			recs := make([]*kgo.Record, 0, 500)
			for _, ex := range examples[from:min(from+500, n)] {
				b, _ := json.Marshal(ex)
				recs = append(recs, &kgo.Record{Topic: "examples", Key: []byte(ex.ID), Value: b})
			}
			if err := producer.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
				produced <- err
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		produced <- nil
	}()

	rdb := goredis.NewClient(&goredis.Options{Addr: redisAddr})
	t.Cleanup(func() { rdb.Close() })
	reg := registry.NewRegistry(rdb, prefix)
	learned := func() int64 {
		cp, err := reg.Checkpoint(context.Background(), "default")
		if err != nil || cp == nil {
			return 0
		}
		v, err := reg.Get(context.Background(), "default", cp.Version)
		if err != nil {
			return 0
		}
		return v.Examples
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(90 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s (learned %d)", what, learned())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	learner := startLearner()
	waitFor("a checkpoint of the first part", func() bool { return learned() > 3000 })
	gates[first].open()
	waitFor("a checkpoint into the second part", func() bool { return learned() > int64(first) })
	if err := learner.Process.Kill(); err != nil { // SIGKILL: no flush, no final checkpoint
		t.Fatal(err)
	}
	_ = learner.Wait()
	gates[second].open()
	killedAt := learned()
	if killedAt >= int64(n) {
		t.Fatalf("the learner had learned everything (%d) before the kill; the test proves nothing", killedAt)
	}
	startLearner()
	if err := <-produced; err != nil {
		t.Fatal(err)
	}
	waitFor("every example learned", func() bool { return learned() >= int64(n) })
	time.Sleep(500 * time.Millisecond) // a double-applied example would show up now
	if got := learned(); got != int64(n) {
		t.Fatalf("learned %d examples, want exactly %d (killed at %d)", got, n, killedAt)
	}
	t.Logf("killed with %d examples checkpointed; resumed to %d", killedAt, n)
	return reg, examples
}

// TestLearnerOnGPUSurvivesKill9 is TestLearnerSurvivesKill9 with --device cuda on the fake driver
// (learner/cuda/emulator/fake_driver.cpp: the real kernels on the CPU behind the driver API): the
// binary loads it through its purego bindings, trains in minibatches on the "GPU", and after SIGKILL
// resumes from its checkpoint with every example learned exactly once.
func TestLearnerOnGPUSurvivesKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	var stderr syncBuffer
	// Zero config is family auto, which trains on the CPU only; linear (here), fm and mlp
	// (TestLearnerFamiliesOnGPUSurviveKill9) train on the GPU.
	reg, _ := killAndResume(t, 20000, "model:\n  family: linear\n", []string{"--device", "cuda", "--log-level", "info"}, testenv.FakeCUDAEnv(testenv.FakeCUDA(t)), &stderr)
	if !strings.Contains(stderr.String(), "cuda: Fake GPU (CPU emulator), as asked; minibatches of 256") {
		t.Fatalf("the learner did not train on the fake GPU; its log:\n%s", stderr.String())
	}
	live, err := reg.Live(context.Background(), "default")
	if err != nil || !(live.Metrics.AUC > 0.6) {
		t.Fatalf("last version %+v, %v: want a progressive AUC above 0.6", live, err)
	}
	t.Logf("progressive AUC %.3f on the fake GPU", live.Metrics.AUC)
}

// gate holds back a goroutine until it is opened, once.
type gate struct {
	once sync.Once
	c    chan struct{}
}

func newGate() *gate { return &gate{c: make(chan struct{})} }

func (g *gate) open() { g.once.Do(func() { close(g.c) }) }

// syncBuffer is a bytes.Buffer that two processes' stderr copiers may write at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestLearnerFamiliesOnGPUSurviveKill9 is TestLearnerOnGPUSurvivesKill9 for a factorization machine
// and an MLP: with --device cuda each trains on the fake GPU (its own kernels, learner/cuda/family.go),
// checkpoints in the CPU family's format, and resumes there after SIGKILL with every example learned
// exactly once.
func TestLearnerFamiliesOnGPUSurviveKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	for _, family := range []string{"fm", "mlp"} {
		const n = 20000
		t.Run(family, func(t *testing.T) {
			var stderr syncBuffer
			reg, _ := killAndResume(t, n, "model:\n  family: "+family+"\n", []string{"--device", "cuda", "--log-level", "info"},
				testenv.FakeCUDAEnv(testenv.FakeCUDA(t)), &stderr)
			if !strings.Contains(stderr.String(), "cuda: Fake GPU (CPU emulator), as asked; family "+family+", minibatches of 256") {
				t.Fatalf("the learner did not train the %s on the fake GPU; its log:\n%s", family, stderr.String())
			}
			live, err := reg.Live(context.Background(), "default")
			if err != nil || !(live.Metrics.AUC > 0.6) {
				t.Fatalf("last version %+v, %v: want a progressive AUC above 0.6", live, err)
			}
			t.Logf("progressive AUC %.3f for the %s on the fake GPU", live.Metrics.AUC, family)
		})
	}
}
