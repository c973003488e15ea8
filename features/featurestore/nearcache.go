package featurestore

import (
	"context"
	"errors"
	"hash/maphash"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/streamlearn/streamlearn/features"
)

// invalidateChannel is where Redis publishes the keys a tracking connection redirected to a RESP2
// subscriber must drop.
const invalidateChannel = "__redis__:invalidate"

const nearShards = 64

// nearCache keeps the entity values and standardize statistics that Lookup read in process memory,
// coherent with Redis through server-assisted client-side caching: a dedicated connection turns on
// CLIENT TRACKING in broadcast mode for the store's keys, redirected to itself, and subscribes to the
// invalidation channel, so every write, expiry or eviction of a key drops its entry, whoever made it.
//
// A value read from Redis is kept only if no invalidation of its key came while it was being read:
// a miss first puts a placeholder with a fresh id, an invalidation deletes whatever the key holds,
// and the value replaces the placeholder only if that same placeholder is still there. A cached
// value is therefore never older than the invalidations received. While the tracking connection
// is down (or not yet subscribed) nothing is cached or served from the cache, and everything cached
// before is dropped, since invalidations may have been missed.
type nearCache struct {
	seed     maphash.Seed
	perShard int
	shards   [nearShards]nearShard
	live     atomic.Bool
	nextID   atomic.Uint64

	hits, misses, invalidations, resets atomic.Uint64
}

type nearShard struct {
	mu sync.Mutex
	m  map[string]nearEntry
}

// nearEntry is a cached value, or a read in flight when pending is not 0. val is the entity's
// whole stored value ("" for an entity Redis does not hold); z the parsed statistics of the fz key.
type nearEntry struct {
	pending uint64
	val     string
	z       features.ZStats
}

func newNearCache(entries int) *nearCache {
	c := &nearCache{seed: maphash.MakeSeed(), perShard: max(1, entries/nearShards)}
	for i := range c.shards {
		c.shards[i].m = map[string]nearEntry{}
	}
	return c
}

func (c *nearCache) shard(key string) *nearShard {
	return &c.shards[maphash.String(c.seed, key)%nearShards]
}

// get returns key's cached entry, counted as a hit or a miss; ok is false for a miss, a read in
// flight, or a cache that is not live.
func (c *nearCache) get(key string) (e nearEntry, ok bool) {
	if c.live.Load() {
		e, ok = c.peek(key)
	}
	if !ok {
		c.misses.Add(1)
		return nearEntry{}, false
	}
	c.hits.Add(1)
	return e, true
}

// peek returns key's cached entry without counting it.
func (c *nearCache) peek(key string) (nearEntry, bool) {
	sh := c.shard(key)
	sh.mu.Lock()
	e, ok := sh.m[key]
	sh.mu.Unlock()
	return e, ok && e.pending == 0
}

// peekAll fills the groups' values (and returns the statistics of zkey, when withZ) from the cache
// if it holds all of them, counting them as hits; false, with nothing counted, if it does not.
func (c *nearCache) peekAll(groups []*group, withZ bool, zkey string) (features.ZStats, bool) {
	if !c.live.Load() {
		return nil, false
	}
	var z features.ZStats
	if withZ {
		e, ok := c.peek(zkey)
		if !ok {
			return nil, false
		}
		z = e.z
	}
	for _, g := range groups {
		e, ok := c.peek(g.key)
		if !ok {
			return nil, false
		}
		g.setValue(e.val)
	}
	n := uint64(len(groups))
	if withZ {
		n++
	}
	c.hits.Add(n)
	return z, true
}

// reserve marks a read of key in flight and returns the id that fill must present; 0 when the
// cache is not live (the value read is then not kept).
func (c *nearCache) reserve(key string) uint64 {
	if !c.live.Load() {
		return 0
	}
	sh := c.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if e, ok := sh.m[key]; ok && e.pending != 0 {
		return e.pending // another read of key is in flight: whichever fills first is kept
	}
	if len(sh.m) >= c.perShard {
		for k := range sh.m { // an arbitrary entry: Go starts a map's iteration at random
			delete(sh.m, k)
			break
		}
	}
	id := c.nextID.Add(1)
	sh.m[key] = nearEntry{pending: id}
	return id
}

// fill keeps e as key's value if the read of id is still the one key waits for.
func (c *nearCache) fill(key string, id uint64, e nearEntry) {
	if id == 0 {
		return
	}
	sh := c.shard(key)
	sh.mu.Lock()
	if cur, ok := sh.m[key]; ok && cur.pending == id {
		sh.m[key] = e
	}
	sh.mu.Unlock()
}

func (c *nearCache) invalidate(keys []string) {
	for _, k := range keys {
		sh := c.shard(k)
		sh.mu.Lock()
		delete(sh.m, k)
		sh.mu.Unlock()
	}
	c.invalidations.Add(uint64(len(keys)))
}

// reset drops everything and sets whether the cache is live.
func (c *nearCache) reset(live bool) {
	c.live.Store(false)
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		clear(sh.m)
		sh.mu.Unlock()
	}
	c.resets.Add(1)
	c.live.Store(live)
}

