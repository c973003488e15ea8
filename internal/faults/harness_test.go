package faults_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	goredis "github.com/redis/go-redis/v9"
	segkafka "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamlearn/streamlearn/internal/testenv"
	"github.com/streamlearn/streamlearn/learner/registry"
)

// binary is the streamlearn binary built once for the package's tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "streamlearn-faults-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "streamlearn")
	build := exec.Command("go", "build", "-o", binary, "github.com/streamlearn/streamlearn/cmd/streamlearn")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build streamlearn: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	testenv.StopAll()
	writeReport()
	os.RemoveAll(dir)
	os.Exit(code)
}

// long skips a case that takes minutes unless STREAMLEARN_FAULTS=1 (make faults sets it).
func long(t *testing.T) {
	t.Helper()
	if os.Getenv("STREAMLEARN_FAULTS") != "1" {
		t.Skip("long fault case: runs under `make faults` (STREAMLEARN_FAULTS=1)")
	}
}

// ---- results ----

// result is one case's numbers, as published in docs/RELIABILITY.md.
type result struct {
	Case            string  `json:"case"`
	EventsIn        int     `json:"events_in"`
	OutcomesIn      int     `json:"outcomes_in"`
	PoisonIn        int     `json:"poison_in"`
	PredictionsOut  int     `json:"predictions_out"`
	Joined          int     `json:"joined"`
	Learned         int64   `json:"learned"`
	DeadLetters     int     `json:"dead_letters"`
	Duplicates      int     `json:"duplicates"`
	Lost            int     `json:"lost"`
	RecoverySeconds float64 `json:"recovery_seconds"`
	Pass            bool    `json:"pass"`
}

var (
	resultsMu sync.Mutex
	results   []result
)

func record(t *testing.T, r result) {
	t.Helper()
	r.Case = t.Name()
	t.Logf("FAULTS case=%s events_in=%d outcomes_in=%d poison_in=%d predictions_out=%d joined=%d learned=%d dead_letters=%d duplicates=%d lost=%d recovery_s=%.1f",
		r.Case, r.EventsIn, r.OutcomesIn, r.PoisonIn, r.PredictionsOut, r.Joined, r.Learned, r.DeadLetters, r.Duplicates, r.Lost, r.RecoverySeconds)
	resultsMu.Lock()
	i := len(results)
	results = append(results, r)
	resultsMu.Unlock()
	t.Cleanup(func() {
		resultsMu.Lock()
		results[i].Pass = !t.Failed()
		resultsMu.Unlock()
	})
}

func writeReport() {
	path := os.Getenv("FAULTS_REPORT")
	if path == "" {
		return
	}
	resultsMu.Lock()
	defer resultsMu.Unlock()
	b, _ := json.MarshalIndent(results, "", "  ")
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		fmt.Fprintf(os.Stderr, "write %s: %v\n", path, err)
	}
}

// ---- private Redis ----

// redisServer is a redis-server owned by one test, which it can stop and start again on the same
// port. It keeps an append-only file, as a production Redis holding streamlearn's state must, so a
// restart keeps pending joins, checkpoints and the registry.
type redisServer struct {
	Addr string
	port int
	dir  string
	cmd  *exec.Cmd
	args []string
}

func startRedis(t *testing.T, extra ...string) *redisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if testenv.InCI() {
			t.Fatal("redis-server not installed (CI=true)")
		}
		t.Skip("redis-server not installed")
	}
	s := &redisServer{port: testenv.FreePort(t), dir: t.TempDir()}
	s.Addr = fmt.Sprintf("127.0.0.1:%d", s.port)
	s.args = append([]string{"--port", fmt.Sprint(s.port), "--bind", "127.0.0.1", "--dir", s.dir, "--save", "",
		"--appendonly", "yes", "--appendfsync", "everysec", "--protected-mode", "no"}, extra...)
	s.cmd = s.spawn(t, bin)
	t.Cleanup(func() { s.Stop() })
	return s
}

