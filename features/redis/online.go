package redis

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/streamlearn/streamlearn/features"
	"github.com/streamlearn/streamlearn/ingest"
)

//go:embed write.lua
var writeScript string

var write = goredis.NewScript(writeScript)

// Options tune an Online store. The zero value is usable.
type Options struct {
	// Prefix starts every key (default "sl:"). It must not contain '{' or '}': the entity is the hash tag.
	Prefix string
	// TTL is how long an idle entity's hash is kept, in wall-clock time (default: the longest window
	// plus the allowed lateness, at least a minute).
	TTL time.Duration
	// MaxAttempts bounds how often one batch re-reads entities that another writer changed (default 10).
	MaxAttempts int
	// OnLate is called for every event too late to be applied, with how far behind it is.
	OnLate func(ev ingest.Event, behind time.Duration)
}

// Online is a features.OnlineStore on Redis or Redis Cluster.
type Online struct {
	rdb       goredis.UniversalClient
	eng       *features.Engine
	prefix    string
	ttl       string // ms
	attempts  int
	conflicts atomic.Uint64
}

var _ features.OnlineStore = (*Online)(nil)

// NewOnline returns a feature store for cfg on rdb (a client, or a cluster client).
func NewOnline(rdb goredis.UniversalClient, cfg features.Config, opt Options) (*Online, error) {
	eng, err := features.NewEngine(cfg, opt.OnLate)
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
	return &Online{rdb: rdb, eng: eng, prefix: opt.Prefix, ttl: strconv.FormatInt(opt.TTL.Milliseconds(), 10), attempts: opt.MaxAttempts}, nil
}

func (s *Online) key(entity string) string { return s.prefix + "f{" + entity + "}" }

func (s *Online) zkey() string { return s.prefix + "fz" }

// Stats returns the store's counters.
func (s *Online) Stats() features.Stats {
	st := s.eng.Stats()
	st.Conflicts = s.conflicts.Load()
	return st
}

// Ping checks Redis.
func (s *Online) Ping(ctx context.Context) error {
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("ping feature store: %w", err)
	}
	return nil
}

// group is the events of one entity in a batch.
type group struct {
	entity  string
	idx     []int // positions in the batch, in order
	events  []ingest.Event
	ids     []string // distinct event ids
	loaded  features.Loaded
	version string
	update  features.Update
	obs     features.ZStats
	read    *goredis.SliceCmd
	wrote   *goredis.Cmd
}

func groupByEntity(events []ingest.Event) (groups []*group, stateless []int) {
	byEntity := map[string]*group{}
	for i, ev := range events {
		if ev.Entity == "" {
			stateless = append(stateless, i)
			continue
		}
		g := byEntity[ev.Entity]
		if g == nil {
			g = &group{entity: ev.Entity}
			byEntity[ev.Entity] = g
			groups = append(groups, g)
		}
		g.idx = append(g.idx, i)
		g.events = append(g.events, ev)
	}
	for _, g := range groups {
		if len(g.events) == 1 {
			g.ids = []string{g.events[0].ID}
			continue
		}
		seen := make(map[string]bool, len(g.events))
		for _, ev := range g.events {
			if !seen[ev.ID] {
				seen[ev.ID] = true
				g.ids = append(g.ids, ev.ID)
			}
		}
	}
	return groups, stateless
}

