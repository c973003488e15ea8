// Package joinstore is the join's Store on Redis: one key per event id holding the side that came
// first, and the due sets that the implicit-label sweep reads.
package joinstore

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/streamlearn/streamlearn/join"
	"github.com/streamlearn/streamlearn/wire"
)

//go:embed join.lua
var joinSource string

var joinScript = goredis.NewScript(joinSource)

// Store is a join.Store on Redis: one key per event id holding the side that came first.
// Keys are spread over joinBuckets hash tags; each bucket has a due set of predictions waiting for
// an implicit label, in the same Redis Cluster slot as their keys so scripts can touch both. A batch
// makes one script call per bucket (up to maxScriptIDs ids each), all in one pipelined round trip.
type Store struct {
	rdb     goredis.UniversalClient
	prefix  string
	horizon time.Duration
	// implicit, when set, is the label of a prediction whose outcome does not come within the horizon.
	implicit *float64
}

const joinBuckets = 64

// sweepGrace keeps a pending prediction readable this long after its horizon, for the sweeper.
const sweepGrace = time.Hour

var _ join.Store = (*Store)(nil)

// NewStore returns a join store with keys under prefix; a side waits at most horizon.
func NewStore(rdb goredis.UniversalClient, prefix string, horizon time.Duration) *Store {
	return &Store{rdb: rdb, prefix: prefix, horizon: horizon}
}

// WithImplicitLabel makes predictions whose outcome does not arrive within the horizon examples
// with this label ("no chargeback within 30 days" = 0); SweepExpired finds them.
func (j *Store) WithImplicitLabel(label float64) *Store {
	j.implicit = &label
	return j
}

func bucket(id string) string {
	h := fnv.New32a()
	h.Write([]byte(id))
	return "{b" + strconv.Itoa(int(h.Sum32()%joinBuckets)) + "}"
}

func (j *Store) key(id string) string      { return j.prefix + "join:" + bucket(id) + ":" + id }
func (j *Store) dueKey(b string) string    { return j.prefix + "joindue:" + b }
func (j *Store) keyPrefix(b string) string { return j.prefix + "join:" + b + ":" }

// AddPending implements join.Store.
func (j *Store) AddPending(ctx context.Context, ps []wire.Pending) ([]wire.Example, error) {
	payloads := make([][]byte, len(ps))
	ids := make([]string, len(ps))
	for i, p := range ps {
		b, err := wire.Marshal(p)
		if err != nil {
			return nil, fmt.Errorf("encode pending %s: %w", p.ID, err)
		}
		payloads[i], ids[i] = b, p.ID
	}
	others, err := j.add(ctx, "p", "o", ids, payloads)
	if err != nil {
		return nil, err
	}
	var out []wire.Example
	for i, o := range others {
		if o == "" {
			continue
		}
		var oc wire.Outcome
		if err := wire.Unmarshal([]byte(o), &oc); err != nil {
			return nil, fmt.Errorf("decode waiting outcome %s: %w", ids[i], err)
		}
		out = append(out, join.Pair(ps[i], oc))
	}
	return out, nil
}

// AddOutcomes implements join.Store.
func (j *Store) AddOutcomes(ctx context.Context, os []wire.Outcome) ([]wire.Example, error) {
	payloads := make([][]byte, len(os))
	ids := make([]string, len(os))
	for i, o := range os {
		b, err := wire.Marshal(o)
		if err != nil {
			return nil, fmt.Errorf("encode outcome %s: %w", o.ID, err)
		}
		payloads[i], ids[i] = b, o.ID
	}
	others, err := j.add(ctx, "o", "p", ids, payloads)
	if err != nil {
		return nil, err
	}
	var out []wire.Example
	for i, p := range others {
		if p == "" {
			continue
		}
		var pending wire.Pending
		if err := wire.Unmarshal([]byte(p), &pending); err != nil {
			return nil, fmt.Errorf("decode pending %s: %w", ids[i], err)
		}
		out = append(out, join.Pair(pending, os[i]))
	}
	return out, nil
}