func (s *redisServer) spawn(t *testing.T, bin string) *exec.Cmd {
	t.Helper()
	log, err := os.OpenFile(filepath.Join(s.dir, "redis.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, s.args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "redis-server to answer", 20*time.Second, func() bool {
		c := goredis.NewClient(&goredis.Options{Addr: s.Addr})
		defer c.Close()
		return c.Ping(context.Background()).Err() == nil
	})
	return cmd
}

// Stop shuts Redis down (SIGTERM: it writes its append-only file) and waits for it.
func (s *redisServer) Stop() {
	if s.cmd == nil {
		return
	}
	testenv.StopProcess(s.cmd, 20*time.Second)
	s.cmd = nil
}

// Start starts a stopped Redis again on its port and data.
func (s *redisServer) Start(t *testing.T) {
	t.Helper()
	bin, _ := exec.LookPath("redis-server")
	s.cmd = s.spawn(t, bin)
}

// ---- the system under test ----

// stack is one deployment of streamlearn: the servers it uses, its config file, and the processes
// running the binary.
type stack struct {
	t       *testing.T
	brokers string
	redis   string
	ch      string
	db      string
	prefix  string
	cfgFile string
	procs   []*proc
	// cluster lists Redis Cluster seed nodes (redis.addrs); redis is then the first of them and
	// the processes get no --redis flag, which would select a single server.
	cluster []string
	drift   string
}

// stackOpts overrides the defaults of newStack.
type stackOpts struct {
	brokers string   // default: a kfake broker in the test process
	redis   string   // default: the shared test Redis
	ch      string   // default: the shared test ClickHouse
	extra   string   // more YAML appended to the config
	drift   string   // more YAML in the drift section
	cluster []string // Redis Cluster seed nodes (redis.addrs) instead of a single Redis
}

func newStack(t *testing.T, o stackOpts) *stack {
	t.Helper()
	name := strings.ToLower(strings.NewReplacer("/", "_", "-", "_").Replace(t.Name()))
	now := time.Now().UnixNano()
	s := &stack{t: t, brokers: o.brokers, redis: o.redis, ch: o.ch, cluster: o.cluster, drift: o.drift,
		db: fmt.Sprintf("f_%s_%d", name, now%1e9), prefix: fmt.Sprintf("f:%s:%d:", name, now)}
	if s.brokers == "" {
		s.brokers = testenv.Kafka(t, 4, "events", "outcomes", "predictions", "events.dlq", "examples", "models", "control")
	}
	if len(s.cluster) > 0 {
		s.redis = s.cluster[0]
	}
	if s.redis == "" {
		s.redis = testenv.Redis(t)
	}
	if s.ch == "" {
		s.ch = testenv.ClickHouse(t)
	}
	s.cfgFile = s.writeConfig("", o.extra)
	t.Cleanup(func() {
		for _, p := range s.procs {
			p.kill()
		}
		if t.Failed() {
			for _, p := range s.procs {
				for _, f := range p.logs {
					b, _ := os.ReadFile(f)
					if len(b) > 6000 {
						b = b[len(b)-6000:]
					}
					t.Logf("---- %s ----\n%s", filepath.Base(f), b)
				}
			}
		}
	})
	return s
}

// writeConfig writes a config file for the stack's processes; kafka is more YAML in the kafka
// section, extra more top-level YAML.
func (s *stack) writeConfig(kafka, extra string) string {
	s.t.Helper()
	redis := ""
	if len(s.cluster) > 0 {
		redis = fmt.Sprintf("  addrs: [%s]\n", strings.Join(s.cluster, ", "))
	}
	cfg := fmt.Sprintf(`redis:
  key_prefix: %q
%sclickhouse:
  database: %s
kafka:
  partitions: 4
%slearner:
  publish_interval: 200ms
  lease_ttl: 3s
drift:
  flush_interval: 200ms
  lease_ttl: 3s
%slog:
  level: warn
%s`, s.prefix, redis, s.db, kafka, s.drift, extra)
	f, err := os.CreateTemp(s.t.TempDir(), "streamlearn-*.yaml")
	if err != nil {
		s.t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(cfg); err != nil {
		s.t.Fatal(err)
	}
	return f.Name()
}

// startBroker runs the embedded broker in a process of its own (`streamlearn predictor
// --embedded-kafka`, the HTTP role only) keeping its log in dataDir.
func (s *stack) startBroker(addr, dataDir string) *proc {
	s.t.Helper()
	cfg := s.writeConfig(fmt.Sprintf("  embedded_data_dir: %q\n", dataDir), "")
	p := &proc{s: s, name: "broker", http: fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(s.t))}
	p.args = []string{"predictor", "--config", cfg, "--redis", s.redis, "--clickhouse", s.ch, "--http", p.http, "--embedded-kafka", addr}
	s.procs = append(s.procs, p)
	p.spawn()
	p.waitReady()
	return p
}

