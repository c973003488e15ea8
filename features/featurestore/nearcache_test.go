package featurestore_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/streamlearn/streamlearn/features"
	"github.com/streamlearn/streamlearn/features/featurestore"
	"github.com/streamlearn/streamlearn/internal/testenv"
	"github.com/streamlearn/streamlearn/wire"
)

// cachedStores returns a store with a near cache and one without on the same keys of rdb.
func cachedStores(t *testing.T, rdb *goredis.Client, cfg features.Config) (cached, plain *featurestore.Online) {
	t.Helper()
	prefix := testPrefix(t)
	var err error
	if cached, err = featurestore.NewOnline(rdb, cfg, featurestore.Options{Prefix: prefix, NearCache: 10000}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cached.Close() })
	if plain, err = featurestore.NewOnline(rdb, cfg, featurestore.Options{Prefix: prefix}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deletePrefix(t, rdb, prefix) })
	return cached, plain
}

// waitCacheLive looks up evs until a lookup is answered from the cache.
func waitCacheLive(t *testing.T, s *featurestore.Online, evs []wire.Event) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		before := s.Stats().Cache.Hits
		if _, err := s.Lookup(context.Background(), evs); err != nil {
			t.Fatal(err)
		}
		if s.Stats().Cache.Hits > before {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the cache never served a lookup: %+v", s.Stats().Cache)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func mgetCalls(t *testing.T, rdb *goredis.Client) int {
	t.Helper()
	info, err := rdb.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(info, "\n") {
		if rest, ok := strings.CutPrefix(line, "cmdstat_mget:calls="); ok {
			n, _ := strconv.Atoi(rest[:strings.IndexByte(rest, ',')])
			return n
		}
	}
	return 0
}

// Repeated lookups of the same entities are answered from memory, with the vectors Redis gives.
func TestNearCacheAnswersRepeatedLookupsFromMemory(t *testing.T) {
	ctx := context.Background()
	rdb := goredis.NewClient(&goredis.Options{Addr: testenv.StartRedis(t)}) // commandstats of its own
	t.Cleanup(func() { rdb.Close() })
	cfg := features.DefaultConfig()
	cached, plain := cachedStores(t, rdb, cfg)
	var evs []wire.Event
	for i := range 50 {
		evs = append(evs, ev(fmt.Sprint("e", i), fmt.Sprint("u", i%10), time.Duration(i)*time.Second, map[string]any{"amount": float64(i), "country": "DE"}))
	}
	if _, err := plain.Apply(ctx, evs); err != nil {
		t.Fatal(err)
	}
	probe := []wire.Event{ev("p1", "u3", time.Hour, map[string]any{"amount": 5.0}), ev("p2", "u7", time.Hour, map[string]any{"amount": 1.0}), ev("p3", "nobody", time.Hour, nil)}
	if _, ok := plain.LookupCached(probe); ok {
		t.Fatal("a store without a cache answered from one")
	}
	waitCacheLive(t, cached, probe)
	want, err := plain.Lookup(ctx, probe)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := cached.LookupCached(probe); !ok || !reflect.DeepEqual(got, want) {
		t.Fatalf("LookupCached = %v, %v; want %v", got, ok, want)
	}
	other := append(probe[:len(probe):len(probe)], ev("p4", "never-looked-up", time.Hour, nil))
	if _, ok := cached.LookupCached(other); ok {
		t.Fatal("LookupCached answered for an entity it never read")
	}
	before := mgetCalls(t, rdb)
	for i := range 100 {
		got, err := cached.Lookup(ctx, probe)
		if i%2 == 1 {
			got, _ = cached.LookupCached(probe)
		}
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("cached lookup:\n%v\nwant\n%v", got, want)
		}
	}
	if n := mgetCalls(t, rdb) - before; n != 0 {
		t.Errorf("100 cached lookups made %d MGETs, want 0", n)
	}
}