// add stores one side for each id in one pipelined round trip and returns the other side where it
// was waiting ("" where not).
func (j *Store) add(ctx context.Context, side, other string, ids []string, payloads [][]byte) ([]string, error) {
	ttl, implicit := j.ttl(), "0"
	if j.implicit != nil {
		implicit = "1"
	}
	due := time.Now().Add(j.horizon).UnixMilli()
	// An id twice in one batch (a producer's retry) is added once, as its last copy: the pair it
	// completes stays open until the ack, and a second add from the same side would return it again.
	last := make(map[string]int, len(ids))
	for i, id := range ids {
		last[id] = i
	}
	run := make([]int, 0, len(last))
	for i, id := range ids {
		if last[id] == i {
			run = append(run, i)
		}
	}
	groups := byBucket(ids, run)
	cmds, err := evalEach(ctx, j.rdb, joinScript, len(groups), func(g int) ([]string, []any) {
		members := groups[g].members
		keys := make([]string, 1, 1+len(members))
		keys[0] = j.dueKey(groups[g].bucket)
		args := make([]any, 5, 5+2*len(members))
		args[0], args[1], args[2], args[3], args[4] = side, other, ttl.Milliseconds(), implicit, due
		for _, i := range members {
			keys = append(keys, j.key(ids[i]))
			args = append(args, ids[i])
		}
		for _, i := range members {
			args = append(args, payloads[i])
		}
		return keys, args
	})
	if err != nil {
		return nil, fmt.Errorf("join: %w", err)
	}
	out := make([]string, len(ids))
	for g, c := range cmds {
		others, err := c.StringSlice()
		if err == nil && len(others) != len(groups[g].members) {
			err = fmt.Errorf("%d replies for %d ids", len(others), len(groups[g].members))
		}
		if err != nil {
			return nil, fmt.Errorf("join %s and %d more: %w", ids[groups[g].members[0]], len(groups[g].members)-1, err)
		}
		for k, i := range groups[g].members {
			out[i] = others[k]
		}
	}
	return out, nil
}

// maxScriptIDs bounds the ids of one script call, so that no call holds Redis for long.
const maxScriptIDs = 256

// bucketGroup is one script call's ids: indices into the caller's ids, all of one bucket (and so of
// one Redis Cluster slot).
type bucketGroup struct {
	bucket  string
	members []int
}

// byBucket groups the ids at the indices of which by bucket, at most maxScriptIDs a group, in the
// order of which within each group.
func byBucket(ids []string, which []int) []bucketGroup {
	var groups []bucketGroup
	open := map[string]int{}
	for _, i := range which {
		b := bucket(ids[i])
		g, ok := open[b]
		if !ok || len(groups[g].members) == maxScriptIDs {
			g = len(groups)
			groups = append(groups, bucketGroup{bucket: b})
			open[b] = g
		}
		groups[g].members = append(groups[g].members, i)
	}
	return groups
}

// ttl is how long a waiting side, and the tombstone of a done pair, stay.
func (j *Store) ttl() time.Duration {
	if j.implicit != nil {
		return j.horizon + sweepGrace
	}
	return j.horizon
}

//go:embed ack.lua
var ackSource string

var ackScript = goredis.NewScript(ackSource)

// Ack implements join.Store.
func (j *Store) Ack(ctx context.Context, exs []wire.Example) error {
	ids := make([]string, len(exs))
	for i := range exs {
		ids[i] = exs[i].ID
	}
	return j.ack(ctx, ids)
}

func (j *Store) ack(ctx context.Context, ids []string) error {
	ttl, implicit := j.ttl().Milliseconds(), "0"
	if j.implicit != nil {
		implicit = "1"
	}
	all := make([]int, len(ids))
	for i := range all {
		all[i] = i
	}
	groups := byBucket(ids, all)
	_, err := evalEach(ctx, j.rdb, ackScript, len(groups), func(g int) ([]string, []any) {
		members := groups[g].members
		keys := make([]string, 1, 1+len(members))
		keys[0] = j.dueKey(groups[g].bucket)
		args := make([]any, 2, 2+len(members))
		args[0], args[1] = ttl, implicit
		for _, i := range members {
			keys = append(keys, j.key(ids[i]))
			args = append(args, ids[i])
		}
		return keys, args
	})
	if err != nil {
		return fmt.Errorf("ack joined examples: %w", err)
	}
	return nil
}