// startBrokerCommand runs `streamlearn broker` (the embedded broker alone) on addr, creating the
// stack's topics with its partitions.
func (s *stack) startBrokerCommand(addr string) *proc {
	s.t.Helper()
	p := &proc{s: s, name: "broker"}
	p.args = []string{"broker", "--listen", addr, "--config", s.cfgFile}
	s.procs = append(s.procs, p)
	p.spawn()
	waitFor(s.t, "broker to listen", 30*time.Second, func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return p
}

// proc is one process of the binary running a command (serve, ingest, learner, drift, predictor),
// which a test can kill and start again with the same arguments.
type proc struct {
	s      *stack
	name   string
	args   []string
	http   string
	cmd    *exec.Cmd
	exited chan struct{}
	logs   []string
}

// start runs `streamlearn <command>` with the stack's config and servers.
func (s *stack) start(name, command string, extra ...string) *proc {
	s.t.Helper()
	p := &proc{s: s, name: name, http: fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(s.t))}
	p.args = append([]string{command, "--config", s.cfgFile, "--clickhouse", s.ch, "--http", p.http}, extra...)
	if len(s.cluster) == 0 {
		p.args = append(p.args, "--redis", s.redis)
	}
	if !slices.Contains(extra, "--embedded-kafka") {
		p.args = append(p.args, "--kafka", s.brokers)
	}
	s.procs = append(s.procs, p)
	p.spawn()
	if command == "serve" || command == "predictor" {
		p.waitReady()
	}
	return p
}

func (p *proc) spawn() {
	t := p.s.t
	t.Helper()
	logFile := filepath.Join(t.TempDir(), fmt.Sprintf("%s-%d.log", p.name, len(p.logs)))
	f, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	p.logs = append(p.logs, logFile)
	cmd := exec.Command(binary, p.args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p.cmd, p.exited = cmd, make(chan struct{})
	go func() { _ = cmd.Wait(); f.Close(); close(p.exited) }()
}

func (p *proc) waitReady() {
	p.s.t.Helper()
	waitFor(p.s.t, p.name+" /readyz", 60*time.Second, func() bool {
		select {
		case <-p.exited:
			p.s.t.Fatalf("%s exited before it was ready", p.name)
		default:
		}
		resp, err := http.Get("http://" + p.http + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// kill sends SIGKILL: no flush, no commit, no lease release.
func (p *proc) kill() {
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Kill()
	<-p.exited
	p.cmd = nil
}

// term sends SIGTERM and waits for a clean exit.
func (p *proc) term() {
	p.s.t.Helper()
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(60 * time.Second):
		p.s.t.Errorf("%s still running 60s after SIGTERM", p.name)
		p.kill()
	}
	if p.cmd.ProcessState != nil && !p.cmd.ProcessState.Success() {
		p.s.t.Errorf("%s exited with %v after SIGTERM", p.name, p.cmd.ProcessState)
	}
	p.cmd = nil
}

// restart starts the process again with the same arguments.
func (p *proc) restart() {
	p.s.t.Helper()
	p.spawn()
	if p.args[0] == "serve" || p.args[0] == "predictor" {
		p.waitReady()
	}
}

// ---- the stream ----

// stream is N events and their N outcomes, with ids unique to the test.
type stream struct {
	ids      []string
	events   []segkafka.Message
	outcomes []segkafka.Message
}

// newStream makes n events of recent event time, spread over 300 entities, each with an outcome 5s
// of event time later whose label depends on the fields.
func newStream(t *testing.T, n int) *stream {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, uint64(n)))
	base := time.Now().Add(-30 * time.Minute).UTC().Truncate(time.Millisecond)
	countries := []string{"DE", "FR", "US", "BR", "JP"}
	s := &stream{}
	tag := strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name()))
	for i := range n {
		id := fmt.Sprintf("%s-%06d", tag, i)
		entity := fmt.Sprintf("u-%d", i%300)
		tm := base.Add(time.Duration(i) * 10 * time.Millisecond)
		amount := rng.Float64() * 100
		country := countries[rng.IntN(len(countries))]
		label := 0
		if amount+rng.NormFloat64()*15 > 60 || (country == "BR" && rng.Float64() < 0.5) {
			label = 1
		}
		ev, _ := json.Marshal(map[string]any{"id": id, "entity": entity, "time": tm.Format(time.RFC3339Nano),
			"fields": map[string]any{"amount": amount, "country": country, "new": i%7 == 0}})
		oc, _ := json.Marshal(map[string]any{"id": id, "label": label, "time": tm.Add(5 * time.Second).Format(time.RFC3339Nano)})
		s.ids = append(s.ids, id)
		s.events = append(s.events, segkafka.Message{Key: []byte(entity), Value: ev})
		s.outcomes = append(s.outcomes, segkafka.Message{Key: []byte(id), Value: oc})
	}
	return s
}