// A write by anyone (another store, a plain DEL) reaches the cache: lookups see the new state.
func TestNearCacheSeesOtherWriters(t *testing.T) {
	ctx := context.Background()
	rdb := redisClient(t)
	cfg := features.DefaultConfig()
	cached, plain := cachedStores(t, rdb, cfg)
	probe := []wire.Event{ev("p", "u1", time.Hour, map[string]any{"amount": 5.0})}
	if _, err := plain.Apply(ctx, []wire.Event{ev("a", "u1", 0, map[string]any{"amount": 1.0})}); err != nil {
		t.Fatal(err)
	}
	waitCacheLive(t, cached, probe)
	converge := func(what string) {
		t.Helper()
		want, err := plain.Lookup(ctx, probe)
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			got, err := cached.Lookup(ctx, probe)
			if err != nil {
				t.Fatal(err)
			}
			if reflect.DeepEqual(got, want) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: the cache still serves\n%v\nwant\n%v", what, got, want)
			}
			time.Sleep(time.Millisecond)
		}
	}
	inval := cached.Stats().Cache.Invalidations
	if _, err := plain.Apply(ctx, []wire.Event{ev("b", "u1", time.Minute, map[string]any{"amount": 100.0})}); err != nil {
		t.Fatal(err)
	}
	converge("after another store's write")
	if err := rdb.Del(ctx, plainKey(t, rdb, "u1")).Err(); err != nil {
		t.Fatal(err)
	}
	converge("after the entity was deleted")
	if cached.Stats().Cache.Invalidations <= inval {
		t.Errorf("no invalidation counted: %+v", cached.Stats().Cache)
	}
}

// plainKey finds the key of entity among the test's keys.
func plainKey(t *testing.T, rdb *goredis.Client, entity string) string {
	t.Helper()
	keys, err := rdb.Keys(context.Background(), "t*:"+t.Name()+":f{"+entity+"}").Result()
	if err != nil || len(keys) != 1 {
		t.Fatalf("key of %s: %v %v", entity, keys, err)
	}
	return keys[0]
}

// Writers and cached readers at once: once the writers stop, every cached lookup equals Redis's.
// A read that raced a write is never kept past that write's invalidation.
func TestNearCacheUnderConcurrentWrites(t *testing.T) {
	ctx := context.Background()
	rdb := redisClient(t)
	cfg := features.DefaultConfig()
	cached, plain := cachedStores(t, rdb, cfg)
	entities := 20
	probe := make([]wire.Event, entities)
	for i := range probe {
		probe[i] = ev(fmt.Sprint("p", i), fmt.Sprint("u", i), 10*time.Hour, map[string]any{"amount": 1.0})
	}
	waitCacheLive(t, cached, probe)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 3 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 1))
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				e := ev(fmt.Sprint("w", w, "-", i), fmt.Sprint("u", r.IntN(entities)), time.Duration(i)*time.Second, map[string]any{"amount": r.Float64() * 100})
				if _, err := plain.Apply(ctx, []wire.Event{e}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	for range 3 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := cached.Lookup(ctx, probe); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	time.Sleep(2 * time.Second)
	close(stop)
	wg.Wait()
	want, err := plain.Lookup(ctx, probe)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, err := cached.Lookup(ctx, probe)
		if err != nil {
			t.Fatal(err)
		}
		if reflect.DeepEqual(got, want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stale after the writers stopped: %+v", cached.Stats().Cache)
		}
		time.Sleep(time.Millisecond)
	}
	st := cached.Stats().Cache
	t.Logf("cache: %+v", st)
	if st.Hits == 0 || st.Invalidations == 0 {
		t.Errorf("the test did not exercise the cache: %+v", st)
	}
}

// When its tracking connection is killed the cache drops everything and answers from Redis, so a
// write made while it reconnects is seen; then it serves from memory again.
func TestNearCacheTrackingConnectionKilled(t *testing.T) {
	ctx := context.Background()
	rdb := goredis.NewClient(&goredis.Options{Addr: testenv.StartRedis(t)})
	t.Cleanup(func() { rdb.Close() })
	cfg := features.DefaultConfig()
	cached, plain := cachedStores(t, rdb, cfg)
	probe := []wire.Event{ev("p", "u1", time.Hour, map[string]any{"amount": 5.0})}
	if _, err := plain.Apply(ctx, []wire.Event{ev("a", "u1", 0, map[string]any{"amount": 1.0})}); err != nil {
		t.Fatal(err)
	}
	waitCacheLive(t, cached, probe)
	resets := cached.Stats().Cache.Resets
	for round := range 3 {
		killed, err := rdb.ClientKillByFilter(ctx, "TYPE", "pubsub").Result()
		if err != nil || killed != 1 {
			t.Fatalf("round %d: killed %d tracking connections (%v), want 1", round, killed, err)
		}
		// Wait until the cache noticed, then write: invalidations are lost while it reconnects.
		deadline := time.Now().Add(5 * time.Second)
		for cached.Stats().Cache.Resets < resets+1 {
			if time.Now().After(deadline) {
				t.Fatalf("round %d: the lost connection was not noticed: %+v", round, cached.Stats().Cache)
			}
			time.Sleep(time.Millisecond)
		}
		if _, err := plain.Apply(ctx, []wire.Event{ev(fmt.Sprint("b", round), "u1", time.Minute*time.Duration(round+1), map[string]any{"amount": 100.0 * float64(round+2)})}); err != nil {
			t.Fatal(err)
		}
		want, err := plain.Lookup(ctx, probe)
		if err != nil {
			t.Fatal(err)
		}
		got, err := cached.Lookup(ctx, probe)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("round %d: after the tracking connection was lost the cache served\n%v\nwant\n%v", round, got, want)
		}
		waitCacheLive(t, cached, probe)
		resets = cached.Stats().Cache.Resets
	}
}

