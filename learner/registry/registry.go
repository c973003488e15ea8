// Package registry keeps the learner's state in Redis: the model registry (versions, snapshots,
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
//	<prefix>model:{m}:live              hash: meta (JSON), snapshot (bytes) of the newest version (the live head)
//	<prefix>model:{m}:versions          sorted set of the retained versions' numbers
//	<prefix>model:{m}:v:<n>             hash: meta (JSON), snapshot (bytes) of retained version n
//	<prefix>model:{m}:tags              hash: tag -> version
//	<prefix>model:{m}:champion          the serving version
//	<prefix>model:{m}:pinned            set while a manual promotion pauses automatic ones
//	<prefix>model:{m}:history           list of manual champion changes (JSON), newest first, capped
//	<prefix>model:{m}:checkpoint        hash: meta (JSON: version, offsets), state (bytes)
//	<prefix>model:{m}:delta             the newest weight delta of the live version (learner.Delta, binary)
//
// Every publish overwrites the live head; only snapshots (a publish with a Kind, TakeSnapshot,
// a manual promotion) are retained, and Prune deletes those the retention policy does not keep,
// so a model's state stays bounded however long it learns.
type Registry struct {
	rdb    goredis.UniversalClient
	prefix string
}

var (
	_ learner.Registry   = (*Registry)(nil)
	_ learner.DeltaStore = (*Registry)(nil)
)

// NewRegistry returns a registry with keys under prefix.
func NewRegistry(rdb goredis.UniversalClient, prefix string) *Registry {
	return &Registry{rdb: rdb, prefix: prefix}
}

func (r *Registry) modelKey(m, suffix string) string { return r.prefix + "model:{" + m + "}:" + suffix }
func (r *Registry) versionKey(m string, v int64) string {
	return r.modelKey(m, "v:"+strconv.FormatInt(v, 10))
}

// Publish implements learner.Registry. Version numbers come from an atomic counter, so concurrent
// publishers never collide; a failed publish leaves a gap, never a duplicate. The version becomes
// the live head; with a Kind it is also retained.
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
		p.HSet(ctx, r.modelKey(v.Model, "live"), "meta", meta, "snapshot", snapshot)
		p.Del(ctx, r.modelKey(v.Model, "delta")) // the deltas of the previous live version are done
		if v.Kind != "" {
			p.ZAdd(ctx, r.modelKey(v.Model, "versions"), goredis.Z{Score: float64(v.Version), Member: v.Version})
			p.HSet(ctx, r.versionKey(v.Model, v.Version), "meta", meta, "snapshot", snapshot)
		}
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
	return v, nil
}

// PublishDelta implements learner.DeltaStore: d replaces the model's delta, in one fenced write
// when fence is set.
func (r *Registry) PublishDelta(ctx context.Context, d *learner.Delta, fence string) error {
	b, err := d.MarshalBinary()
	if err != nil {
		return err
	}
	write := func(p goredis.Pipeliner) error {
		p.Set(ctx, r.modelKey(d.Model, "delta"), b, 0)
		return nil
	}
	if fence != "" {
		err = r.fenced(ctx, d.Model, fence, write)
	} else {
		_, err = r.rdb.TxPipelined(ctx, write)
	}
	if err != nil {
		return fmt.Errorf("publish delta %d of %s version %d: %w", d.Seq, d.Model, d.Base, err)
	}
	return nil
}

// Delta implements learner.DeltaStore.
func (r *Registry) Delta(ctx context.Context, model string) (*learner.Delta, error) {
	b, err := r.rdb.Get(ctx, r.modelKey(model, "delta")).Bytes()
	if errors.Is(err, goredis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("delta of %s: %w", model, err)
	}
	d, err := learner.UnmarshalDelta(b)
	if err != nil {
		return nil, fmt.Errorf("delta of %s: %w", model, err)
	}
	return d, nil
}

// LeaseKey is the key of the lease that the model's single active learner holds; it shares the
// model's Redis Cluster slot, so publishes can check it in their transaction.
func (r *Registry) LeaseKey(model string) string { return r.modelKey(model, "lease") }

// fenced runs write as one transaction that only commits while fence holds the model's lease.
func (r *Registry) fenced(ctx context.Context, model, fence string, write func(goredis.Pipeliner) error) error {
	return lease.FencedWrite(ctx, r.rdb, r.LeaseKey(model), fence, write)
}

// Get implements learner.Registry.
func (r *Registry) Get(ctx context.Context, model string, version int64) (learner.Version, error) {
	v, _, err := r.read(ctx, r.rdb, model, version, false)
	return v, err
}

// Snapshot implements learner.Registry.
func (r *Registry) Snapshot(ctx context.Context, model string, version int64) ([]byte, error) {
	_, b, err := r.read(ctx, r.rdb, model, version, true)
	return b, err
}

// read returns a version's metadata and, with weights, its snapshot: the retained copy, else the
// live head when it is that version.
func (r *Registry) read(ctx context.Context, c goredis.Cmdable, model string, version int64, weights bool) (learner.Version, []byte, error) {
	for _, key := range []string{r.versionKey(model, version), r.modelKey(model, "live")} {
		vals, err := c.HMGet(ctx, key, "meta", "snapshot").Result()
		if err != nil {
			return learner.Version{}, nil, fmt.Errorf("get model %s version %d: %w", model, version, err)
		}
		meta, ok := vals[0].(string)
		if !ok {
			continue
		}
		var v learner.Version
		if err := json.Unmarshal([]byte(meta), &v); err != nil {
			return learner.Version{}, nil, fmt.Errorf("decode model %s version %d: %w", model, version, err)
		}
		if v.Version != version {
			continue
		}
		snap, ok := vals[1].(string)
		if weights && !ok {
			break
		}
		return v, []byte(snap), nil
	}
	return learner.Version{}, nil, fmt.Errorf("model %s version %d: %w", model, version, learner.ErrNotFound)
}

