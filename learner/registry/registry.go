// Package redis keeps the learner's state in Redis: the model registry (versions, snapshots,
// champions) and checkpoints.
package registry

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/streamlearn/streamlearn/internal/lease"
	"github.com/streamlearn/streamlearn/learner"
)

// Registry is a learner.Registry on Redis. A model's keys share the hash tag {model} so they live on
// one Redis Cluster slot and a publish is one MULTI/EXEC:
//
//	<prefix>models                      set of model names
//	<prefix>model:{m}:seq               the last version number assigned
//	<prefix>model:{m}:versions          sorted set of version numbers
//	<prefix>model:{m}:v:<n>             hash: meta (JSON), snapshot (bytes)
//	<prefix>model:{m}:champion          the serving version
//	<prefix>model:{m}:pinned            set while a manual promotion pauses automatic ones
//	<prefix>model:{m}:history           list of manual champion changes (JSON), newest first, capped
//	<prefix>model:{m}:checkpoint        hash: meta (JSON: version, offsets), state (bytes)
//
// Snapshots of all but the newest KeepSnapshots versions are dropped, except the champion's and
// those of versions named in the champion history; their metadata stays, so lineage is never lost.
type Registry struct {
	rdb    goredis.UniversalClient
	prefix string
	// KeepSnapshots bounds how many versions keep their weights (default 20).
	KeepSnapshots int
}

var _ learner.Registry = (*Registry)(nil)

// NewRegistry returns a registry with keys under prefix.
func NewRegistry(rdb goredis.UniversalClient, prefix string) *Registry {
	return &Registry{rdb: rdb, prefix: prefix, KeepSnapshots: 20}
}

func (r *Registry) modelKey(m, suffix string) string { return r.prefix + "model:{" + m + "}:" + suffix }
func (r *Registry) versionKey(m string, v int64) string {
	return r.modelKey(m, "v:"+strconv.FormatInt(v, 10))
}

// Publish implements learner.Registry. Version numbers come from an atomic counter, so concurrent
// publishers never collide; a failed publish leaves a gap, never a duplicate.
func (r *Registry) Publish(ctx context.Context, v learner.Version, snapshot []byte, cp *learner.Checkpoint) (learner.Version, error) {
	n, err := r.rdb.Incr(ctx, r.modelKey(v.Model, "seq")).Result()
	if err != nil {
		return learner.Version{}, fmt.Errorf("publish %s: next version: %w", v.Model, err)
	}
	v.Version = n
	if v.CreatedAt.IsZero() {
		v.CreatedAt = time.Now().UTC()
	}
	if v.Offsets == nil && cp != nil {
		v.Offsets = cp.Offsets
	}
	meta, err := json.Marshal(v)
	if err != nil {
		return learner.Version{}, fmt.Errorf("publish %s: encode: %w", v.Model, err)
	}
	var cpMeta []byte
	if cp != nil {
		if cpMeta, err = json.Marshal(learner.Checkpoint{Version: v.Version, Offsets: cp.Offsets}); err != nil {
			return learner.Version{}, fmt.Errorf("publish %s: encode checkpoint: %w", v.Model, err)
		}
	}
	// The models set is in another Redis Cluster slot than the model's keys: added first, alone.
	if err := r.rdb.SAdd(ctx, r.prefix+"models", v.Model).Err(); err != nil {
		return learner.Version{}, fmt.Errorf("publish %s: %w", v.Model, err)
	}
	write := func(p goredis.Pipeliner) error {
		p.ZAdd(ctx, r.modelKey(v.Model, "versions"), goredis.Z{Score: float64(v.Version), Member: v.Version})
		p.HSet(ctx, r.versionKey(v.Model, v.Version), "meta", meta, "snapshot", snapshot)
		if cp != nil {
			p.HSet(ctx, r.modelKey(v.Model, "checkpoint"), "meta", cpMeta, "state", cp.State)
		}
		return nil
	}
	if cp != nil && cp.Fence != "" {
		err = r.fenced(ctx, v.Model, cp.Fence, write)
	} else {
		_, err = r.rdb.TxPipelined(ctx, write)
	}
	if err != nil {
		return learner.Version{}, fmt.Errorf("publish %s version %d: %w", v.Model, v.Version, err)
	}
	r.trim(ctx, v.Model, v.Version)
	return v, nil
}

