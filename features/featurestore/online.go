package featurestore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/streamlearn/streamlearn/features"
	"github.com/streamlearn/streamlearn/wire"
)

// Options tune an Online store. The zero value is usable.
type Options struct {
	// Prefix starts every key (default "sl:"). It must not contain '{' or '}': the entity is the hash tag.
	Prefix string
	// TTL is how long an idle entity is kept, in wall-clock time (default: the longest window plus the
	// allowed lateness, at least a minute). Every write of the entity starts it again.
	TTL time.Duration
	// MaxAttempts bounds how often one batch re-reads entities that another writer changed (default 10).
	MaxAttempts int
	// OnLate is called for every event too late to be applied, with how far behind it is.
	OnLate func(ev wire.Event, behind time.Duration)
	// NearCache, above 0, keeps up to that many values that Lookup read in process memory, kept
	// coherent with Redis by server-assisted client-side caching (see nearCache); 0 reads Redis on
	// every Lookup. On Redis Cluster there is one tracking connection per master.
	NearCache int
	// Logger receives the cache's connection warnings (default slog.Default()).
	Logger *slog.Logger
}

// Online is a features.OnlineStore on Redis or Redis Cluster. It is safe for concurrent use.
type Online struct {
	rdb       goredis.UniversalClient
	eng       *features.Engine
	prefix    string
	ttl       string // ms
	cluster   bool
	attempts  int
	conflicts atomic.Uint64
	near      *nearCache // nil: off
	nearNodes nodesFunc
	nearLog   *slog.Logger
	nearStart sync.Once
	nearMu    sync.Mutex
	closed    bool
	stopNear  context.CancelFunc
	nearDone  chan struct{}
}

var _ features.OnlineStore = (*Online)(nil)

// NewOnline returns a feature store for cfg on rdb (a client, or a cluster client).
func NewOnline(rdb goredis.UniversalClient, cfg features.Config, opt Options) (*Online, error) {
	eng, err := features.NewEngine(cfg, features.EngineOptions{OnLate: opt.OnLate, Header: versionBytes})
	if err != nil {
		return nil, err
	}
	if opt.Prefix == "" {
		opt.Prefix = "sl:"
	}
	if strings.ContainsAny(opt.Prefix, "{}") {
		return nil, fmt.Errorf("feature store: key prefix %q must not contain '{' or '}'", opt.Prefix)
	}
	if opt.TTL <= 0 {
		opt.TTL = max(eng.TTL(), time.Minute)
	}
	if opt.MaxAttempts <= 0 {
		opt.MaxAttempts = 10
	}
	if _, ok := rdb.(*goredis.Ring); ok {
		return nil, errors.New("feature store: a Ring shards keys its own way; use a client or a cluster client")
	}
	_, cluster := rdb.(*goredis.ClusterClient)
	s := &Online{rdb: rdb, eng: eng, prefix: opt.Prefix, cluster: cluster, attempts: opt.MaxAttempts,
		ttl: strconv.FormatInt(opt.TTL.Milliseconds(), 10)}
	if opt.NearCache > 0 {
		s.near, s.nearNodes, s.nearLog = newNearCache(opt.NearCache), nodesOf(rdb), opt.Logger
		if s.nearLog == nil {
			s.nearLog = slog.Default()
		}
	}
	return s, nil
}

// nodesOf lists the servers of rdb: itself, or a cluster's masters.
func nodesOf(rdb goredis.UniversalClient) nodesFunc {
	if cc, ok := rdb.(*goredis.ClusterClient); ok {
		return func(ctx context.Context) ([]*goredis.Options, error) {
			var mu sync.Mutex
			var out []*goredis.Options
			err := cc.ForEachMaster(ctx, func(ctx context.Context, c *goredis.Client) error {
				mu.Lock()
				out = append(out, c.Options())
				mu.Unlock()
				return nil
			})
			return out, err
		}
	}
	opt := rdb.(*goredis.Client).Options()
	return func(context.Context) ([]*goredis.Options, error) { return []*goredis.Options{opt}, nil }
}

// startNearCache starts the tracking connection of the cache of Lookup's reads, on the first
// Lookup: a process that never looks up (one that only applies events) does not receive the
// invalidations of every write. Close stops it.
func (s *Online) startNearCache() {
	s.nearMu.Lock()
	defer s.nearMu.Unlock()
	if s.nearDone != nil || s.closed {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.stopNear, s.nearDone = cancel, make(chan struct{})
	go func() {
		defer close(s.nearDone)
		s.near.track(ctx, s.nearNodes, []string{s.prefix + "f{", s.zkey()}, s.nearLog)
	}()
}

// Close stops the store's cache, if it has one; the Redis client is the caller's to close.
func (s *Online) Close() error {
	s.nearMu.Lock()
	s.closed = true
	stop, done := s.stopNear, s.nearDone
	s.nearMu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
	return nil
}

func (s *Online) key(entity string) string { return s.prefix + "f{" + entity + "}" }

func (s *Online) zkey() string { return s.prefix + "fz" }

// Stats returns the store's counters.
func (s *Online) Stats() features.Stats {
	st := s.eng.Stats()
	st.Conflicts = s.conflicts.Load()
	if s.near != nil {
		st.Cache = s.near.stats()
	}
	return st
}

// Ping checks Redis.
func (s *Online) Ping(ctx context.Context) error {
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("ping feature store: %w", err)
	}
	return nil
}