// producer publishes with segmentio/kafka-go, a client independent of the franz-go that streamlearn
// uses. A failed write is retried until it succeeds (the broker may be down on purpose), so a record
// may be published twice, as any at-least-once producer may.
type producer struct {
	t       *testing.T
	writers map[string]*segkafka.Writer
	brokers string
}

func newProducer(t *testing.T, brokers string) *producer {
	p := &producer{t: t, writers: map[string]*segkafka.Writer{}, brokers: brokers}
	t.Cleanup(func() {
		for _, w := range p.writers {
			w.Close()
		}
	})
	return p
}

func (p *producer) send(topic string, msgs []segkafka.Message) {
	p.t.Helper()
	w := p.writers[topic]
	if w == nil {
		w = &segkafka.Writer{Addr: segkafka.TCP(p.brokers), Topic: topic, Balancer: &segkafka.Hash{},
			BatchTimeout: 5 * time.Millisecond, BatchSize: 1000, RequiredAcks: segkafka.RequireAll, MaxAttempts: 3}
		p.writers[topic] = w
	}
	deadline := time.Now().Add(3 * time.Minute)
	for len(msgs) > 0 {
		n := min(len(msgs), 500)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := w.WriteMessages(ctx, msgs[:n]...)
		cancel()
		if err != nil {
			if time.Now().After(deadline) {
				p.t.Fatalf("publish to %s: %v", topic, err)
			}
			time.Sleep(200 * time.Millisecond)
			continue
		}
		msgs = msgs[n:]
	}
}

// feed publishes events [from, to) and their outcomes in chunks, each chunk's outcomes right after
// its events, at about 10k events/s: the stream is still flowing when a fault lands.
func (p *producer) feed(s *stream, from, to int) {
	p.t.Helper()
	for i := from; i < to; i += 1000 {
		j := min(i+1000, to)
		p.send("events", s.events[i:j])
		p.send("outcomes", s.outcomes[i:j])
		time.Sleep(50 * time.Millisecond)
	}
}

// ---- observing the results ----

// counts is what the tables, the registry and the dead-letter topic hold for a stream.
type counts struct {
	predRows   int   // rows of predictions FINAL
	predIDs    int   // stream ids with a prediction row
	predDup    int   // ids with more than one row under FINAL
	predExtra  int   // rows for ids not in the stream
	outRows    int   // rows of outcomes FINAL
	joinedIDs  int   // stream ids whose outcome row is joined
	outDup     int   // ids with more than one outcome row under FINAL
	learned    int64 // examples in the latest checkpointed model version; -1 when unknown
	missingIDs []string
}

type observer struct {
	s    *stack
	ids  map[string]bool
	conn clickhouse.Conn
	rdb  goredis.UniversalClient
	reg  *registry.Registry
}

