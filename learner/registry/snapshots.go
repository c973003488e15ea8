package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/streamlearn/streamlearn/learner"
)

// txRetries bounds the optimistic retries of a snapshot or a prune that met a concurrent change.
const txRetries = 50

// watched runs fn in a WATCH of the model's live head, retained versions and tags, retrying
// when another client changed them in between.
func (r *Registry) watched(ctx context.Context, model string, fn func(tx *goredis.Tx) error, more ...string) error {
	keys := []string{r.modelKey(model, "live"), r.modelKey(model, "versions"), r.modelKey(model, "tags")}
	keys = append(keys, more...)
	for i := range txRetries {
		err := r.rdb.Watch(ctx, fn, keys...)
		if !errors.Is(err, goredis.TxFailedErr) {
			return err
		}
		// Back off a little more each time, so that a writer publishing back to back lets one through.
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(i+1) * 200 * time.Microsecond):
		}
	}
	return fmt.Errorf("model %s: too many concurrent changes", model)
}

// TakeSnapshot implements learner.Registry.
func (r *Registry) TakeSnapshot(ctx context.Context, model string, req learner.SnapshotRequest) (learner.Version, error) {
	if req.Tag != "" {
		if err := learner.ValidTag(req.Tag); err != nil {
			return learner.Version{}, err
		}
	}
	if req.Kind == "" {
		req.Kind = learner.SnapshotManual
	}
	var out learner.Version
	err := r.watched(ctx, model, func(tx *goredis.Tx) error {
		v, snap, err := r.target(ctx, tx, model, req.Version)
		if err != nil {
			return err
		}
		n := v.Version
		retained, err := tx.ZScore(ctx, r.modelKey(model, "versions"), strconv.FormatInt(n, 10)).Result()
		if err != nil && !errors.Is(err, goredis.Nil) {
			return err
		}
		if retained != 0 { // keep the retained copy's metadata (tags, report)
			if v, _, err = r.read(ctx, tx, model, n, false); err != nil {
				return err
			}
		}
		if req.Tag != "" {
			owner, err := tx.HGet(ctx, r.modelKey(model, "tags"), req.Tag).Int64()
			switch {
			case err == nil && owner != n:
				return fmt.Errorf("tag %q names version %d: %w", req.Tag, owner, learner.ErrTagTaken)
			case err != nil && !errors.Is(err, goredis.Nil):
				return err
			}
		}
		fresh := retained == 0
		if fresh {
			v.Kind, v.By = req.Kind, req.By
			if req.Reason != "" {
				v.Note = req.Reason
			}
		}
		if req.Tag != "" && !slices.Contains(v.Tags, req.Tag) {
			v.Tags = append(v.Tags, req.Tag)
		}
		meta, err := json.Marshal(v)
		if err != nil {
			return err
		}
		out = v
		_, err = tx.TxPipelined(ctx, func(p goredis.Pipeliner) error {
			if fresh {
				p.HSet(ctx, r.versionKey(model, n), "meta", meta, "snapshot", snap)
				p.ZAdd(ctx, r.modelKey(model, "versions"), goredis.Z{Score: float64(n), Member: n})
			} else {
				p.HSet(ctx, r.versionKey(model, n), "meta", meta)
			}
			if req.Tag != "" {
				p.HSet(ctx, r.modelKey(model, "tags"), req.Tag, n)
			}
			return nil
		})
		return err
	})
	if err != nil {
		return learner.Version{}, fmt.Errorf("snapshot of %s: %w", model, err)
	}
	return out, nil
}

// target reads the version a snapshot is asked of, with its weights: version n, or the live head
// (n 0) in one read, so that a publish in between cannot pair one version's metadata with
// another's weights.
func (r *Registry) target(ctx context.Context, tx *goredis.Tx, model string, n int64) (learner.Version, []byte, error) {
	if n != 0 {
		return r.read(ctx, tx, model, n, true)
	}
	vals, err := tx.HMGet(ctx, r.modelKey(model, "live"), "meta", "snapshot").Result()
	if err != nil {
		return learner.Version{}, nil, err
	}
	meta, ok1 := vals[0].(string)
	snap, ok2 := vals[1].(string)
	if !ok1 || !ok2 {
		return learner.Version{}, nil, fmt.Errorf("model %s has no live version: %w", model, learner.ErrNotFound)
	}
	var v learner.Version
	if err := json.Unmarshal([]byte(meta), &v); err != nil {
		return learner.Version{}, nil, fmt.Errorf("decode live version of %s: %w", model, err)
	}
	return v, []byte(snap), nil
}