// FLUSHDB drops keys without naming them (Redis sends an invalidation with no keys): the cache drops
// everything, and lookups see the empty store.
func TestNearCacheFlushDB(t *testing.T) {
	ctx := context.Background()
	rdb := goredis.NewClient(&goredis.Options{Addr: testenv.StartRedis(t)})
	t.Cleanup(func() { rdb.Close() })
	cached, plain := cachedStores(t, rdb, features.DefaultConfig())
	probe := []wire.Event{ev("p", "u1", time.Hour, map[string]any{"amount": 5.0})}
	if _, err := plain.Apply(ctx, []wire.Event{ev("a", "u1", 0, map[string]any{"amount": 1.0})}); err != nil {
		t.Fatal(err)
	}
	waitCacheLive(t, cached, probe)
	warm, _ := plain.Lookup(ctx, probe)
	if err := rdb.FlushDB(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	want, err := plain.Lookup(ctx, probe)
	if err != nil {
		t.Fatal(err)
	}
	if reflect.DeepEqual(want, warm) {
		t.Fatal("the flush changed nothing: the test does not test")
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, err := cached.Lookup(ctx, probe)
		if err != nil {
			t.Fatal(err)
		}
		if reflect.DeepEqual(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after FLUSHDB the cache still serves\n%v\nwant\n%v (%+v)", got, want, cached.Stats().Cache)
		}
		time.Sleep(time.Millisecond)
	}
}

// On Redis Cluster the cache tracks every master: writes on any node reach it, and a lost
// tracking connection to one node drops it whole.
func TestNearCacheOnCluster(t *testing.T) {
	ctx := context.Background()
	addrs := testenv.RedisCluster(t, 3)
	cluster := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: addrs})
	t.Cleanup(func() { cluster.Close() })
	cfg := features.DefaultConfig()
	prefix := testPrefix(t)
	cached, err := featurestore.NewOnline(cluster, cfg, featurestore.Options{Prefix: prefix, NearCache: 10000})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cached.Close() })
	plain, err := featurestore.NewOnline(cluster, cfg, featurestore.Options{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	var probe, writes []wire.Event
	for i := range 30 { // 30 entities: on every node
		probe = append(probe, ev(fmt.Sprint("p", i), fmt.Sprint("u", i), time.Hour, map[string]any{"amount": 1.0}))
		writes = append(writes, ev(fmt.Sprint("w", i), fmt.Sprint("u", i), time.Minute, map[string]any{"amount": float64(i)}))
	}
	if _, err := plain.Apply(ctx, writes[:1]); err != nil {
		t.Fatal(err)
	}
	waitCacheLive(t, cached, probe)
	converge := func(what string) {
		t.Helper()
		want, err := plain.Lookup(ctx, probe)
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			got, err := cached.Lookup(ctx, probe)
			if err != nil {
				t.Fatal(err)
			}
			if reflect.DeepEqual(got, want) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: stale: %+v", what, cached.Stats().Cache)
			}
			time.Sleep(time.Millisecond)
		}
	}
	if _, err := plain.Apply(ctx, writes); err != nil {
		t.Fatal(err)
	}
	converge("after writes on every node")
	if _, ok := cached.LookupCached(probe); !ok {
		waitCacheLive(t, cached, probe)
	}
	resets := cached.Stats().Cache.Resets
	node := goredis.NewClient(&goredis.Options{Addr: addrs[1]})
	t.Cleanup(func() { node.Close() })
	if n, err := node.ClientKillByFilter(ctx, "TYPE", "pubsub").Result(); err != nil || n != 1 {
		t.Fatalf("killed %d tracking connections on %s (%v), want 1", n, addrs[1], err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for cached.Stats().Cache.Resets == resets {
		if time.Now().After(deadline) {
			t.Fatalf("the lost connection to one node was not noticed: %+v", cached.Stats().Cache)
		}
		time.Sleep(time.Millisecond)
	}
	more := make([]wire.Event, len(writes))
	for i, w := range writes {
		w.ID, w.Time = "x"+w.ID, w.Time.Add(time.Minute)
		more[i] = w
	}
	if _, err := plain.Apply(ctx, more); err != nil {
		t.Fatal(err)
	}
	converge("after one node's tracking connection was lost")
	waitCacheLive(t, cached, probe)
}