func (s *stack) observer(st *stream) *observer {
	s.t.Helper()
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{s.ch}, Protocol: clickhouse.Native,
		DialTimeout: 2 * time.Second, ReadTimeout: 10 * time.Second})
	if err != nil {
		s.t.Fatal(err)
	}
	var rdb goredis.UniversalClient
	if len(s.cluster) > 0 {
		rdb = goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: s.cluster, MaxRetries: -1, DialTimeout: time.Second})
	} else {
		rdb = goredis.NewClient(&goredis.Options{Addr: s.redis, MaxRetries: -1, DialTimeout: time.Second})
	}
	s.t.Cleanup(func() { conn.Close(); rdb.Close() })
	o := &observer{s: s, ids: map[string]bool{}, conn: conn, rdb: rdb, reg: registry.NewRegistry(rdb, s.prefix)}
	for _, id := range st.ids {
		o.ids[id] = true
	}
	return o
}

// measure reads the counts; ok is false when a server did not answer.
func (o *observer) measure() (c counts, ok bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c.learned = -1
	seen := map[string]bool{}
	rows, err := o.conn.Query(ctx, fmt.Sprintf("SELECT id, count() FROM %s.predictions FINAL GROUP BY id", o.s.db))
	if err != nil {
		return c, false
	}
	for rows.Next() {
		var id string
		var n uint64
		if err := rows.Scan(&id, &n); err != nil {
			rows.Close()
			return c, false
		}
		c.predRows += int(n)
		if n > 1 {
			c.predDup++
		}
		if o.ids[id] {
			c.predIDs++
			seen[id] = true
		} else {
			c.predExtra += int(n)
		}
	}
	rows.Close()
	if rows.Err() != nil {
		return c, false
	}
	for id := range o.ids {
		if !seen[id] {
			c.missingIDs = append(c.missingIDs, id)
		}
	}
	slices.Sort(c.missingIDs)
	rows, err = o.conn.Query(ctx, fmt.Sprintf("SELECT id, count(), max(joined) FROM %s.outcomes FINAL GROUP BY id", o.s.db))
	if err != nil {
		return c, false
	}
	for rows.Next() {
		var id string
		var n uint64
		var joined uint8
		if err := rows.Scan(&id, &n, &joined); err != nil {
			rows.Close()
			return c, false
		}
		c.outRows += int(n)
		if n > 1 {
			c.outDup++
		}
		if o.ids[id] && joined == 1 {
			c.joinedIDs++
		}
	}
	rows.Close()
	if rows.Err() != nil {
		return c, false
	}
	cp, err := o.reg.Checkpoint(ctx, "default")
	if err != nil {
		return c, false
	}
	if cp == nil {
		c.learned = 0
		return c, true
	}
	v, err := o.reg.Get(ctx, "default", cp.Version)
	if err != nil {
		return c, false
	}
	c.learned = v.Examples
	return c, true
}

// want is what a correct run ends with.
type want struct {
	predictions int   // stream ids that must be scored
	joined      int   // outcomes that must be joined
	learned     int64 // examples the model must have learned
	outRows     int   // rows of outcomes FINAL (joined ones and outcomes without a prediction)
}

