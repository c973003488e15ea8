package redis

import (
	"context"
	_ "embed"
	"fmt"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/streamlearn/streamlearn/features"
	"github.com/streamlearn/streamlearn/ingest"
)

//go:embed apply.lua
var applyScript string

var apply = goredis.NewScript(applyScript)

// Store is the spine's features.Store on Redis: an event count and latest time per entity. Online
// replaces it; Store stays until the predictor has moved to features.OnlineStore.
type Store struct {
	rdb    goredis.UniversalClient
	prefix string
	ttl    time.Duration
}

var _ features.Store = (*Store)(nil)

// New returns a store using rdb, with keys under prefix. ttl is how long an idle entity's state and an
// event's applied-mark are kept.
func New(rdb goredis.UniversalClient, prefix string, ttl time.Duration) *Store {
	return &Store{rdb: rdb, prefix: prefix, ttl: ttl}
}

func (s *Store) entityKey(entity string) string { return s.prefix + "ent:{" + entity + "}" }

// Apply runs the apply script for every event with an entity in one pipelined round trip.
func (s *Store) Apply(ctx context.Context, events []ingest.Event) ([]features.EntityState, error) {
	cmds, err := s.applyOnce(ctx, events)
	if err != nil && goredis.HasErrorPrefix(err, "NOSCRIPT") {
		// Redis lost its scripts (restart, SCRIPT FLUSH): load and run again; the script is idempotent.
		if lerr := apply.Load(ctx, s.rdb).Err(); lerr != nil {
			return nil, fmt.Errorf("load feature script: %w", lerr)
		}
		cmds, err = s.applyOnce(ctx, events)
	}
	if err != nil {
		return nil, fmt.Errorf("apply features: %w", err)
	}
	out := make([]features.EntityState, len(events))
	for i, c := range cmds {
		if c == nil {
			continue
		}
		vals, err := c.Int64Slice()
		if err != nil || len(vals) != 2 {
			return nil, fmt.Errorf("apply features for %s: unexpected reply %v: %w", events[i].ID, c.Val(), err)
		}
		out[i] = features.EntityState{Count: vals[0], LastTime: vals[1]}
	}
	return out, nil
}

func (s *Store) applyOnce(ctx context.Context, events []ingest.Event) ([]*goredis.Cmd, error) {
	pipe := s.rdb.Pipeline()
	cmds := make([]*goredis.Cmd, len(events))
	ttlMs := s.ttl.Milliseconds()
	n := 0
	for i, ev := range events {
		if ev.Entity == "" {
			continue
		}
		cmds[i] = pipe.EvalSha(ctx, apply.Hash(), []string{s.entityKey(ev.Entity)}, ev.ID, ev.Time.UnixMilli(), ttlMs)
		n++
	}
	if n == 0 {
		return cmds, nil
	}
	_, err := pipe.Exec(ctx)
	return cmds, err
}

// Get returns the entity's current state.
func (s *Store) Get(ctx context.Context, entity string) (features.EntityState, error) {
	vals, err := s.rdb.HMGet(ctx, s.entityKey(entity), "n", "last").Result()
	if err != nil {
		return features.EntityState{}, fmt.Errorf("get features of %s: %w", entity, err)
	}
	var st features.EntityState
	if v, ok := vals[0].(string); ok {
		st.Count, _ = strconv.ParseInt(v, 10, 64)
	}
	if v, ok := vals[1].(string); ok {
		st.LastTime, _ = strconv.ParseInt(v, 10, 64)
	}
	return st, nil
}

// Ping checks Redis.
func (s *Store) Ping(ctx context.Context) error { return s.rdb.Ping(ctx).Err() }