// LeaseKey is the key of the lease that the model's single active learner holds; it shares the
// model's Redis Cluster slot, so publishes can check it in their transaction.
func (r *Registry) LeaseKey(model string) string { return r.modelKey(model, "lease") }

// fenced runs write as one transaction that only commits while fence holds the model's lease.
func (r *Registry) fenced(ctx context.Context, model, fence string, write func(goredis.Pipeliner) error) error {
	return lease.FencedWrite(ctx, r.rdb, r.LeaseKey(model), fence, write)
}

// trim drops the weights of old versions; failures only cost memory, so they are not reported.
func (r *Registry) trim(ctx context.Context, model string, latest int64) {
	keep := int64(r.KeepSnapshots)
	if keep <= 0 || latest <= keep {
		return
	}
	champ, _ := r.Champion(ctx, model)
	// Versions that served by hand stay loadable, so a rollback to them always finds weights.
	keepers := map[int64]bool{champ: true}
	if hist, err := r.History(ctx, model); err == nil {
		for _, c := range hist {
			keepers[c.Version], keepers[c.Previous] = true, true
		}
	}
	old, err := r.rdb.ZRangeByScore(ctx, r.modelKey(model, "versions"), &goredis.ZRangeBy{
		Min: strconv.FormatInt(latest-keep-10, 10), Max: strconv.FormatInt(latest-keep, 10),
	}).Result()
	if err != nil {
		return
	}
	for _, s := range old {
		n, _ := strconv.ParseInt(s, 10, 64)
		if !keepers[n] {
			r.rdb.HDel(ctx, r.versionKey(model, n), "snapshot")
		}
	}
}

// Get implements learner.Registry.
func (r *Registry) Get(ctx context.Context, model string, version int64) (learner.Version, error) {
	b, err := r.rdb.HGet(ctx, r.versionKey(model, version), "meta").Bytes()
	if errors.Is(err, goredis.Nil) {
		return learner.Version{}, fmt.Errorf("model %s version %d: %w", model, version, learner.ErrNotFound)
	}
	if err != nil {
		return learner.Version{}, fmt.Errorf("get model %s version %d: %w", model, version, err)
	}
	var v learner.Version
	if err := json.Unmarshal(b, &v); err != nil {
		return learner.Version{}, fmt.Errorf("decode model %s version %d: %w", model, version, err)
	}
	return v, nil
}