// waitComplete polls until every count is reached (or timeout), then waits settle more for a
// duplicate to show, and returns the final counts and when they were first reached.
func (o *observer) waitComplete(w want, timeout time.Duration) (counts, time.Time) {
	o.s.t.Helper()
	deadline := time.Now().Add(timeout)
	var last counts
	for {
		c, ok := o.measure()
		if ok {
			last = c
			if c.predIDs >= w.predictions && c.joinedIDs >= w.joined && c.learned >= w.learned {
				reached := time.Now()
				// A late duplicate (an example learned twice, a row written again) would show up
				// within a few flush and publish intervals; nothing to poll for its absence.
				time.Sleep(2 * time.Second)
				if c2, ok := o.measure(); ok {
					c = c2
				}
				return c, reached
			}
		}
		if time.Now().After(deadline) {
			o.s.t.Errorf("not complete after %s: predictions %d/%d, joined %d/%d, learned %d/%d",
				timeout, last.predIDs, w.predictions, last.joinedIDs, w.joined, last.learned, w.learned)
			return last, time.Now()
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// progress waits until at least n stream ids have a prediction row: the pipeline is mid-stream.
func (o *observer) progress(n int, timeout time.Duration) {
	o.s.t.Helper()
	waitFor(o.s.t, fmt.Sprintf("%d predictions", n), timeout, func() bool {
		c, ok := o.measure()
		return ok && c.predIDs >= n
	})
}

// deadLetter is a record of the dead-letter topic.
type deadLetter struct {
	key, value, reason, topic string
}

// readDeadLetters reads the dead-letter topic from the start until it has n records and then a
// quiet second more, or until timeout.
func readDeadLetters(t *testing.T, brokers, topic string, n int, timeout time.Duration) []deadLetter {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []deadLetter
	deadline := time.Now().Add(timeout)
	quietUntil := time.Time{}
	for {
		if len(out) >= n && quietUntil.IsZero() {
			quietUntil = time.Now().Add(1500 * time.Millisecond)
		}
		end := deadline
		if !quietUntil.IsZero() && quietUntil.Before(end) {
			end = quietUntil
		}
		if time.Now().After(end) {
			return out
		}
		ctx, cancel := context.WithDeadline(context.Background(), end)
		fs := cl.PollFetches(ctx)
		cancel()
		fs.EachRecord(func(r *kgo.Record) {
			d := deadLetter{key: string(r.Key), value: string(r.Value)}
			for _, h := range r.Headers {
				switch h.Key {
				case "dlq.reason":
					d.reason = string(h.Value)
				case "dlq.topic":
					d.topic = string(h.Value)
				}
			}
			out = append(out, d)
		})
	}
}

// topicKeys reads a topic from the start until a poll brings nothing for 2 s and returns its
// records and distinct keys.
func topicKeys(t *testing.T, brokers, topic string) (records, keys int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	seen := map[string]bool{}
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		fs := cl.PollFetches(ctx)
		cancel()
		n := 0
		fs.EachRecord(func(r *kgo.Record) { seen[string(r.Key)] = true; records++; n++ })
		if n == 0 {
			return records, len(seen)
		}
	}
}

// check asserts the exact counts of a run, records its numbers, and fails the test on any
// difference. faultEnd is when the fault was over (the recovery time runs from it).
func check(t *testing.T, st *stack, c counts, w want, dls []deadLetter, poison int, eventsIn int, faultEnd, reached time.Time) {
	t.Helper()
	dup := c.predDup + c.outDup
	if c.learned > w.learned {
		dup += int(c.learned - w.learned)
	}
	lost := (w.predictions - c.predIDs) + (w.joined - c.joinedIDs)
	if c.learned >= 0 && c.learned < w.learned {
		lost += int(w.learned - c.learned)
	}
	rec := max(0, reached.Sub(faultEnd).Seconds())
	record(t, result{EventsIn: eventsIn, OutcomesIn: w.joined, PoisonIn: poison, PredictionsOut: c.predRows, Joined: c.joinedIDs,
		Learned: c.learned, DeadLetters: len(dls), Duplicates: dup, Lost: lost, RecoverySeconds: rec})
	if c.predIDs != w.predictions || c.predRows != w.predictions || c.predDup != 0 || c.predExtra != 0 {
		n := min(len(c.missingIDs), 5)
		t.Errorf("predictions FINAL: %d rows, %d of %d stream ids, %d ids with >1 row, %d rows of unknown ids (missing e.g. %v)",
			c.predRows, c.predIDs, w.predictions, c.predDup, c.predExtra, c.missingIDs[:n])
	}
	if c.joinedIDs != w.joined || c.outRows != w.outRows || c.outDup != 0 {
		t.Errorf("outcomes FINAL: %d rows (want %d), %d joined (want %d), %d ids with >1 row", c.outRows, w.outRows, c.joinedIDs, w.joined, c.outDup)
	}
	if c.learned != w.learned {
		t.Errorf("the model learned %d examples, want exactly %d", c.learned, w.learned)
	}
	if len(dls) != poison {
		t.Errorf("%d dead letters, want %d", len(dls), poison)
	}
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
