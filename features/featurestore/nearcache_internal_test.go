package featurestore

import "testing"

// A value read while its key was invalidated is not kept: the read may have started before the
// write the invalidation stands for.
func TestNearCacheKeepsOnlyReadsNotInvalidated(t *testing.T) {
	c := newNearCache(1024)
	c.reset(true)
	id := c.reserve("k")
	c.invalidate([]string{"k"})
	c.fill("k", id, nearEntry{val: "old"})
	if e, ok := c.get("k"); ok {
		t.Fatalf("a read that raced an invalidation was kept: %+v", e)
	}
	id = c.reserve("k")
	c.fill("k", id, nearEntry{val: "new"})
	if e, ok := c.get("k"); !ok || e.val != "new" {
		t.Fatalf("after a clean read: %+v %v, want new", e, ok)
	}
	c.invalidate([]string{"k"})
	if _, ok := c.get("k"); ok {
		t.Fatal("an invalidated value is still served")
	}
}

// Two reads of one key in flight share its placeholder: the first to fill is kept, and an
// invalidation between them drops both.
func TestNearCacheConcurrentReadsOfOneKey(t *testing.T) {
	c := newNearCache(1024)
	c.reset(true)
	a, b := c.reserve("k"), c.reserve("k")
	if a != b || a == 0 {
		t.Fatalf("ids %d and %d", a, b)
	}
	c.invalidate([]string{"k"})
	c.fill("k", a, nearEntry{val: "x"})
	c.fill("k", b, nearEntry{val: "y"})
	if _, ok := c.get("k"); ok {
		t.Fatal("a value read before an invalidation was kept")
	}
}

// Nothing is kept or served while the tracking connection is down, and a reset drops reads in flight.
func TestNearCacheNotLive(t *testing.T) {
	c := newNearCache(1024)
	if id := c.reserve("k"); id != 0 {
		t.Fatalf("reserved %d before the cache was live", id)
	}
	c.reset(true)
	id := c.reserve("k")
	c.reset(false)
	c.reset(true)
	c.fill("k", id, nearEntry{val: "x"})
	if _, ok := c.get("k"); ok {
		t.Fatal("a read in flight across a reconnection was kept")
	}
	id = c.reserve("k")
	c.fill("k", id, nearEntry{val: "x"})
	c.reset(false)
	if _, ok := c.get("k"); ok {
		t.Fatal("served from the cache while its tracking connection was down")
	}
}

// The cache holds at most about its size, whatever the keys.
func TestNearCacheIsBounded(t *testing.T) {
	c := newNearCache(nearShards * 4)
	c.reset(true)
	for i := range 10000 {
		k := string(rune('a'+i%26)) + string(rune(i))
		c.fill(k, c.reserve(k), nearEntry{val: k})
	}
	n := 0
	for i := range c.shards {
		n += len(c.shards[i].m)
	}
	if n > nearShards*4 {
		t.Fatalf("%d entries in a cache of %d", n, nearShards*4)
	}
}
