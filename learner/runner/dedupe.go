package runner

import (
	"context"
	"fmt"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// DefaultDedupeWindow is how many recent examples per partition the learner remembers by id.
const DefaultDedupeWindow = 100_000

// recentIDs remembers the event ids of the last n examples of each partition of the examples
// topic, so that a second copy of an example is learned once. A copy comes from a stage that died
// after producing an example and before acknowledging it to the join store: its successor produces
// the example again. Copies are keyed by event id, so they land in the same partition, a few
// seconds' worth of records apart. Ids are kept as 64-bit hashes (a false match among a million ids
// has a chance near 1e-8).
type recentIDs struct {
	n     int
	parts map[int32]*idRing
}

type idRing struct {
	ring []uint64
	next int
	set  map[uint64]int32 // hash -> copies in the ring
}

func newRecentIDs(n int) *recentIDs {
	return &recentIDs{n: n, parts: map[int32]*idRing{}}
}

// seen reports whether id is among the last n ids of partition p, and remembers it. An empty id
// is never seen.
func (r *recentIDs) seen(p int32, id string) bool {
	if r.n <= 0 || id == "" {
		return false
	}
	ring := r.parts[p]
	if ring == nil {
		ring = &idRing{ring: make([]uint64, 0, min(r.n, 4096)), set: map[uint64]int32{}}
		r.parts[p] = ring
	}
	h := xxhash.Sum64String(id)
	dup := ring.set[h] > 0
	if len(ring.ring) < r.n {
		ring.ring = append(ring.ring, h)
	} else {
		old := ring.ring[ring.next]
		if ring.set[old]--; ring.set[old] <= 0 {
			delete(ring.set, old)
		}
		ring.ring[ring.next] = h
		ring.next = (ring.next + 1) % r.n
	}
	ring.set[h]++
	return dup
}

// warm reads, without learning them, the up to n records before each partition's resume offset,
// so that a restarted learner skips the same copies as one that never stopped.
func (r *recentIDs) warm(ctx context.Context, opts []kgo.Opt, topic string, resume map[int32]int64) error {
	if r.n <= 0 || len(resume) == 0 {
		return nil
	}
	adm, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	starts, err := kadm.NewClient(adm).ListStartOffsets(ctx, topic)
	adm.Close()
	if err != nil {
		return fmt.Errorf("examples topic start offsets: %w", err)
	}
	from := map[int32]kgo.Offset{}
	left := map[int32]int64{} // partition -> resume offset, until read up to it
	for p, at := range resume {
		lo := at - int64(r.n)
		if s, ok := starts.Lookup(topic, p); ok && s.Err == nil {
			lo = max(lo, s.Offset)
		}
		if lo < at {
			from[p], left[p] = kgo.NewOffset().At(max(lo, 0)), at
		}
	}
	if len(left) == 0 {
		return nil
	}
	cl, err := kgo.NewClient(append(append([]kgo.Opt{}, opts...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: from}), kgo.FetchMaxWait(200*time.Millisecond))...)
	if err != nil {
		return err
	}
	defer cl.Close()
	for len(left) > 0 {
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		fetches := cl.PollFetches(pctx)
		timedOut := pctx.Err() != nil
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if timedOut && len(fetches.Records()) == 0 {
			return fmt.Errorf("read the examples before the checkpoint: nothing for 10s from partitions %v", left)
		}
		fetches.EachRecord(func(rec *kgo.Record) {
			at, ok := left[rec.Partition]
			if !ok || rec.Offset >= at {
				return
			}
			r.seen(rec.Partition, string(rec.Key))
			if rec.Offset+1 >= at {
				delete(left, rec.Partition)
			}
		})
	}
	return nil
}
