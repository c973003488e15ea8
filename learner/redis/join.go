// Package redis keeps the learner's state in Redis: the label join's pending side, the model
// registry (versions, snapshots, champions) and checkpoints.
package redis

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/streamlearn/streamlearn/ingest"
	"github.com/streamlearn/streamlearn/learner"
)

//go:embed join.lua
var joinSource string

var joinScript = goredis.NewScript(joinSource)

// JoinStore is a learner.JoinStore on Redis: one key per event id holding the side that came first.
type JoinStore struct {
	rdb     goredis.UniversalClient
	prefix  string
	horizon time.Duration
}

var _ learner.JoinStore = (*JoinStore)(nil)

// NewJoinStore returns a join store with keys under prefix; a side waits at most horizon.
func NewJoinStore(rdb goredis.UniversalClient, prefix string, horizon time.Duration) *JoinStore {
	return &JoinStore{rdb: rdb, prefix: prefix, horizon: horizon}
}

func (j *JoinStore) key(id string) string { return j.prefix + "join:{" + id + "}" }

// AddPending implements learner.JoinStore.
func (j *JoinStore) AddPending(ctx context.Context, ps []learner.Pending) ([]learner.Example, error) {
	payloads := make([][]byte, len(ps))
	ids := make([]string, len(ps))
	for i, p := range ps {
		b, err := json.Marshal(p)
		if err != nil {
			return nil, fmt.Errorf("encode pending %s: %w", p.ID, err)
		}
		payloads[i], ids[i] = b, p.ID
	}
	others, err := j.add(ctx, "p", "o", ids, payloads)
	if err != nil {
		return nil, err
	}
	var out []learner.Example
	for i, o := range others {
		if o == "" {
			continue
		}
		var oc ingest.Outcome
		if err := json.Unmarshal([]byte(o), &oc); err != nil {
			return nil, fmt.Errorf("decode waiting outcome %s: %w", ids[i], err)
		}
		out = append(out, learner.Join(ps[i], oc))
	}
	return out, nil
}

// AddOutcomes implements learner.JoinStore.
func (j *JoinStore) AddOutcomes(ctx context.Context, os []ingest.Outcome) ([]learner.Example, error) {
	payloads := make([][]byte, len(os))
	ids := make([]string, len(os))
	for i, o := range os {
		b, err := json.Marshal(o)
		if err != nil {
			return nil, fmt.Errorf("encode outcome %s: %w", o.ID, err)
		}
		payloads[i], ids[i] = b, o.ID
	}
	others, err := j.add(ctx, "o", "p", ids, payloads)
	if err != nil {
		return nil, err
	}
	var out []learner.Example
	for i, p := range others {
		if p == "" {
			continue
		}
		var pending learner.Pending
		if err := json.Unmarshal([]byte(p), &pending); err != nil {
			return nil, fmt.Errorf("decode pending %s: %w", ids[i], err)
		}
		out = append(out, learner.Join(pending, os[i]))
	}
	return out, nil
}

// add stores one side for each id in one pipelined round trip and returns the other side where it
// was waiting ("" where not).
func (j *JoinStore) add(ctx context.Context, side, other string, ids []string, payloads [][]byte) ([]string, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	run := func() ([]*goredis.Cmd, error) {
		pipe := j.rdb.Pipeline()
		cmds := make([]*goredis.Cmd, len(ids))
		for i := range ids {
			cmds[i] = pipe.EvalSha(ctx, joinScript.Hash(), []string{j.key(ids[i])}, side, other, payloads[i], j.horizon.Milliseconds())
		}
		_, err := pipe.Exec(ctx)
		if err == goredis.Nil {
			err = nil
		}
		return cmds, err
	}
	cmds, err := run()
	if err != nil && goredis.HasErrorPrefix(err, "NOSCRIPT") {
		if lerr := joinScript.Load(ctx, j.rdb).Err(); lerr != nil {
			return nil, fmt.Errorf("load join script: %w", lerr)
		}
		cmds, err = run()
	}
	if err != nil {
		return nil, fmt.Errorf("join: %w", err)
	}
	out := make([]string, len(ids))
	for i, c := range cmds {
		s, err := c.Text()
		if err == goredis.Nil {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("join %s: %w", ids[i], err)
		}
		out[i] = s
	}
	return out, nil
}
