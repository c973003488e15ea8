package correlator

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	goredis "github.com/redis/go-redis/v9"

	"github.com/streamlearn/streamlearn/internal/lease"
)

// stateStore keeps the correlator's snapshot and offsets in Redis, under one hash tag so that a Redis
// Cluster updates both in one transaction.
// Saves are fenced by the correlator's lease, in the same slot, when the correlator holds one.
type stateStore struct {
	rdb                     goredis.UniversalClient
	snapshotKey, offsetsKey string
	fence                   string // the lease held while saving; "" for none
}

func newStateStore(rdb goredis.UniversalClient, prefix, group string) *stateStore {
	tag := keyTag(prefix, group)
	return &stateStore{rdb: rdb, snapshotKey: tag + "snapshot", offsetsKey: tag + "offsets"}
}

func keyTag(prefix, group string) string {
	return prefix + "correlator:{" + strings.ReplaceAll(group, "}", "_") + "}:"
}

// LeaseKey is the key of the lease that the single active correlator of group holds, under the Redis
// key prefix; it shares its Redis Cluster slot with the state it fences.
func LeaseKey(prefix, group string) string {
	return keyTag(prefix, group) + "lease"
}

func (s *stateStore) load(ctx context.Context) (snap []byte, offs savedOffsets, ok bool, err error) {
	vals, err := s.rdb.MGet(ctx, s.snapshotKey, s.offsetsKey).Result()
	if err != nil {
		return nil, offs, false, fmt.Errorf("load state: %w", err)
	}
	sv, _ := vals[0].(string)
	ov, _ := vals[1].(string)
	if sv == "" || ov == "" {
		return nil, offs, false, nil
	}
	if err := json.Unmarshal([]byte(ov), &offs); err != nil {
		return nil, offs, false, fmt.Errorf("load state: offsets: %w", err)
	}
	return []byte(sv), offs, true, nil
}

// save writes the offsets, and the snapshot unless it is nil (unchanged), atomically.
func (s *stateStore) save(ctx context.Context, snap []byte, offs savedOffsets) error {
	b, err := json.Marshal(offs)
	if err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	write := func(p goredis.Pipeliner) error {
		if snap != nil {
			p.Set(ctx, s.snapshotKey, snap, 0)
		}
		p.Set(ctx, s.offsetsKey, b, 0)
		return nil
	}
	if s.fence == "" {
		_, err = s.rdb.TxPipelined(ctx, write)
	} else {
		err = s.fencedWrite(ctx, write)
	}
	if err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	return nil
}

// fencedWrite runs write as one transaction that commits only while the correlator holds its lease.
func (s *stateStore) fencedWrite(ctx context.Context, write func(goredis.Pipeliner) error) error {
	return lease.FencedWrite(ctx, s.rdb, strings.TrimSuffix(s.offsetsKey, "offsets")+"lease", s.fence, write)
}