func (c *nearCache) stats() features.CacheStats {
	return features.CacheStats{Hits: c.hits.Load(), Misses: c.misses.Load(), Invalidations: c.invalidations.Load(), Resets: c.resets.Load()}
}

// nodesFunc lists the Redis servers that hold the store's keys: the options of each one's client.
type nodesFunc func(ctx context.Context) ([]*goredis.Options, error)

// clusterRecheck is how often the masters of a Redis Cluster are listed again: a master added since
// holds keys the cache has no tracking connection for, so it is dropped and tracking starts over.
const clusterRecheck = time.Second

// track keeps the cache coherent until ctx ends: it holds a tracking connection to every node,
// applies the invalidations they bring, and drops everything whenever one is lost or silent or the
// nodes change, until all are subscribed again.
func (c *nearCache) track(ctx context.Context, nodes nodesFunc, prefixes []string, log *slog.Logger) {
	defer c.reset(false)
	for attempt := 0; ctx.Err() == nil; attempt++ {
		err := c.trackNodes(ctx, nodes, prefixes)
		c.reset(false)
		if ctx.Err() != nil {
			return
		}
		log.Warn("feature cache: tracking connection lost or nodes changed; serving from Redis until tracking is back", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(min(100*time.Millisecond<<min(attempt, 6), 5*time.Second)):
		}
	}
}

// trackNodes runs one tracking connection per node until one fails or, every clusterRecheck, the
// list of nodes differs from the one it started with. The cache is live while all are subscribed.
func (c *nearCache) trackNodes(ctx context.Context, nodes nodesFunc, prefixes []string) error {
	opts, err := nodes(ctx)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var subscribed atomic.Int32
	onSubscribed := func() {
		if int(subscribed.Add(1)) == len(opts) {
			c.reset(true)
		}
	}
	done := make(chan error, len(opts))
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel() // before the wait
	for _, opt := range opts {
		wg.Go(func() { done <- c.trackOnce(ctx, opt, prefixes, onSubscribed) })
	}
	if len(opts) == 1 {
		return <-done
	}
	tick := time.NewTicker(clusterRecheck)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			return err
		case <-tick.C:
			now, err := nodes(ctx)
			if err != nil {
				return err
			}
			if !sameAddrs(opts, now) {
				return errors.New("the cluster's masters changed")
			}
		}
	}
}

func sameAddrs(a, b []*goredis.Options) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]bool{}
	for _, o := range a {
		seen[o.Addr] = true
	}
	for _, o := range b {
		if !seen[o.Addr] {
			return false
		}
	}
	return true
}

// trackTimeout is how long the tracking connection may stay silent: after one such silence it is
// pinged, after two it is taken as lost.
const trackTimeout = time.Second

// trackOnce runs one tracking connection to the server of base until it fails, calling
// onSubscribed once it receives invalidations.
func (c *nearCache) trackOnce(ctx context.Context, base *goredis.Options, prefixes []string, onSubscribed func()) error {
	opt := *base
	opt.Protocol, opt.PoolSize, opt.MinIdleConns, opt.MaxRetries = 2, 1, 0, -1
	opt.ClientSideCacheConfig, opt.ClientSideCache = nil, nil
	userOnConnect := base.OnConnect
	opt.OnConnect = func(ctx context.Context, cn *goredis.Conn) error {
		if userOnConnect != nil {
			if err := userOnConnect(ctx, cn); err != nil {
				return err
			}
		}
		id, err := cn.ClientID(ctx).Result()
		if err != nil {
			return err
		}
		args := []any{"CLIENT", "TRACKING", "ON", "REDIRECT", id, "BCAST"}
		for _, p := range prefixes {
			args = append(args, "PREFIX", p)
		}
		return cn.Do(ctx, args...).Err()
	}
	rdb := goredis.NewClient(&opt)
	defer rdb.Close()
	ps := rdb.Subscribe(ctx, invalidateChannel)
	defer ps.Close()
	stop := context.AfterFunc(ctx, func() { ps.Close() }) // a blocked read does not watch ctx
	defer stop()
	silent := 0
	for ctx.Err() == nil {
		msg, err := ps.ReceiveTimeout(ctx, trackTimeout)
		var nerr net.Error
		switch {
		case err != nil && errors.As(err, &nerr) && nerr.Timeout() && silent == 0:
			silent++
			if err := ps.Ping(ctx); err != nil {
				return err
			}
			continue
		case err != nil && errors.As(err, &nerr) && nerr.Timeout():
			return errors.New("no answer to a ping")
		case err != nil:
			return err
		}
		silent = 0
		switch m := msg.(type) {
		case *goredis.Subscription:
			if m.Channel == invalidateChannel && m.Kind == "subscribe" {
				onSubscribed()
			}
		case *goredis.Message:
			if m.Channel == invalidateChannel {
				c.invalidate(m.PayloadSlice)
				if m.PayloadSlice == nil && m.Payload != "" {
					c.invalidate([]string{m.Payload})
				}
			}
		}
	}
	return ctx.Err()
}
