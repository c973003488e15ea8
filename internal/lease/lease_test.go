package lease_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/streamlearn/streamlearn/internal/lease"
	"github.com/streamlearn/streamlearn/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func client(t *testing.T) (goredis.UniversalClient, string) {
	t.Helper()
	rdb := goredis.NewClient(&goredis.Options{Addr: testenv.Redis(t)})
	t.Cleanup(func() { rdb.Close() })
	return rdb, fmt.Sprintf("t:%s:%d:{l}", t.Name(), time.Now().UnixNano())
}

// fencedSet writes key=value only while fence holds the lease.
func fencedSet(ctx context.Context, rdb goredis.UniversalClient, leaseKey, fence, key, value string) error {
	return rdb.Watch(ctx, func(tx *goredis.Tx) error {
		if err := lease.Check(ctx, tx, leaseKey, fence); err != nil {
			return err
		}
		_, err := tx.TxPipelined(ctx, func(p goredis.Pipeliner) error { return p.Set(ctx, key, value, 0).Err() })
		return err
	}, leaseKey)
}

// TestStandbyTakesOverAndStaleWritesAreRefused: a holder that stops renewing (dead, paused) loses
// its lease after the TTL, a standby takes it with a larger token, and the old holder's fenced
// writes are refused from then on.
func TestStandbyTakesOverAndStaleWritesAreRefused(t *testing.T) {
	rdb, key := client(t)
	ctx := context.Background()
	const ttl = 300 * time.Millisecond
	a := lease.New(rdb, key, "a", ttl, nil)
	b := lease.New(rdb, key, "b", ttl, nil)
	fa, err := a.TryAcquire(ctx)
	if err != nil || fa == "" {
		t.Fatalf("a: fence %q, %v", fa, err)
	}
	if fb, err := b.TryAcquire(ctx); err != nil || fb != "" {
		t.Fatalf("b took a held lease: %q, %v", fb, err)
	}
	if err := fencedSet(ctx, rdb, key, fa, key+":data", "a"); err != nil {
		t.Fatalf("holder's write refused: %v", err)
	}
	time.Sleep(ttl + 100*time.Millisecond) // a is paused: no renewal
	fb, err := b.TryAcquire(ctx)
	if err != nil || fb == "" {
		t.Fatalf("b did not take the lapsed lease: %q, %v", fb, err)
	}
	if lease.Token(fb) <= lease.Token(fa) {
		t.Errorf("token %d after %d: fencing tokens must grow", lease.Token(fb), lease.Token(fa))
	}
	if err := fencedSet(ctx, rdb, key, fa, key+":data", "stale"); !errors.Is(err, lease.ErrFenced) {
		t.Errorf("stale holder's write: %v, want ErrFenced", err)
	}
	if err := fencedSet(ctx, rdb, key, fb, key+":data", "b"); err != nil {
		t.Errorf("new holder's write refused: %v", err)
	}
	if got, _ := rdb.Get(ctx, key+":data").Result(); got != "b" {
		t.Errorf("data = %q, want b", got)
	}
}

// TestRunKeepsOneActive: two instances run the same work; only one runs it at any time, the other
// takes over when the first stops, and a holder whose lease is taken from it sees its work end
// with ErrLost.
func TestRunKeepsOneActive(t *testing.T) {
	rdb, key := client(t)
	const ttl = 300 * time.Millisecond
	var active, maxActive, runs atomic.Int64
	work := func(ctx context.Context, fence string) error {
		runs.Add(1)
		n := active.Add(1)
		for {
			m := maxActive.Load()
			if n <= m || maxActive.CompareAndSwap(m, n) {
				break
			}
		}
		<-ctx.Done()
		active.Add(-1)
		return nil
	}
	ctxA, stopA := context.WithCancel(context.Background())
	ctxB, stopB := context.WithCancel(context.Background())
	defer stopB()
	doneA, doneB := make(chan error, 1), make(chan error, 1)
	go func() { doneA <- lease.New(rdb, key, "a", ttl, nil).Run(ctxA, work) }()
	time.Sleep(100 * time.Millisecond)
	go func() { doneB <- lease.New(rdb, key, "b", ttl, nil).Run(ctxB, work) }()
	time.Sleep(4 * ttl) // several renewals: a keeps it, b waits
	if runs.Load() != 1 || active.Load() != 1 {
		t.Fatalf("%d runs, %d active; want a alone", runs.Load(), active.Load())
	}
	stopA()
	if err := <-doneA; err != nil {
		t.Fatalf("a: %v", err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for runs.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if runs.Load() != 2 {
		t.Fatal("b did not take over after a stopped")
	}
	if maxActive.Load() != 1 {
		t.Errorf("%d ran at once, want 1", maxActive.Load())
	}

	// Someone takes b's lease (its TTL lapsed during a pause): b's work ends, with ErrLost.
	lost := make(chan error, 1)
	lease2 := lease.New(rdb, key+"2", "b", ttl, nil)
	ctxC, stopC := context.WithCancel(context.Background())
	defer stopC()
	go func() {
		_ = lease2.Run(ctxC, func(ctx context.Context, _ string) error {
			<-ctx.Done()
			select {
			case lost <- context.Cause(ctx):
			default:
			}
			return nil
		})
	}()
	time.Sleep(100 * time.Millisecond)
	// c took it over: in one step, so that b cannot take the free lease back in between.
	if err := rdb.Set(context.Background(), key+"2", "999|c", 10*ttl).Err(); err != nil {
		t.Fatal(err)
	}
	select {
	case cause := <-lost:
		if !errors.Is(cause, lease.ErrLost) {
			t.Errorf("work ended with %v, want ErrLost", cause)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("work went on after its lease was taken")
	}
}
