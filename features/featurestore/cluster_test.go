package featurestore_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/streamlearn/streamlearn/features/featurestore"
	"github.com/streamlearn/streamlearn/internal/testenv"
)

// On a 3-node Redis Cluster, the store gives the same vectors as on a single server, its entities
// spread over every node, and a batch is one pipeline per node.
func TestCluster(t *testing.T) {
	addrs := testenv.RedisCluster(t, 3)
	cluster := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: addrs})
	t.Cleanup(func() { cluster.Close() })
	ctx := testenv.Context(t, time.Minute)
	cfg := propertyConfig()
	onCluster, err := featurestore.NewOnline(cluster, cfg, featurestore.Options{Prefix: testPrefix(t)})
	if err != nil {
		t.Fatal(err)
	}
	single, _ := newStore(t, cfg, featurestore.Options{})

	rng := rand.New(rand.NewPCG(42, 1))
	stream := randomStream(rng, 2000, 40)
	for i := 0; i < len(stream); {
		n := min(1+rng.IntN(200), len(stream)-i)
		a, err := onCluster.Apply(ctx, stream[i:i+n])
		if err != nil {
			t.Fatalf("cluster Apply: %v", err)
		}
		b, err := single.Apply(ctx, stream[i:i+n])
		if err != nil {
			t.Fatalf("single Apply: %v", err)
		}
		for j := range a {
			if fmt.Sprint(a[j]) != fmt.Sprint(b[j]) {
				t.Fatalf("event %d: cluster %v, single server %v", i+j, a[j], b[j])
			}
		}
		i += n
	}
	looked, err := onCluster.Lookup(ctx, stream[:50])
	if err != nil || len(looked) != 50 {
		t.Fatalf("cluster Lookup: %v", err)
	}
	// A node restarted and lost its scripts: the store loads them on every node again.
	if err := cluster.ForEachShard(ctx, func(ctx context.Context, c *goredis.Client) error { return c.ScriptFlush(ctx).Err() }); err != nil {
		t.Fatal(err)
	}
	if _, err := onCluster.Apply(ctx, randomStream(rand.New(rand.NewPCG(9, 9)), 100, 40)); err != nil {
		t.Fatalf("Apply after SCRIPT FLUSH: %v", err)
	}
	var nodes atomic.Int64 // ForEachMaster runs on every master at once
	err = cluster.ForEachMaster(ctx, func(ctx context.Context, c *goredis.Client) error {
		if n, err := c.DBSize(ctx).Result(); err == nil && n > 0 {
			nodes.Add(1)
		}
		return nil
	})
	if err != nil || nodes.Load() != 3 {
		t.Errorf("entities on %d of 3 nodes (%v)", nodes.Load(), err)
	}
	snap, ok, err := onCluster.Aggregates(ctx, "u1", time.Time{})
	if err != nil || !ok || snap.Values["count_7d"] == 0 {
		t.Errorf("Aggregates on the cluster: %+v %v %v", snap, ok, err)
	}
}