// Snapshot implements learner.Registry.
func (r *Registry) Snapshot(ctx context.Context, model string, version int64) ([]byte, error) {
	b, err := r.rdb.HGet(ctx, r.versionKey(model, version), "snapshot").Bytes()
	if errors.Is(err, goredis.Nil) {
		return nil, fmt.Errorf("snapshot of model %s version %d: %w", model, version, learner.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get snapshot of model %s version %d: %w", model, version, err)
	}
	return b, nil
}

// List implements learner.Registry.
func (r *Registry) List(ctx context.Context, model string) ([]learner.Version, error) {
	nums, err := r.rdb.ZRevRange(ctx, r.modelKey(model, "versions"), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("list model %s: %w", model, err)
	}
	if len(nums) == 0 {
		return nil, nil
	}
	pipe := r.rdb.Pipeline()
	cmds := make([]*goredis.StringCmd, len(nums))
	for i, s := range nums {
		n, _ := strconv.ParseInt(s, 10, 64)
		cmds[i] = pipe.HGet(ctx, r.versionKey(model, n), "meta")
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, goredis.Nil) {
		return nil, fmt.Errorf("list model %s: %w", model, err)
	}
	out := make([]learner.Version, 0, len(nums))
	for _, c := range cmds {
		b, err := c.Bytes()
		if err != nil {
			continue
		}
		var v learner.Version
		if json.Unmarshal(b, &v) == nil {
			out = append(out, v)
		}
	}
	return out, nil
}

// Models implements learner.Registry.
func (r *Registry) Models(ctx context.Context) ([]string, error) {
	ms, err := r.rdb.SMembers(ctx, r.prefix+"models").Result()
	if err != nil {
		return nil, fmt.Errorf("list models: %w", err)
	}
	return ms, nil
}

// Champion implements learner.Registry.
func (r *Registry) Champion(ctx context.Context, model string) (int64, error) {
	n, err := r.rdb.Get(ctx, r.modelKey(model, "champion")).Int64()
	if errors.Is(err, goredis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("champion of %s: %w", model, err)
	}
	return n, nil
}

//go:embed promote.lua
var promoteSource string

var promoteScript = goredis.NewScript(promoteSource)

// Promote implements learner.Registry. The champion, the pin and the history change together in one
// script, so an automatic promotion never slips past a pin set at the same moment.
func (r *Registry) Promote(ctx context.Context, model string, version int64, reason string, manual, pin bool) (int64, error) {
	if _, err := r.Get(ctx, model, version); err != nil {
		return 0, err
	}
	keys := []string{r.modelKey(model, "champion"), r.modelKey(model, "pinned"), r.modelKey(model, "history")}
	now := time.Now().UTC().Format(time.RFC3339Nano)
	prev, err := promoteScript.Run(ctx, r.rdb, keys, version, reason, flag(manual), flag(pin), now, model).Int64()
	if err != nil {
		return 0, fmt.Errorf("promote %s version %d: %w", model, version, err)
	}
	if prev < 0 {
		return 0, fmt.Errorf("promote %s version %d: %w", model, version, learner.ErrPinned)
	}
	return prev, nil
}

func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// Rollback implements learner.Registry.
func (r *Registry) Rollback(ctx context.Context, model, reason string) (learner.ChampionChange, error) {
	cur, err := r.Champion(ctx, model)
	if err != nil {
		return learner.ChampionChange{}, err
	}
	if cur == 0 {
		return learner.ChampionChange{}, fmt.Errorf("rollback %s: no champion: %w", model, learner.ErrNotFound)
	}
	hist, err := r.History(ctx, model)
	if err != nil {
		return learner.ChampionChange{}, err
	}
	var target int64
	if len(hist) > 0 && hist[0].Version == cur {
		target = hist[0].Previous
	} else {
		v, err := r.Get(ctx, model, cur)
		if err != nil {
			return learner.ChampionChange{}, err
		}
		target = v.Parent
	}
	if target == 0 {
		return learner.ChampionChange{}, fmt.Errorf("rollback %s: version %d has nothing before it: %w", model, cur, learner.ErrNotFound)
	}
	if reason == "" {
		reason = fmt.Sprintf("rollback from %d", cur)
	}
	prev, err := r.Promote(ctx, model, target, reason, true, true)
	if err != nil {
		return learner.ChampionChange{}, err
	}
	return learner.ChampionChange{Time: time.Now().UTC(), Model: model, Version: target, Previous: prev, Reason: reason, Pinned: true}, nil
}

// History implements learner.Registry.
func (r *Registry) History(ctx context.Context, model string) ([]learner.ChampionChange, error) {
	items, err := r.rdb.LRange(ctx, r.modelKey(model, "history"), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("history of %s: %w", model, err)
	}
	out := make([]learner.ChampionChange, 0, len(items))
	for _, it := range items {
		var c learner.ChampionChange
		if err := json.Unmarshal([]byte(it), &c); err != nil {
			return nil, fmt.Errorf("decode history of %s: %w", model, err)
		}
		out = append(out, c)
	}
	return out, nil
}

// Pinned implements learner.Registry.
func (r *Registry) Pinned(ctx context.Context, model string) (bool, error) {
	n, err := r.rdb.Exists(ctx, r.modelKey(model, "pinned")).Result()
	if err != nil {
		return false, fmt.Errorf("pinned %s: %w", model, err)
	}
	return n == 1, nil
}

// Checkpoint implements learner.Registry. It returns nil, nil when the model has none.
func (r *Registry) Checkpoint(ctx context.Context, model string) (*learner.Checkpoint, error) {
	vals, err := r.rdb.HMGet(ctx, r.modelKey(model, "checkpoint"), "meta", "state").Result()
	if err != nil {
		return nil, fmt.Errorf("checkpoint of %s: %w", model, err)
	}
	meta, ok1 := vals[0].(string)
	state, ok2 := vals[1].(string)
	if !ok1 || !ok2 {
		return nil, nil
	}
	var cp learner.Checkpoint
	if err := json.Unmarshal([]byte(meta), &cp); err != nil {
		return nil, fmt.Errorf("decode checkpoint of %s: %w", model, err)
	}
	cp.State = []byte(state)
	return &cp, nil
}
