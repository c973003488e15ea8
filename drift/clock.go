package drift

import (
	"math"
	"time"
)

// Clock derives the watermark of each stream from the partitions it is read
// from, for Monitor.Advance, so that a consumer that reads some partitions
// ahead of others (a backlog, a replay after a restart) closes no window
// before every partition with records left has passed it. Lateness then
// measures how far event times are out of order within a partition, not
// how far apart the consumer reads partitions.
//
// A partition that has records left to read (Lagging) holds its stream's
// watermark at the largest event time read from it, at the very start
// until its first record. One that is caught up goes on holding for the
// idle time after it last had records: producers write partitions a
// little apart, and a partition read to its end a moment before its
// next records arrive is not idle. Past the idle time it holds nothing,
// so idle partitions never stall the stream. When no partition holds,
// the watermark is the largest event time read. Watermarks never go back.
// It is not safe for concurrent use.
type Clock struct {
	// Now is the wall clock that measures idleness (default time.Now).
	Now   func() time.Time
	idle  time.Duration
	parts map[Partition]*partitionClock
	marks map[Stream]int64
}

// DefaultPartitionIdle is how long a caught-up partition holds its stream's watermark.
const DefaultPartitionIdle = 10 * time.Second

type partitionClock struct {
	stream  Stream
	max     int64
	lagging bool
	active  time.Time // when it was last lagging or had records read
}

// NewClock returns a Clock with no partitions whose caught-up partitions hold for idle.
func NewClock(idle time.Duration) *Clock {
	return &Clock{Now: time.Now, idle: idle, parts: make(map[Partition]*partitionClock), marks: make(map[Stream]int64)}
}

func (c *Clock) part(p Partition, s Stream) *partitionClock {
	pc := c.parts[p]
	if pc == nil {
		pc = &partitionClock{stream: s, max: math.MinInt64}
		c.parts[p] = pc
	}
	pc.stream = s
	return pc
}

// Lagging records whether p has records left to read: after an
// assignment, from its end offset; after each fetch, from its high
// watermark.
func (c *Clock) Lagging(p Partition, s Stream, lagging bool) {
	pc := c.part(p, s)
	pc.lagging = lagging
	pc.active = c.Now()
}

// Seen records an event time read from p.
func (c *Clock) Seen(p Partition, s Stream, t time.Time) {
	pc := c.part(p, s)
	pc.max = max(pc.max, t.UnixNano())
	pc.active = c.Now()
}

// Watermark returns the watermark of stream s; ok is false while it has
// none (nothing read yet, or a holding partition not read yet).
func (c *Clock) Watermark(s Stream) (t time.Time, ok bool) {
	now := c.Now()
	held, top := int64(math.MaxInt64), int64(math.MinInt64)
	for _, pc := range c.parts {
		if pc.stream != s {
			continue
		}
		top = max(top, pc.max)
		if pc.lagging || now.Sub(pc.active) < c.idle {
			held = min(held, pc.max)
		}
	}
	w := min(held, top)
	if prev, ok := c.marks[s]; ok {
		w = max(w, prev)
	}
	if w == math.MinInt64 {
		return time.Time{}, false
	}
	c.marks[s] = w
	return time.Unix(0, w).UTC(), true
}