// Resolve implements learner.Registry.
func (r *Registry) Resolve(ctx context.Context, model, ref string) (int64, error) {
	if ref == "" {
		return 0, fmt.Errorf("model %s: empty reference: %w", model, learner.ErrNotFound)
	}
	if n, err := strconv.ParseInt(ref, 10, 64); err == nil {
		if _, err := r.Get(ctx, model, n); err != nil {
			return 0, err
		}
		return n, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, ref); err == nil {
		vs, err := r.List(ctx, model)
		if err != nil {
			return 0, err
		}
		for _, v := range vs { // newest first
			if !v.CreatedAt.After(t) {
				return v.Version, nil
			}
		}
		return 0, fmt.Errorf("model %s has no snapshot as of %s: %w", model, ref, learner.ErrNotFound)
	}
	n, err := r.rdb.HGet(ctx, r.modelKey(model, "tags"), ref).Int64()
	if errors.Is(err, goredis.Nil) {
		return 0, fmt.Errorf("model %s has no tag %q: %w", model, ref, learner.ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("resolve %s of %s: %w", ref, model, err)
	}
	return n, nil
}

// Prune implements learner.Registry. The current champion and every version named in the
// champion history are kept whatever their age, like tagged snapshots; a promotion at the same
// moment (its champion and history keys are watched too) makes the prune start again.
func (r *Registry) Prune(ctx context.Context, model string, keep learner.Retention, now time.Time) ([]int64, error) {
	var gone []int64
	err := r.watched(ctx, model, func(tx *goredis.Tx) error {
		keepers := map[int64]bool{}
		champ, err := r.Champion(ctx, model)
		if err != nil {
			return err
		}
		keepers[champ] = true
		hist, err := r.History(ctx, model)
		if err != nil {
			return err
		}
		for _, c := range hist {
			keepers[c.Version], keepers[c.Previous] = true, true
		}
		vs, err := r.List(ctx, model)
		if err != nil {
			return err
		}
		kept := keep.Keep(vs, keepers, now)
		gone = gone[:0]
		for _, v := range vs {
			if !kept[v.Version] {
				gone = append(gone, v.Version)
			}
		}
		if len(gone) == 0 {
			return nil
		}
		_, err = tx.TxPipelined(ctx, func(p goredis.Pipeliner) error {
			for _, n := range gone {
				p.Del(ctx, r.versionKey(model, n))
				p.ZRem(ctx, r.modelKey(model, "versions"), n)
			}
			return nil
		})
		return err
	}, r.modelKey(model, "champion"), r.modelKey(model, "history"))
	if err != nil {
		return nil, fmt.Errorf("prune %s: %w", model, err)
	}
	return gone, nil
}

// SetReport implements learner.Registry.
func (r *Registry) SetReport(ctx context.Context, model string, version int64, rep learner.Report) error {
	err := r.watched(ctx, model, func(tx *goredis.Tx) error {
		b, err := tx.HGet(ctx, r.versionKey(model, version), "meta").Bytes()
		if errors.Is(err, goredis.Nil) {
			return fmt.Errorf("version %d is not retained: %w", version, learner.ErrNotFound)
		}
		if err != nil {
			return err
		}
		var v learner.Version
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		v.Report = &rep
		meta, err := json.Marshal(v)
		if err != nil {
			return err
		}
		_, err = tx.TxPipelined(ctx, func(p goredis.Pipeliner) error {
			p.HSet(ctx, r.versionKey(model, version), "meta", meta)
			return nil
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("report of %s version %d: %w", model, version, err)
	}
	return nil
}

// Import implements learner.Registry.
func (r *Registry) Import(ctx context.Context, v learner.Version, snapshot []byte, reason string) (learner.Version, error) {
	n, err := r.rdb.Incr(ctx, r.modelKey(v.Model, "seq")).Result()
	if err != nil {
		return learner.Version{}, fmt.Errorf("import %s: next version: %w", v.Model, err)
	}
	v.Version, v.Kind, v.Tags, v.CreatedAt = n, learner.SnapshotImport, nil, time.Now().UTC()
	if reason != "" {
		v.Note = reason
	}
	meta, err := json.Marshal(v)
	if err != nil {
		return learner.Version{}, fmt.Errorf("import %s: encode: %w", v.Model, err)
	}
	if err := r.rdb.SAdd(ctx, r.prefix+"models", v.Model).Err(); err != nil {
		return learner.Version{}, fmt.Errorf("import %s: %w", v.Model, err)
	}
	_, err = r.rdb.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		p.HSet(ctx, r.versionKey(v.Model, n), "meta", meta, "snapshot", snapshot)
		p.ZAdd(ctx, r.modelKey(v.Model, "versions"), goredis.Z{Score: float64(n), Member: n})
		return nil
	})
	if err != nil {
		return learner.Version{}, fmt.Errorf("import %s: %w", v.Model, err)
	}
	champ, err := r.Champion(ctx, v.Model)
	if err != nil {
		return v, err
	}
	if champ == 0 {
		if _, err := r.setChampion(ctx, v.Model, n, "imported: "+reason, "", true, false); err != nil {
			return v, err
		}
	}
	return v, nil
}