// evalEach runs script n times in one pipelined round trip, with the keys and arguments of call i;
// it loads the script once if the server does not have it.
func evalEach(ctx context.Context, rdb goredis.UniversalClient, script *goredis.Script, n int, call func(i int) ([]string, []any)) ([]*goredis.Cmd, error) {
	if n == 0 {
		return nil, nil
	}
	run := func() ([]*goredis.Cmd, error) {
		pipe := rdb.Pipeline()
		cmds := make([]*goredis.Cmd, n)
		for i := range n {
			keys, args := call(i)
			cmds[i] = pipe.EvalSha(ctx, script.Hash(), keys, args...)
		}
		_, err := pipe.Exec(ctx)
		if errors.Is(err, goredis.Nil) {
			// The pipeline's error is its first command's: a nil reply there must not hide
			// another command's failure (another node's, on a Redis Cluster).
			err = nil
			for _, c := range cmds {
				if cerr := c.Err(); cerr != nil && !errors.Is(cerr, goredis.Nil) {
					err = cerr
					break
				}
			}
		}
		return cmds, err
	}
	cmds, err := run()
	if noScript(cmds) {
		if lerr := script.Load(ctx, rdb).Err(); lerr != nil {
			return nil, fmt.Errorf("load script: %w", lerr)
		}
		cmds, err = run()
	}
	return cmds, err
}

// noScript reports whether a node answered NOSCRIPT to any of cmds. The pipeline's error is only
// its first command's: on a Redis Cluster where one node lost its scripts (a restart, a failover)
// that is often another node's nil reply, which must not hide the NOSCRIPT behind it.
func noScript(cmds []*goredis.Cmd) bool {
	for _, c := range cmds {
		if goredis.HasErrorPrefix(c.Err(), "NOSCRIPT") {
			return true
		}
	}
	return false
}

//go:embed sweep.lua
var sweepSource string

var sweepScript = goredis.NewScript(sweepSource)

// SweepExpired claims up to limit predictions per bucket whose horizon passed without an outcome
// and returns them as examples with the implicit label. An outcome arriving after the claim is
// ignored. Call ack once the examples are durable; until then a later sweep returns them again
// (at-least-once). After the ack a redelivered prediction of the same event is not queued again.
// It does nothing without an implicit label.
func (j *Store) SweepExpired(ctx context.Context, now time.Time, limit int) ([]wire.Example, func(context.Context) error, error) {
	noop := func(context.Context) error { return nil }
	if j.implicit == nil {
		return nil, noop, nil
	}
	pipe := j.rdb.Pipeline()
	cmds := make([]*goredis.Cmd, joinBuckets)
	for b := range joinBuckets {
		tag := "{b" + strconv.Itoa(b) + "}"
		cmds[b] = pipe.EvalSha(ctx, sweepScript.Hash(), []string{j.dueKey(tag)}, now.UnixMilli(), limit, j.keyPrefix(tag))
	}
	if _, err := pipe.Exec(ctx); err != nil && (!errors.Is(err, goredis.Nil) || noScript(cmds)) {
		if !noScript(cmds) {
			return nil, noop, fmt.Errorf("sweep join: %w", err)
		}
		if err := sweepScript.Load(ctx, j.rdb).Err(); err != nil {
			return nil, noop, fmt.Errorf("load sweep script: %w", err)
		}
		return j.SweepExpired(ctx, now, limit)
	}
	var out []wire.Example
	var ids []string
	for _, c := range cmds {
		vals, err := c.StringSlice()
		if err != nil && !errors.Is(err, goredis.Nil) {
			return nil, noop, fmt.Errorf("sweep join: %w", err)
		}
		for i := 0; i+1 < len(vals); i += 2 {
			// An undecodable entry is acked too, so it does not come back forever.
			ids = append(ids, vals[i])
			var p wire.Pending
			if err := wire.Unmarshal([]byte(vals[i+1]), &p); err != nil {
				continue
			}
			out = append(out, wire.Example{Pending: p, Label: *j.implicit, OutcomeTime: p.ScoredAt.Add(j.horizon), Implicit: true})
		}
	}
	return out, func(ctx context.Context) error { return j.ack(ctx, ids) }, nil
}
