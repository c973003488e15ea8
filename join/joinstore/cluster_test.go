package joinstore_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/streamlearn/streamlearn/internal/testenv"
	"github.com/streamlearn/streamlearn/join/joinstore"
	"github.com/streamlearn/streamlearn/wire"
)

// TestClusterNodeLostScripts: on a Redis Cluster, one node that lost its scripts (restarted, failed
// over) answers NOSCRIPT while the others answer; the pipeline's error is then often another
// node's nil reply. The store must still load the script and run the calls again, not fail them.
func TestClusterNodeLostScripts(t *testing.T) {
	addrs := testenv.RedisCluster(t, 3)
	rdb := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: addrs})
	t.Cleanup(func() { rdb.Close() })
	ctx := context.Background()
	prefix := fmt.Sprintf("t:%d:", time.Now().UnixNano())
	js := joinstore.NewStore(rdb, prefix, time.Minute)
	pend := func(from, n int) []wire.Pending {
		ps := make([]wire.Pending, n)
		for i := range ps {
			ps[i] = wire.Pending{ID: fmt.Sprintf("e-%d", from+i), Model: "m", Time: time.Unix(100, 0)}
		}
		return ps
	}
	if _, err := js.AddPending(ctx, pend(0, 10)); err != nil { // loads the script everywhere
		t.Fatal(err)
	}
	// Flush the scripts of every master but the one that answers the first call of the next batch,
	// so that its nil reply comes first.
	next := pend(1000, 300)
	first, err := rdb.MasterForKey(ctx, prefix+"join:{b"+bucketOf(t, rdb, prefix, next[0].ID)+"}:"+next[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	var flushed atomic.Int32 // ForEachMaster calls on every master at once
	err = rdb.ForEachMaster(ctx, func(ctx context.Context, c *goredis.Client) error {
		if c.Options().Addr == first.Options().Addr {
			return nil
		}
		flushed.Add(1)
		return c.ScriptFlush(ctx).Err()
	})
	if err != nil || flushed.Load() == 0 {
		t.Fatalf("script flush: %v (%d nodes)", err, flushed.Load())
	}
	if _, err := js.AddPending(ctx, next); err != nil {
		t.Fatalf("AddPending with a node without scripts: %v", err)
	}
	// Every prediction was stored: their outcomes join.
	os := make([]wire.Outcome, len(next))
	for i, p := range next {
		os[i] = wire.Outcome{ID: p.ID, Value: 1, Time: time.Unix(200, 0)}
	}
	exs, err := js.AddOutcomes(ctx, os)
	if err != nil {
		t.Fatal(err)
	}
	if len(exs) != len(next) {
		t.Errorf("%d examples, want %d", len(exs), len(next))
	}
}

// bucketOf finds the join bucket of id by the key the store writes for it.
func bucketOf(t *testing.T, rdb *goredis.ClusterClient, prefix, id string) string {
	t.Helper()
	js := joinstore.NewStore(rdb, prefix+"probe:", time.Minute)
	ctx := context.Background()
	if _, err := js.AddPending(ctx, []wire.Pending{{ID: id, Model: "m", Time: time.Unix(100, 0)}}); err != nil {
		t.Fatal(err)
	}
	for b := range 64 {
		n, err := rdb.Exists(ctx, fmt.Sprintf("%sprobe:join:{b%d}:%s", prefix, b, id)).Result()
		if err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			return fmt.Sprint(b)
		}
	}
	t.Fatalf("no join key for %s", id)
	return ""
}
