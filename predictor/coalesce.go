package predictor

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/streamlearn/streamlearn/features"
	"github.com/streamlearn/streamlearn/wire"
)

// coalescer merges the feature lookups of concurrent requests into one store call (one pipelined
// Redis round trip per node) in the manner of a group commit: a request that finds fewer than
// maxFlights calls in flight runs one itself, with every request queued by then; one that finds
// them all busy queues and waits for the next. A lone request therefore pays one round trip as
// before, and under load the round trips per request fall with the queue's length.
//
// A lookup changes nothing and each event's vector depends only on the event and its entity's
// stored state, so merging requests gives every event the vector it would get alone. Where a
// merged call fails, each request is looked up again on its own, so that one request's failure
// (a corrupt entity value) is never another's.
type coalescer struct {
	store features.OnlineStore
	// maxEvents bounds the events of one merged call (a larger request goes alone).
	maxEvents  int
	maxFlights int

	// linger is how long a leader waits before its call when the previous call started less
	// than busy ago (0: never waits).
	linger, busy time.Duration

	mu      sync.Mutex
	queue   []*lookupCall
	flights int
	// lastLead is when the latest leader started (unix ns).
	lastLead atomic.Int64
}

// lingerFor returns how long a leader starting at now waits: linger when the previous one
// started less than busy ago (traffic that will bring another request soon), else 0, so that a
// lone request never waits.
func (c *coalescer) lingerFor(now time.Time) time.Duration {
	prev := c.lastLead.Swap(now.UnixNano())
	if c.linger <= 0 || now.UnixNano()-prev > int64(c.busy) {
		return 0
	}
	return c.linger
}

// lookupCall is one request's lookup, answered when done is closed.
type lookupCall struct {
	events []wire.Event
	vs     []wire.Vector
	err    error
	done   chan struct{}
}

// Defaults of a coalescer: a merged call of up to 1000 events (two MGETs of the store's 500-key
// chunks, pipelined), and one call in flight: on two cores CPU, not Redis latency, bounds the rate,
// and every request that arrives during a round trip shares the next one (a request waits at most
// for the round trip in flight and its own). Under traffic of more than 500 requests a second a
// leader waits 100 µs first: at 6,000 req/s that cut the CPU per request by a fifth (fewer round
// trips) for about half a millisecond more at the median (docs/BENCHMARKS.md).
const (
	coalesceMaxEvents  = 1000
	coalesceMaxFlights = 1
	coalesceLinger     = 100 * time.Microsecond
	coalesceBusy       = 2 * time.Millisecond
)

func newCoalescer(store features.OnlineStore) *coalescer {
	return &coalescer{store: store, maxEvents: coalesceMaxEvents, maxFlights: coalesceMaxFlights, linger: coalesceLinger, busy: coalesceBusy}
}

// lookup returns the vectors of events at their times, as store.Lookup does.
func (c *coalescer) lookup(ctx context.Context, events []wire.Event) ([]wire.Vector, error) {
	call := &lookupCall{events: events, done: make(chan struct{})}
	c.mu.Lock()
	c.queue = append(c.queue, call)
	lead := c.flights < c.maxFlights
	if lead {
		c.flights++
	}
	c.mu.Unlock()
	if lead {
		// Under steady traffic, wait a moment for more requests to share this round trip; let
		// those ready to run queue first in any case.
		if d := c.lingerFor(time.Now()); d > 0 {
			time.Sleep(d)
		}
		runtime.Gosched()
		// The merged call must not fail because this request went away: the others wait on it.
		c.flush(context.WithoutCancel(ctx))
	}
	select {
	case <-call.done:
		return call.vs, call.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// flush runs one merged call of the queue's head (which holds the caller's own call when it just
// queued it), then hands its flight on to a new goroutine while calls are still queued.
func (c *coalescer) flush(ctx context.Context) {
	calls := c.take()
	if len(calls) == 0 {
		return
	}
	c.run(ctx, calls)
	c.mu.Lock()
	more := len(c.queue) > 0
	if !more {
		c.flights--
	}
	c.mu.Unlock()
	if more {
		go c.flush(ctx)
	}
}

// take removes the calls of the next merged call from the queue; with an empty queue it gives up
// the caller's flight and returns nil.
func (c *coalescer) take() []*lookupCall {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, events := 0, 0
	for n < len(c.queue) && (n == 0 || events+len(c.queue[n].events) <= c.maxEvents) {
		events += len(c.queue[n].events)
		n++
	}
	if n == 0 {
		c.flights--
		return nil
	}
	calls := make([]*lookupCall, n)
	copy(calls, c.queue)
	rest := copy(c.queue, c.queue[n:])
	clear(c.queue[rest:])
	c.queue = c.queue[:rest]
	return calls
}

// run looks up the events of calls in one store call and answers each call.
func (c *coalescer) run(ctx context.Context, calls []*lookupCall) {
	if len(calls) == 1 {
		calls[0].vs, calls[0].err = c.store.Lookup(ctx, calls[0].events)
		close(calls[0].done)
		return
	}
	total := 0
	for _, cl := range calls {
		total += len(cl.events)
	}
	events := make([]wire.Event, 0, total)
	for _, cl := range calls {
		events = append(events, cl.events...)
	}
	vs, err := c.store.Lookup(ctx, events)
	if err != nil {
		// Each on its own, at once: one call's failure stays its own.
		for _, cl := range calls {
			go func() {
				cl.vs, cl.err = c.store.Lookup(ctx, cl.events)
				close(cl.done)
			}()
		}
		return
	}
	at := 0
	for _, cl := range calls {
		cl.vs = vs[at : at+len(cl.events) : at+len(cl.events)]
		at += len(cl.events)
		close(cl.done)
	}
}
