package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	goredis "github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamlearn/streamlearn/bench/internal/procstat"
	"github.com/streamlearn/streamlearn/internal/kafkaclient"
	"github.com/streamlearn/streamlearn/internal/synth"
)

// stack is one run's broker process, config, Kafka client, Redis and ClickHouse connections.
type stack struct {
	o       options
	run     int
	cfgFile string
	prefix  string
	db      string
	topics  kafkaclient.Topics
	broker  *exec.Cmd
	cl      *kgo.Client
	adm     *kadm.Client
	rdb     *goredis.Client
	chc     driver.Conn
	// ops is the running role process's ops address (/metrics).
	ops string
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func newStack(ctx context.Context, o options, run int) (*stack, error) {
	now := time.Now().UnixNano()
	s := &stack{o: o, run: run, topics: kafkaclient.DefaultTopics(),
		prefix: fmt.Sprintf("bench:roles:%d:", now), db: fmt.Sprintf("bench_roles_%d_%d", run, now%1e9)}
	brokerAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	aggregates := ""
	if o.windows != "" {
		aggregates = fmt.Sprintf("features:\n  aggregates:\n    - {function: count, windows: [%s]}\n    - {function: mean, field: \"*\", windows: [%s]}\n", o.windows, o.windows)
	}
	cfg := fmt.Sprintf(`kafka:
  brokers: [%q]
  partitions: 4
redis:
  addr: %q
  key_prefix: %q
clickhouse:
  addr: [%q]
  database: %s
learner:
  device: cpu
log:
  level: error
%s`, brokerAddr, o.redis, s.prefix, o.ch, s.db, aggregates)
	s.cfgFile = filepath.Join(o.dir, fmt.Sprintf("run%d.yaml", run))
	if err := os.WriteFile(s.cfgFile, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	s.broker = exec.Command(o.bin, "broker", "--listen", brokerAddr, "--config", s.cfgFile)
	s.broker.Stdout, s.broker.Stderr = os.Stderr, os.Stderr
	s.broker.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.broker.Start(); err != nil {
		return nil, err
	}
	if s.cl, err = kgo.NewClient(kgo.SeedBrokers(brokerAddr), kgo.ProducerLinger(5*time.Millisecond),
		kgo.MaxBufferedRecords(1<<20), kgo.DefaultProduceTopic(s.topics.Events)); err != nil {
		s.close()
		return nil, err
	}
	s.adm = kadm.NewClient(s.cl)
	s.rdb = goredis.NewClient(&goredis.Options{Addr: o.redis})
	if s.chc, err = clickhouse.Open(&clickhouse.Options{Addr: []string{o.ch}}); err != nil {
		s.close()
		return nil, err
	}
	if err := s.waitTopics(ctx); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// waitTopics waits until the broker serves the topics it creates.
func (s *stack) waitTopics(ctx context.Context) error {
	return poll(ctx, time.Minute, func() (bool, error) {
		md, err := s.adm.ListTopics(ctx, s.topics.Events, s.topics.Outcomes)
		return err == nil && md.Has(s.topics.Events) && md.Has(s.topics.Outcomes) && md[s.topics.Events].Err == nil, nil
	})
}

func (s *stack) close() {
	if s.cl != nil {
		s.cl.Close()
	}
	if s.rdb != nil {
		iter := s.rdb.Scan(context.Background(), 0, s.prefix+"*", 10000).Iterator()
		for iter.Next(context.Background()) {
			s.rdb.Del(context.Background(), iter.Val())
		}
		s.rdb.Close()
	}
	if s.chc != nil {
		_ = s.chc.Exec(context.Background(), "DROP DATABASE IF EXISTS "+s.db)
		s.chc.Close()
	}
	if s.broker != nil && s.broker.Process != nil {
		_ = s.broker.Process.Signal(syscall.SIGTERM)
		_ = s.broker.Wait()
	}
}

// produce publishes the stream's events, or their outcomes, and waits until the broker has them.
func (s *stack) produce(ctx context.Context, outcomes bool) error {
	step := 100 * time.Millisecond
	g := synth.New(synth.Config{Seed: 1, Entities: s.o.entities, Start: time.Now().Add(-time.Duration(s.o.n) * step), Step: step})
	for range s.o.n {
		ev := g.Next()
		r := &kgo.Record{Topic: s.topics.Events, Key: []byte(ev.Entity), Value: ev.JSON()}
		if outcomes {
			r = &kgo.Record{Topic: s.topics.Outcomes, Key: []byte(ev.ID), Value: ev.OutcomeJSON()}
		}
		s.cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
			if err != nil {
				fmt.Fprintln(os.Stderr, "produce:", err)
			}
		})
	}
	return s.cl.Flush(ctx)
}

// measure runs role in a process of its own until done, and returns the CPU time and wall time it
// spent from /readyz to done.
func (s *stack) measure(ctx context.Context, role string, done func(context.Context) (bool, error)) (phase, error) {
	ops, err := freeAddr()
	if err != nil {
		return phase{}, err
	}
	s.ops = ops
	logf, err := os.Create(filepath.Join(s.o.dir, fmt.Sprintf("run%d-%s-%d.log", s.run, role, time.Now().UnixNano())))
	if err != nil {
		return phase{}, err
	}
	defer logf.Close()
	// The roles without the API serve /readyz and /metrics on http.ops_addr.
	cfg := s.cfgFile + "." + role + ".yaml"
	b, err := os.ReadFile(s.cfgFile)
	if err != nil {
		return phase{}, err
	}
	if err := os.WriteFile(cfg, append(b, fmt.Sprintf("http:\n  ops_addr: %q\n", ops)...), 0o600); err != nil {
		return phase{}, err
	}
	cmd := exec.Command(s.o.bin, role, "--config", cfg)
	cmd.Env = append(os.Environ(), "GOMAXPROCS="+strconv.Itoa(s.o.procs))
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return phase{}, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	if err := poll(ctx, time.Minute, func() (bool, error) { return ready(ops), exitedErr(exited) }); err != nil {
		stop()
		return phase{}, fmt.Errorf("%s not ready: %w (log %s)", role, err, logf.Name())
	}
	cpu0, err := procstat.CPUTime(cmd.Process.Pid)
	if err != nil {
		stop()
		return phase{}, err
	}
	redis0, ch0 := s.serverCPU()
	start := time.Now()
	err = poll(ctx, 20*time.Minute, func() (bool, error) {
		if err := exitedErr(exited); err != nil {
			return false, err
		}
		return done(ctx)
	})
	wall := time.Since(start)
	cpu1, cerr := procstat.CPUTime(cmd.Process.Pid)
	peak, rerr := peakRSS(cmd.Process.Pid)
	redis1, ch1 := s.serverCPU()
	stop()
	if err != nil {
		return phase{}, fmt.Errorf("%s: %w (log %s)", role, err, logf.Name())
	}
	return phase{cpu: cpu1 - cpu0, wall: wall, redis: redis1 - redis0, ch: ch1 - ch0, peakRSS: peak}, errors.Join(cerr, rerr)
}

// peakRSS is the most resident memory process pid has held (VmHWM in /proc/PID/status), in bytes.
func peakRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status", pid)
}

// serverCPU returns the CPU time of the Redis and ClickHouse servers so far (0 for one not given).
func (s *stack) serverCPU() (redis, ch time.Duration) {
	if s.o.redisPID > 0 {
		redis, _ = procstat.CPUTime(s.o.redisPID)
	}
	if s.o.chPID > 0 {
		ch, _ = procstat.CPUTime(s.o.chPID)
	}
	return redis, ch
}

func exitedErr(exited chan error) error {
	select {
	case err := <-exited:
		return fmt.Errorf("process exited: %v", err)
	default:
		return nil
	}
}

func ready(ops string) bool {
	resp, err := http.Get("http://" + ops + "/readyz")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode == http.StatusOK
}

// poll calls check every 50 ms until it reports done or fails, or timeout passes.
func poll(ctx context.Context, timeout time.Duration, check func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := check()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not done after %s", timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