// Apply records events and returns each one's vector as of just before it (see features.OnlineStore).
func (s *Online) Apply(ctx context.Context, events []wire.Event) ([]wire.Vector, error) {
	out := make([]wire.Vector, len(events))
	groups, stateless := groupByEntity(s.prefix, events)
	if !s.eng.Stateful() {
		groups, stateless = nil, allIndexes(len(events))
	}
	var z, obs features.ZStats
	compute := func(read features.ZStats) {
		if read != nil {
			z = read
		}
		for _, g := range groups {
			if s.eng.Standardizes() {
				g.obs = features.ZStats{}
			}
			g.update = s.eng.ApplyEntity(g.state, g.events, z, g.obs, g.out)
			for j, i := range g.idx {
				out[i] = g.out[j]
			}
		}
	}
	for attempt := 1; len(groups) > 0; attempt++ {
		withZ := attempt == 1 && s.eng.Standardizes()
		conflicted, err := s.round(ctx, groups, withZ, compute)
		if err != nil {
			return nil, fmt.Errorf("apply features: %w", err)
		}
		if s.eng.Standardizes() {
			obs = mergeObs(obs, groups, conflicted)
		}
		commit(s.eng, groups, conflicted)
		if len(conflicted) == 0 {
			break
		}
		s.conflicts.Add(uint64(len(conflicted)))
		if attempt == s.attempts {
			return nil, fmt.Errorf("apply features: %d entities changed by another writer %d times in a row", len(conflicted), attempt)
		}
		if err := backoff(ctx, attempt); err != nil {
			return nil, fmt.Errorf("apply features: %w", err)
		}
		groups = conflicted
	}
	if len(stateless) > 0 {
		if z == nil && s.eng.Standardizes() {
			var err error
			if z, err = s.read(ctx, nil, true); err != nil {
				return nil, fmt.Errorf("apply features: %w", err)
			}
		}
		if s.eng.Standardizes() && obs == nil {
			obs = features.ZStats{}
		}
		for _, i := range stateless {
			out[i] = s.eng.Stateless(events[i], z, obs)
		}
	}
	if len(obs) > 0 {
		if err := s.addZStats(ctx, obs); err != nil {
			return nil, fmt.Errorf("apply features: %w", err)
		}
	}
	return out, nil
}

// Lookup returns the vectors of events at their times without changing anything.
func (s *Online) Lookup(ctx context.Context, events []wire.Event) ([]wire.Vector, error) {
	groups, stateless := s.lookupGroups(events)
	var z features.ZStats
	var err error
	if s.near != nil {
		s.nearStart.Do(s.startNearCache)
		z, err = s.readNear(ctx, groups, s.eng.Standardizes())
	} else {
		z, err = s.read(ctx, groups, s.eng.Standardizes())
	}
	if err != nil {
		return nil, fmt.Errorf("look up features: %w", err)
	}
	return s.vectors(events, groups, stateless, z), nil
}

// LookupCached is Lookup answered from the near cache alone: false, with nothing counted, when the
// store has no live cache or it misses any entity of events (see features.CachedLookup).
func (s *Online) LookupCached(events []wire.Event) ([]wire.Vector, bool) {
	if s.near == nil {
		return nil, false
	}
	s.nearStart.Do(s.startNearCache)
	groups, stateless := s.lookupGroups(events)
	z, ok := s.near.peekAll(groups, s.eng.Standardizes(), s.zkey())
	if !ok {
		return nil, false
	}
	return s.vectors(events, groups, stateless, z), true
}

func (s *Online) lookupGroups(events []wire.Event) ([]*group, []int) {
	if !s.eng.Stateful() {
		return nil, allIndexes(len(events))
	}
	return groupByEntity(s.prefix, events)
}

// vectors computes the lookups' vectors from the groups' states and the statistics.
func (s *Online) vectors(events []wire.Event, groups []*group, stateless []int, z features.ZStats) []wire.Vector {
	out := make([]wire.Vector, len(events))
	for _, g := range groups {
		s.eng.LookupEntity(g.state, g.events, z, g.out)
		for j, i := range g.idx {
			out[i] = g.out[j]
		}
	}
	for _, i := range stateless {
		out[i] = s.eng.Stateless(events[i], z, nil)
	}
	return out
}

// Aggregates returns an entity's aggregates as of at (zero: its latest event).
func (s *Online) Aggregates(ctx context.Context, entity string, at time.Time) (features.Snapshot, bool, error) {
	value, err := s.rdb.Get(ctx, s.key(entity)).Bytes()
	if errors.Is(err, goredis.Nil) {
		return features.Snapshot{}, false, nil
	}
	if err != nil {
		return features.Snapshot{}, false, fmt.Errorf("read features of %q: %w", entity, err)
	}
	if len(value) < versionBytes {
		return features.Snapshot{}, false, fmt.Errorf("read features of %q: value of %d bytes", entity, len(value))
	}
	snap, ok := s.eng.Snapshot(entity, value[versionBytes:], at)
	return snap, ok, nil
}

// backoff waits a random while, growing with the attempt, so that writers racing for the same
// entities stop colliding.
func backoff(ctx context.Context, attempt int) error {
	d := time.Duration(rand.Int64N(int64(min(time.Millisecond<<attempt, 100*time.Millisecond))))
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

func allIndexes(n int) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return idx
}

// commit counts the work of the groups that were written.
func commit(eng *features.Engine, groups, conflicted []*group) {
	failed := make(map[*group]bool, len(conflicted))
	for _, g := range conflicted {
		failed[g] = true
	}
	for _, g := range groups {
		if !failed[g] {
			eng.Commit(&g.update)
		}
	}
}
