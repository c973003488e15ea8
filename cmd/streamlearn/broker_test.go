package main_test

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamlearn/streamlearn/internal/testenv"
)

// brokerProc is a `streamlearn broker` subprocess.
type brokerProc struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	exited chan error
}

func startBrokerProc(t *testing.T, bin string, args ...string) *brokerProc {
	t.Helper()
	p := &brokerProc{stderr: &syncBuffer{}, exited: make(chan error, 1)}
	p.cmd = exec.Command(bin, append([]string{"broker"}, args...)...)
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.exited <- p.cmd.Wait() }()
	t.Cleanup(func() { _ = p.cmd.Process.Kill() })
	return p
}

// waitListening waits until the broker accepts connections.
func (p *brokerProc) waitListening(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		select {
		case err := <-p.exited:
			t.Fatalf("broker exited: %v\n%s", err, p.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("broker not listening on %s after 20s:\n%s", addr, p.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// term sends SIGTERM and requires exit status 0 within 20 s.
func (p *brokerProc) term(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.exited:
		if err != nil {
			t.Fatalf("broker exit after SIGTERM: %v\n%s", err, p.stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("broker still running 20s after SIGTERM:\n%s", p.stderr.String())
	}
	if !strings.Contains(p.stderr.String(), "broker stopped") {
		t.Errorf("no stop line in the log:\n%s", p.stderr.String())
	}
}

// TestBrokerCommand runs `streamlearn broker` as a subprocess, produces and consumes with franz-go
// (a consumer group that commits) and kcat, stops it with SIGTERM, starts it again on its data dir
// and reads every record and the group's committed offsets back.
func TestBrokerCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := build(t)
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	dataDir := t.TempDir()
	args := []string{"--listen", addr, "--data-dir", dataDir, "--partitions", "3"}
	p := startBrokerProc(t, bin, args...)
	p.waitListening(t, addr)

	ctx := testenv.Context(t, 60*time.Second)
	want := produceRecords(ctx, t, addr, "events", 300) // a topic the broker creates at start
	want = append(want, produceWithKcat(ctx, t, addr, "events")...)
	sort.Strings(want)
	if got := consumeGroup(ctx, t, addr, "events", "g1", len(want)); !equal(got, want) {
		t.Fatalf("consumed %d records, want %d", len(got), len(want))
	}
	if got := partitionCount(ctx, t, addr, "events"); got != 3 {
		t.Errorf("events has %d partitions, want 3", got)
	}
	p.term(t)

	p = startBrokerProc(t, bin, args...)
	p.waitListening(t, addr)
	if got := consumeAll(ctx, t, addr, "events", len(want)); !equal(got, want) {
		t.Fatalf("after restart: read %d records back, want %d", len(got), len(want))
	}
	if got := committed(ctx, t, addr, "g1", "events"); got != int64(len(want)) {
		t.Errorf("after restart: group g1 committed %d records, want %d", got, len(want))
	}
	p.term(t)
}

func produceRecords(ctx context.Context, t *testing.T, addr, topic string, n int) []string {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []string
	var recs []*kgo.Record
	for i := range n {
		v := fmt.Sprintf("franz-%d", i)
		out = append(out, v)
		recs = append(recs, &kgo.Record{Topic: topic, Key: []byte(fmt.Sprint(i % 17)), Value: []byte(v)})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	return out
}

// produceWithKcat produces 5 records with kcat (librdkafka) when it is installed.
func produceWithKcat(ctx context.Context, t *testing.T, addr, topic string) []string {
	t.Helper()
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		if testenv.InCI() {
			t.Fatal("kcat is not installed (CI installs it)")
		}
		t.Log("kcat not installed: librdkafka interop not checked")
		return nil
	}
	var in strings.Builder
	var out []string
	for i := range 5 {
		fmt.Fprintf(&in, "k%d:kcat-%d\n", i, i)
		out = append(out, fmt.Sprintf("kcat-%d", i))
	}
	cmd := exec.CommandContext(ctx, kcat, "-P", "-b", addr, "-t", topic, "-K:")
	cmd.Stdin = strings.NewReader(in.String())
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kcat produce: %v\n%s", err, b)
	}
	b, err := exec.CommandContext(ctx, kcat, "-C", "-b", addr, "-t", topic, "-o", "beginning", "-e", "-q", "-f", "%s\n").Output()
	if err != nil {
		t.Fatalf("kcat consume: %v", err)
	}
	if got := strings.Count(string(b), "kcat-"); got != 5 {
		t.Errorf("kcat read %d of its 5 records", got)
	}
	return out
}

// consumeGroup reads n records in group g and commits them.
func consumeGroup(ctx context.Context, t *testing.T, addr, topic, g string, n int) []string {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic), kgo.ConsumerGroup(g),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	got := poll(ctx, t, cl, n)
	if err := cl.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatalf("commit: %v", err)
	}
	return got
}

// consumeAll reads n records from the start of topic, without a group.
func consumeAll(ctx context.Context, t *testing.T, addr, topic string, n int) []string {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	return poll(ctx, t, cl, n)
}

func poll(ctx context.Context, t *testing.T, cl *kgo.Client, n int) []string {
	t.Helper()
	var got []string
	for len(got) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records: %v", len(got), n, ctx.Err())
		}
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	sort.Strings(got)
	return got
}

func partitionCount(ctx context.Context, t *testing.T, addr, topic string) int {
	t.Helper()
	adm := admin(t, addr)
	td, err := adm.ListTopics(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	return len(td[topic].Partitions)
}

// committed sums group g's committed offsets on topic.
func committed(ctx context.Context, t *testing.T, addr, g, topic string) int64 {
	t.Helper()
	offs, err := admin(t, addr).FetchOffsets(ctx, g)
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	offs.Each(func(o kadm.OffsetResponse) {
		if o.Topic == topic {
			sum += o.At
		}
	})
	return sum
}

func admin(t *testing.T, addr string) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

func equal(a, b []string) bool { return slices.Equal(a, b) }
