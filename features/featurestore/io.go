package featurestore

import (
	"context"
	"encoding/binary"
	"fmt"
	"unsafe"

	goredis "github.com/redis/go-redis/v9"

	"github.com/streamlearn/streamlearn/features"
)

// maxKeysPerCall bounds the entities of one script call, so that no call holds Redis for long.
const maxKeysPerCall = 500

// calls splits groups into script calls: by hash slot on a cluster (a script's keys must share a
// slot), in chunks on a single server.
func (s *Online) calls(groups []*group) [][]*group {
	var out [][]*group
	if !s.cluster {
		for i := 0; i < len(groups); i += maxKeysPerCall {
			out = append(out, groups[i:min(i+maxKeysPerCall, len(groups))])
		}
		return out
	}
	bySlot := map[uint16]int{}
	for _, g := range groups {
		sl := slot(g.key)
		i, ok := bySlot[sl]
		if !ok || len(out[i]) == maxKeysPerCall {
			i = len(out)
			bySlot[sl] = i
			out = append(out, nil)
		}
		out[i] = append(out[i], g)
	}
	return out
}

// versionBytes is the length of the version that starts an entity's value.
const versionBytes = 8

// round is one round of Apply: read the groups, compute them, and write back those that changed with
// the compare-and-set script; it returns the groups another writer changed in between. (WATCH and
// MULTI would spare Redis the script on a single server, but Redis 7.0 checks a WATCH's keys against
// each other one by one: a batch of a few hundred keys costs it milliseconds.)
func (s *Online) round(ctx context.Context, groups []*group, withZ bool, compute func(features.ZStats)) ([]*group, error) {
	z, err := s.read(ctx, groups, withZ)
	if err != nil {
		return nil, err
	}
	compute(z)
	return s.write(ctx, groups)
}

// read loads the groups' versions and states with MGET (one per slot or chunk, pipelined: a round
// trip per node), and the standardize statistics when withZ.
func (s *Online) read(ctx context.Context, groups []*group, withZ bool) (features.ZStats, error) {
	if len(groups) == 0 && !withZ {
		return nil, nil
	}
	pipe := s.rdb.Pipeline()
	parts, mgets := s.queueReads(ctx, pipe, groups)
	var zcmd *goredis.MapStringStringCmd
	if withZ {
		zcmd = pipe.HGetAll(ctx, s.zkey())
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("read entities: %w", err)
	}
	return s.parseReads(parts, mgets, zcmd)
}

func (s *Online) queueReads(ctx context.Context, pipe goredis.Pipeliner, groups []*group) ([][]*group, []*goredis.SliceCmd) {
	parts := s.calls(groups)
	cmds := make([]*goredis.SliceCmd, len(parts))
	for i, part := range parts {
		keys := make([]string, len(part))
		for j, g := range part {
			keys[j] = g.key
		}
		cmds[i] = pipe.MGet(ctx, keys...)
	}
	return parts, cmds
}

func (s *Online) parseReads(parts [][]*group, cmds []*goredis.SliceCmd, zcmd *goredis.MapStringStringCmd) (features.ZStats, error) {
	for i, part := range parts {
		vals := cmds[i].Val()
		for j, g := range part {
			g.setValue("")
			v, ok := vals[j].(string)
			if !ok {
				continue
			}
			if len(v) < versionBytes {
				return nil, fmt.Errorf("read entity %q: value of %d bytes", g.entity, len(v))
			}
			g.setValue(v)
		}
	}
	if zcmd == nil {
		return nil, nil
	}
	return parseZStats(zcmd.Val()), nil
}

// setValue points g's version and state at v, an entity's stored value ("" for none). The engine
// only reads a state, so it can read v's memory in place.
func (g *group) setValue(v string) {
	g.raw, g.version, g.state = v, "", nil
	if v != "" {
		g.version, g.state = v[:versionBytes], unsafe.Slice(unsafe.StringData(v[versionBytes:]), len(v)-versionBytes)
	}
}

// readNear is read through the near cache: the groups and statistics it holds come from memory,
// the others from Redis in one read, kept for the next lookups unless invalidated meanwhile.
func (s *Online) readNear(ctx context.Context, groups []*group, withZ bool) (features.ZStats, error) {
	c := s.near
	var miss []*group
	var ids []uint64
	for _, g := range groups {
		if e, ok := c.get(g.key); ok {
			g.setValue(e.val)
			continue
		}
		miss = append(miss, g)
		ids = append(ids, c.reserve(g.key))
	}
	var z features.ZStats
	var zid uint64
	readZ := false
	if withZ {
		e, ok := c.get(s.zkey())
		if z, readZ = e.z, !ok; readZ {
			zid = c.reserve(s.zkey())
		}
	}
	if len(miss) == 0 && !readZ {
		return z, nil
	}
	read, err := s.read(ctx, miss, readZ)
	if err != nil {
		return nil, err
	}
	for i, g := range miss {
		c.fill(g.key, ids[i], nearEntry{val: g.raw})
	}
	if readZ {
		z = read
		c.fill(s.zkey(), zid, nearEntry{z: z})
	}
	return z, nil
}

// write stores every changed group, one script call per slot or chunk, pipelined, and returns the
// groups that another writer changed since they were read.
func (s *Online) write(ctx context.Context, groups []*group) ([]*group, error) {
	var changed []*group
	for _, g := range groups {
		if g.update.Changed {
			changed = append(changed, g)
		}
	}
	parts := s.calls(changed)
	calls := make([]*scriptCall, len(parts))
	for i, part := range parts {
		c := &scriptCall{keys: make([]string, len(part)), args: make([]any, 1, 1+2*len(part))}
		c.args[0] = s.ttl
		for j, g := range part {
			c.keys[j] = g.key
			c.args = append(c.args, g.version, withVersion(g.version, g.update.State))
		}
		calls[i] = c
	}
	if len(calls) == 0 {
		return nil, nil
	}
	if err := runScript(ctx, s.rdb, writeScript, calls); err != nil {
		return nil, fmt.Errorf("write entities: %w", err)
	}
	var conflicted []*group
	for i, part := range parts {
		positions, err := calls[i].cmd.Int64Slice()
		if err != nil {
			return nil, fmt.Errorf("write entities: %w", err)
		}
		for _, p := range positions {
			if p < 1 || int(p) > len(part) {
				return nil, fmt.Errorf("write entities: conflict at position %d of %d", p, len(part))
			}
			conflicted = append(conflicted, part[p-1])
		}
	}
	return conflicted, nil
}

// withVersion writes the version after the one read into the header the engine left free at the
// start of the state, and returns the value to store.
func withVersion(read string, state []byte) []byte {
	var v uint64
	if len(read) == versionBytes {
		v = binary.BigEndian.Uint64([]byte(read))
	}
	binary.BigEndian.PutUint64(state[:versionBytes], v+1)
	return state
}
