package featurestore_test

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/streamlearn/streamlearn/features"
	"github.com/streamlearn/streamlearn/features/featurestore"
	"github.com/streamlearn/streamlearn/internal/testenv"
	"github.com/streamlearn/streamlearn/wire"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var prefixes atomic.Int64

// testPrefix is a key prefix of the test's own (no braces, no glob characters).
func testPrefix(t testing.TB) string {
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' {
			return r
		}
		return '_'
	}, t.Name())
	return fmt.Sprintf("t%d:%s:", prefixes.Add(1), name)
}

func redisClient(t testing.TB) *goredis.Client {
	t.Helper()
	rdb := goredis.NewClient(&goredis.Options{Addr: testenv.Redis(t)})
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

func newStore(t testing.TB, cfg features.Config, opt featurestore.Options) (*featurestore.Online, *goredis.Client) {
	t.Helper()
	rdb := redisClient(t)
	if opt.Prefix == "" {
		opt.Prefix = testPrefix(t)
	}
	s, err := featurestore.NewOnline(rdb, cfg, opt)
	if err != nil {
		t.Fatalf("NewOnline: %v", err)
	}
	t.Cleanup(func() { deletePrefix(t, rdb, opt.Prefix) })
	return s, rdb
}

var t0 = time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)

func ev(id, entity string, at time.Duration, fields map[string]any) wire.Event {
	return wire.Event{ID: id, Entity: entity, Time: t0.Add(at), Fields: fields}
}

func window(s string) features.Window {
	w, err := features.ParseWindow(s)
	if err != nil {
		panic(err)
	}
	return w
}

// equalVectors compares two vectors by name, values within a relative tolerance.
func equalVectors(got wire.Vector, want map[string]float64) string {
	var diffs []string
	gm := got.Map()
	for name, w := range want {
		g, ok := gm[name]
		switch {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("missing %s (want %v)", name, w))
		case !near(g, w):
			diffs = append(diffs, fmt.Sprintf("%s = %v, want %v", name, g, w))
		}
	}
	for name, g := range gm {
		if _, ok := want[name]; !ok {
			diffs = append(diffs, fmt.Sprintf("unexpected %s = %v", name, g))
		}
	}
	if len(gm) != len(got) {
		diffs = append(diffs, "duplicate feature names")
	}
	sort.Strings(diffs)
	return strings.Join(diffs, "; ")
}

func near(a, b float64) bool {
	return a == b || math.Abs(a-b) <= 1e-9*math.Max(1, math.Max(math.Abs(a), math.Abs(b)))
}

// deletePrefix deletes the keys a test's store wrote.
func deletePrefix(t testing.TB, rdb *goredis.Client, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		rdb.Unlink(ctx, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Logf("delete test keys: %v", err)
	}
}