// Live implements learner.Registry.
func (r *Registry) Live(ctx context.Context, model string) (learner.Version, error) {
	b, err := r.rdb.HGet(ctx, r.modelKey(model, "live"), "meta").Bytes()
	if errors.Is(err, goredis.Nil) {
		return learner.Version{}, fmt.Errorf("model %s has no live version: %w", model, learner.ErrNotFound)
	}
	if err != nil {
		return learner.Version{}, fmt.Errorf("live version of %s: %w", model, err)
	}
	var v learner.Version
	if err := json.Unmarshal(b, &v); err != nil {
		return learner.Version{}, fmt.Errorf("decode live version of %s: %w", model, err)
	}
	return v, nil
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
// script, so an automatic promotion never slips past a pin set at the same moment. A manual
// promotion of the live head retains it first (a SnapshotPromotion), so every past champion stays.
func (r *Registry) Promote(ctx context.Context, model string, version int64, reason string, manual, pin bool) (int64, error) {
	return r.promote(ctx, model, version, reason, "", manual, pin)
}

func (r *Registry) promote(ctx context.Context, model string, version int64, reason, by string, manual, pin bool) (int64, error) {
	if manual {
		if _, err := r.TakeSnapshot(ctx, model, learner.SnapshotRequest{Version: version, Kind: learner.SnapshotPromotion, Reason: reason, By: by}); err != nil {
			return 0, fmt.Errorf("promote %s version %d: %w", model, version, err)
		}
	} else if _, err := r.Get(ctx, model, version); err != nil {
		return 0, err
	}
	return r.setChampion(ctx, model, version, reason, by, manual, pin)
}

// setChampion runs the promote script.
func (r *Registry) setChampion(ctx context.Context, model string, version int64, reason, by string, manual, pin bool) (int64, error) {
	keys := []string{r.modelKey(model, "champion"), r.modelKey(model, "pinned"), r.modelKey(model, "history")}
	now := time.Now().UTC().Format(time.RFC3339Nano)
	prev, err := promoteScript.Run(ctx, r.rdb, keys, version, reason, flag(manual), flag(pin), now, model, by).Int64()
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
func (r *Registry) Rollback(ctx context.Context, model string, to int64, reason, by string) (learner.ChampionChange, error) {
	cur, err := r.Champion(ctx, model)
	if err != nil {
		return learner.ChampionChange{}, err
	}
	target := to
	if target == 0 {
		if target, err = r.previous(ctx, model, cur); err != nil {
			return learner.ChampionChange{}, err
		}
	}
	if reason == "" {
		reason = fmt.Sprintf("rollback from %d", cur)
	}
	prev, err := r.promote(ctx, model, target, reason, by, true, true)
	if err != nil {
		return learner.ChampionChange{}, err
	}
	return learner.ChampionChange{Time: time.Now().UTC(), Model: model, Version: target, Previous: prev, Reason: reason, Pinned: true, By: by}, nil
}

// previous is the version that served before cur: the previous entry of the history when cur
// came from a manual promotion, else the newest snapshot retained before cur.
func (r *Registry) previous(ctx context.Context, model string, cur int64) (int64, error) {
	if cur == 0 {
		return 0, fmt.Errorf("rollback %s: no champion: %w", model, learner.ErrNotFound)
	}
	hist, err := r.History(ctx, model)
	if err != nil {
		return 0, err
	}
	var target int64
	if len(hist) > 0 && hist[0].Version == cur {
		target = hist[0].Previous
	} else {
		// A champion that follows the live head: the newest snapshot retained before it.
		vs, err := r.List(ctx, model)
		if err != nil {
			return 0, err
		}
		for _, v := range vs {
			if v.Version < cur {
				target = v.Version
				break
			}
		}
	}
	if target == 0 {
		return 0, fmt.Errorf("rollback %s: version %d has nothing before it: %w", model, cur, learner.ErrNotFound)
	}
	return target, nil
}

// Unpin implements learner.Registry.
func (r *Registry) Unpin(ctx context.Context, model, reason, by string) (learner.ChampionChange, error) {
	target, err := r.Champion(ctx, model)
	if err != nil {
		return learner.ChampionChange{}, err
	}
	if live, err := r.Live(ctx, model); err == nil {
		target = live.Version
	} else if !errors.Is(err, learner.ErrNotFound) {
		return learner.ChampionChange{}, err
	}
	if target == 0 {
		return learner.ChampionChange{}, fmt.Errorf("unpin %s: nothing published: %w", model, learner.ErrNotFound)
	}
	if reason == "" {
		reason = "unpin: follow the live version"
	}
	prev, err := r.setChampion(ctx, model, target, reason, by, true, false)
	if err != nil {
		return learner.ChampionChange{}, err
	}
	return learner.ChampionChange{Time: time.Now().UTC(), Model: model, Version: target, Previous: prev, Reason: reason, By: by}, nil
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