// Apply records events and returns each one's vector as of just before it (see features.OnlineStore).
func (s *Online) Apply(ctx context.Context, events []ingest.Event) ([]features.Vector, error) {
	out := make([]features.Vector, len(events))
	groups, stateless := groupByEntity(events)
	if !s.eng.Stateful() {
		groups, stateless = nil, allIndexes(len(events))
	}
	var z, obs features.ZStats
	for attempt := 1; ; attempt++ {
		zs, err := s.read(ctx, groups, attempt == 1 && s.eng.Standardizes())
		if err != nil {
			return nil, fmt.Errorf("apply features: %w", err)
		}
		if attempt == 1 {
			z = zs
		}
		for _, g := range groups {
			if s.eng.Standardizes() {
				g.obs = features.ZStats{}
			}
			vs := make([]features.Vector, len(g.events))
			g.update = s.eng.ApplyEntity(g.loaded, g.events, z, g.obs, vs)
			for j, i := range g.idx {
				out[i] = vs[j]
			}
		}
		conflicted, err := s.write(ctx, groups)
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

// mergeObs adds the standardize observations of the groups that were written.
func mergeObs(obs features.ZStats, groups, conflicted []*group) features.ZStats {
	failed := make(map[*group]bool, len(conflicted))
	for _, g := range conflicted {
		failed[g] = true
	}
	for _, g := range groups {
		if failed[g] || len(g.obs) == 0 {
			continue
		}
		if obs == nil {
			obs = features.ZStats{}
		}
		for name, st := range g.obs {
			cur := obs[name]
			cur.N, cur.Sum, cur.SumSq = cur.N+st.N, cur.Sum+st.Sum, cur.SumSq+st.SumSq
			obs[name] = cur
		}
	}
	return obs
}

// Lookup returns the vectors of events at their times without changing anything.
func (s *Online) Lookup(ctx context.Context, events []ingest.Event) ([]features.Vector, error) {
	out := make([]features.Vector, len(events))
	groups, stateless := groupByEntity(events)
	if !s.eng.Stateful() {
		groups, stateless = nil, allIndexes(len(events))
	}
	z, err := s.read(ctx, groups, s.eng.Standardizes())
	if err != nil {
		return nil, fmt.Errorf("look up features: %w", err)
	}
	for _, g := range groups {
		vs := make([]features.Vector, len(g.events))
		s.eng.LookupEntity(g.loaded, g.events, z, vs)
		for j, i := range g.idx {
			out[i] = vs[j]
		}
	}
	for _, i := range stateless {
		out[i] = s.eng.Stateless(events[i], z, nil)
	}
	return out, nil
}

// Aggregates returns an entity's aggregates as of at (zero: its latest event).
func (s *Online) Aggregates(ctx context.Context, entity string, at time.Time) (features.Snapshot, bool, error) {
	state, err := s.rdb.HGet(ctx, s.key(entity), "s").Bytes()
	if errors.Is(err, goredis.Nil) {
		return features.Snapshot{}, false, nil
	}
	if err != nil {
		return features.Snapshot{}, false, fmt.Errorf("read features of %q: %w", entity, err)
	}
	snap, ok := s.eng.Snapshot(entity, state, at)
	return snap, ok, nil
}

// read loads the groups' versions, states and marks in one pipelined round trip, and the standardize
// statistics when withZ.
func (s *Online) read(ctx context.Context, groups []*group, withZ bool) (features.ZStats, error) {
	if len(groups) == 0 && !withZ {
		return nil, nil
	}
	pipe := s.rdb.Pipeline()
	for _, g := range groups {
		fields := make([]string, 0, 2+len(g.ids))
		fields = append(fields, "v", "s")
		for _, id := range g.ids {
			fields = append(fields, "e:"+id)
		}
		g.read = pipe.HMGet(ctx, s.key(g.entity), fields...)
	}
	var zcmd *goredis.MapStringStringCmd
	if withZ {
		zcmd = pipe.HGetAll(ctx, s.zkey())
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("read entities: %w", err)
	}
	for _, g := range groups {
		vals := g.read.Val()
		g.version, g.loaded = "0", features.Loaded{}
		if v, ok := vals[0].(string); ok {
			g.version = v
		}
		if st, ok := vals[1].(string); ok {
			g.loaded.State = []byte(st)
		}
		for j, id := range g.ids {
			if m, ok := vals[2+j].(string); ok {
				if g.loaded.Marks == nil {
					g.loaded.Marks = make(map[string][]byte, len(g.ids))
				}
				g.loaded.Marks[id] = []byte(m)
			}
		}
	}
	if zcmd == nil {
		return nil, nil
	}
	return parseZStats(zcmd.Val()), nil
}

// write stores every changed group with one EVALSHA each, pipelined, and returns the groups that
// another writer changed since they were read.
func (s *Online) write(ctx context.Context, groups []*group) ([]*group, error) {
	exec := func(gs []*group) error {
		pipe := s.rdb.Pipeline()
		n := 0
		for _, g := range gs {
			g.wrote = nil
			if !g.update.Changed {
				continue
			}
			g.wrote = pipe.EvalSha(ctx, write.Hash(), []string{s.key(g.entity)}, s.writeArgs(g)...)
			n++
		}
		if n == 0 {
			return nil
		}
		_, err := pipe.Exec(ctx)
		return err
	}
	err := exec(groups)
	if err != nil && goredis.HasErrorPrefix(err, "NOSCRIPT") {
		// A node lost its scripts (restart, failover, SCRIPT FLUSH). Load the script everywhere and run
		// again the writes that did not run: a NOSCRIPT write changed nothing.
		if lerr := write.Load(ctx, s.rdb).Err(); lerr != nil {
			return nil, fmt.Errorf("load feature script: %w", lerr)
		}
		var again []*group
		for _, g := range groups {
			if g.wrote != nil && goredis.HasErrorPrefix(g.wrote.Err(), "NOSCRIPT") {
				again = append(again, g)
			}
		}
		err = exec(again)
	}
	if err != nil {
		return nil, fmt.Errorf("write entities: %w", err)
	}
	var conflicted []*group
	for _, g := range groups {
		if g.wrote == nil {
			continue
		}
		ok, err := g.wrote.Int64()
		if err != nil {
			return nil, fmt.Errorf("write entity %q: %w", g.entity, err)
		}
		if ok == 0 {
			conflicted = append(conflicted, g)
		}
	}
	return conflicted, nil
}

func (s *Online) writeArgs(g *group) []any {
	u := &g.update
	var lists map[int64][]byte
	var order []int64
	for _, m := range u.Marks {
		if lists == nil {
			lists = map[int64][]byte{}
		}
		l, ok := lists[m.Bucket]
		if !ok {
			order = append(order, m.Bucket)
		}
		l = strconv.AppendInt(l, int64(len(m.ID)), 10)
		l = append(l, ':')
		lists[m.Bucket] = append(l, m.ID...)
	}
	args := make([]any, 0, 5+2*len(u.Marks)+2*len(order)+len(u.DeadMarkBuckets))
	args = append(args, g.version, u.State, s.ttl, len(u.Marks), len(order))
	for _, m := range u.Marks {
		args = append(args, "e:"+m.ID, m.Value)
	}
	for _, b := range order {
		args = append(args, listField(b), lists[b])
	}
	for _, b := range u.DeadMarkBuckets {
		args = append(args, listField(b))
	}
	return args
}

func listField(bucket int64) string { return "l:" + strconv.FormatInt(bucket, 10) }

func parseZStats(m map[string]string) features.ZStats {
	z := features.ZStats{}
	for k, v := range m {
		kind, name, ok := strings.Cut(k, ":")
		x, err := strconv.ParseFloat(v, 64)
		if !ok || err != nil {
			continue
		}
		st := z[name]
		switch kind {
		case "n":
			st.N = x
		case "s":
			st.Sum = x
		case "q":
			st.SumSq = x
		}
		z[name] = st
	}
	return z
}

// addZStats adds the batch's standardize observations to the shared statistics.
func (s *Online) addZStats(ctx context.Context, obs features.ZStats) error {
	pipe := s.rdb.Pipeline()
	for name, st := range obs {
		pipe.HIncrByFloat(ctx, s.zkey(), "n:"+name, st.N)
		pipe.HIncrByFloat(ctx, s.zkey(), "s:"+name, st.Sum)
		pipe.HIncrByFloat(ctx, s.zkey(), "q:"+name, st.SumSq)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("update standardize statistics: %w", err)
	}
	return nil
}
