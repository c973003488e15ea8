package predictor

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/streamlearn/streamlearn/features"
	"github.com/streamlearn/streamlearn/features/featurestore"
	"github.com/streamlearn/streamlearn/internal/testenv"
	"github.com/streamlearn/streamlearn/wire"
)

// gatedStore is the real feature store, with a record of the lookups it serves and a gate that
// holds the first lookup until the test opens it.
type gatedStore struct {
	features.OnlineStore
	entered chan struct{}
	gate    chan struct{}

	mu    sync.Mutex
	sizes []int
}

func (g *gatedStore) Lookup(ctx context.Context, events []wire.Event) ([]wire.Vector, error) {
	g.mu.Lock()
	g.sizes = append(g.sizes, len(events))
	first := len(g.sizes) == 1
	g.mu.Unlock()
	if first {
		close(g.entered)
		<-g.gate
	}
	return g.OnlineStore.Lookup(ctx, events)
}

func testStore(t *testing.T) (*featurestore.Online, *goredis.Client, string) {
	t.Helper()
	rdb := goredis.NewClient(&goredis.Options{Addr: testenv.Redis(t)})
	t.Cleanup(func() { rdb.Close() })
	prefix := fmt.Sprintf("t:%s:%d:", t.Name(), time.Now().UnixNano())
	st, err := featurestore.NewOnline(rdb, features.DefaultConfig(), featurestore.Options{Prefix: prefix, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now().Add(-time.Hour)
	var evs []wire.Event
	for i := range 8 {
		for k := range 1 + i%3 {
			evs = append(evs, wire.Event{ID: fmt.Sprintf("h-%d-%d", i, k), Entity: fmt.Sprintf("u-%d", i), Time: at.Add(time.Duration(k) * time.Second),
				Fields: map[string]any{"amount": float64(i + k)}})
		}
	}
	if _, err := st.Apply(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	return st, rdb, prefix
}

func lookupEvents(i int) []wire.Event {
	at := time.Now().Add(-time.Minute)
	evs := make([]wire.Event, 1+i%3)
	for k := range evs {
		evs[k] = wire.Event{ID: fmt.Sprintf("q-%d-%d", i, k), Entity: fmt.Sprintf("u-%d", (i+k)%8), Time: at, Fields: map[string]any{"amount": float64(k)}}
	}
	return evs
}

// waitQueued waits until n calls are queued behind the flight in progress.
func waitQueued(t *testing.T, c *coalescer, n int) {
	t.Helper()
	waitState(t, c, func(queued, _ int) bool { return queued == n })
}

// waitState waits until ok holds of the coalescer's queue length and flights.
func waitState(t *testing.T, c *coalescer, ok func(queued, flights int) bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		c.mu.Lock()
		q, f := len(c.queue), c.flights
		c.mu.Unlock()
		if ok(q, f) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d calls queued, %d flights: not the state waited for", q, f)
		}
	}
}

// TestCoalescerMerges holds a lookup in Redis while other requests arrive: they are served by one
// merged store call, and every request gets the vectors it gets from the store on its own.
func TestCoalescerMerges(t *testing.T) {
	st, _, _ := testStore(t)
	g := &gatedStore{OnlineStore: st, entered: make(chan struct{}), gate: make(chan struct{})}
	c := newCoalescer(g)
	c.maxFlights = 1
	ctx := context.Background()
	const n = 6
	got := make([][]wire.Vector, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	wg.Go(func() { got[0], errs[0] = c.lookup(ctx, lookupEvents(0)) })
	<-g.entered
	for i := 1; i < n; i++ {
		wg.Go(func() { got[i], errs[i] = c.lookup(ctx, lookupEvents(i)) })
	}
	waitQueued(t, c, n-1)
	close(g.gate)
	wg.Wait()
	queued := 0
	for i := 1; i < n; i++ {
		queued += len(lookupEvents(i))
	}
	if want := []int{len(lookupEvents(0)), queued}; !reflect.DeepEqual(g.sizes, want) {
		t.Errorf("store lookups of %v events, want %v", g.sizes, want)
	}
	for i := range n {
		want, err := st.Lookup(ctx, lookupEvents(i))
		if err != nil || errs[i] != nil {
			t.Fatalf("lookup %d: %v, %v", i, errs[i], err)
		}
		if !reflect.DeepEqual(got[i], want) {
			t.Errorf("lookup %d = %v, alone %v", i, got[i], want)
		}
	}
	// The last flight ends just after it answered: then nothing is left.
	waitState(t, c, func(queued, flights int) bool { return queued == 0 && flights == 0 })
}

// TestCoalescerIsolatesFailures merges a request whose entity's stored value is corrupt with
// others: that request fails, the others get their vectors.
func TestCoalescerIsolatesFailures(t *testing.T) {
	st, rdb, prefix := testStore(t)
	ctx := context.Background()
	if err := rdb.Set(ctx, prefix+"f{u-bad}", "abc", time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	bad := []wire.Event{{ID: "bad", Entity: "u-bad", Time: time.Now()}}
	if _, err := st.Lookup(ctx, bad); err == nil || !strings.Contains(err.Error(), "value of 3 bytes") {
		t.Fatalf("lookup of the corrupt entity: %v, want an error about its value (is the key right?)", err)
	}
	g := &gatedStore{OnlineStore: st, entered: make(chan struct{}), gate: make(chan struct{})}
	c := newCoalescer(g)
	c.maxFlights = 1
	const n = 5
	got := make([][]wire.Vector, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	wg.Go(func() { got[0], errs[0] = c.lookup(ctx, lookupEvents(0)) })
	<-g.entered
	for i := 1; i < n; i++ {
		evs := lookupEvents(i)
		if i == 2 {
			evs = bad
		}
		wg.Go(func() { got[i], errs[i] = c.lookup(ctx, evs) })
	}
	waitQueued(t, c, n-1)
	close(g.gate)
	wg.Wait()
	for i := range n {
		if i == 2 {
			if errs[i] == nil || !strings.Contains(errs[i].Error(), "value of 3 bytes") {
				t.Errorf("lookup of the corrupt entity: %v, want its error", errs[i])
			}
			continue
		}
		want, _ := st.Lookup(ctx, lookupEvents(i))
		if errs[i] != nil || !reflect.DeepEqual(got[i], want) {
			t.Errorf("lookup %d = %v %v, want %v", i, got[i], errs[i], want)
		}
	}
	// The merged call failed, then each request went alone.
	if len(g.sizes) != 2+n-1 {
		t.Errorf("store lookups of %v events, want the held one, the merged one and %d alone", g.sizes, n-1)
	}
}

// TestCoalescerCancelledWaiter checks that a request that goes away stops waiting at once and
// does not fail the others merged with it.
func TestCoalescerCancelledWaiter(t *testing.T) {
	st, _, _ := testStore(t)
	g := &gatedStore{OnlineStore: st, entered: make(chan struct{}), gate: make(chan struct{})}
	c := newCoalescer(g)
	c.maxFlights = 1
	bg := context.Background()
	var wg sync.WaitGroup
	var first []wire.Vector
	var firstErr error
	wg.Go(func() { first, firstErr = c.lookup(bg, lookupEvents(0)) })
	<-g.entered
	ctx, cancel := context.WithCancel(bg)
	var cancelledErr, otherErr error
	var other []wire.Vector
	wg.Go(func() { _, cancelledErr = c.lookup(ctx, lookupEvents(1)) })
	wg.Go(func() { other, otherErr = c.lookup(bg, lookupEvents(2)) })
	waitQueued(t, c, 2)
	cancel()
	close(g.gate)
	wg.Wait()
	want0, _ := st.Lookup(bg, lookupEvents(0))
	want2, _ := st.Lookup(bg, lookupEvents(2))
	if firstErr != nil || otherErr != nil || !reflect.DeepEqual(first, want0) || !reflect.DeepEqual(other, want2) {
		t.Errorf("the others: %v %v, want their vectors", firstErr, otherErr)
	}
	if cancelledErr != nil && cancelledErr != context.Canceled {
		t.Errorf("the cancelled request: %v, want its vectors or context.Canceled", cancelledErr)
	}
}

// TestCoalescerLinger checks that a leader waits only under traffic: a lone request goes at once.
func TestCoalescerLinger(t *testing.T) {
	c := newCoalescer(nil)
	t0 := time.Unix(1000, 0)
	for _, step := range []struct {
		at   time.Duration
		want time.Duration
	}{
		{0, 0},                             // the first request
		{time.Millisecond, coalesceLinger}, // 1 ms after the previous leader: busy
		{1500 * time.Microsecond, coalesceLinger},
		{10 * time.Millisecond, 0}, // 8.5 ms of quiet
		{11 * time.Millisecond, coalesceLinger},
	} {
		if got := c.lingerFor(t0.Add(step.at)); got != step.want {
			t.Errorf("leader at +%s waits %s, want %s", step.at, got, step.want)
		}
	}
	c.linger = 0
	if got := c.lingerFor(t0.Add(11500 * time.Microsecond)); got != 0 {
		t.Errorf("with linger 0 a leader waits %s", got)
	}
}
