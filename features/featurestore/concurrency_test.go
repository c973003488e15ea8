package featurestore_test

import (
	"fmt"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/streamlearn/streamlearn/features/featurestore"
	"github.com/streamlearn/streamlearn/internal/testenv"
	"github.com/streamlearn/streamlearn/wire"
)

// Two writers on the same entities (a rebalance, or two processes) never lose or double an update:
// a write whose entity changed since it was read is read, computed and written again.
func TestConcurrentWritersCompareAndSet(t *testing.T) {
	prefix := testPrefix(t)
	cfg := countConfig(24 * time.Hour)
	a, _ := newStore(t, cfg, featurestore.Options{Prefix: prefix})
	b, _ := newStore(t, cfg, featurestore.Options{Prefix: prefix})
	ctx := testenv.Context(t, time.Minute)
	const perWriter, entities = 400, 3
	var g errgroup.Group
	for w, store := range []*featurestore.Online{a, b} {
		g.Go(func() error {
			for i := range perWriter / 4 {
				var batch []wire.Event
				for k := range 4 {
					n := i*4 + k
					// Both writers also send each other's ids now and then: duplicates across writers.
					id := fmt.Sprintf("w%d-%d", w, n)
					if n%10 == 0 {
						id = fmt.Sprintf("shared-%d", n)
					}
					batch = append(batch, ev(id, fmt.Sprint("u", n%entities), time.Duration(n)*time.Second, nil))
				}
				if _, err := store.Apply(ctx, batch); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for e := range entities {
		snap, ok, err := a.Aggregates(ctx, fmt.Sprint("u", e), t0.Add(time.Hour))
		if err != nil || !ok {
			t.Fatalf("Aggregates: %v %v", ok, err)
		}
		total += snap.Values["count_24h"]
	}
	// Each writer sends perWriter events, a tenth of them with ids both send.
	if want := float64(2*perWriter - perWriter/10); total != want {
		t.Errorf("%v events counted, want %v (stats %+v, %+v)", total, want, a.Stats(), b.Stats())
	}
	if applied := a.Stats().Applied + b.Stats().Applied; applied != uint64(2*perWriter-perWriter/10) {
		t.Errorf("Stats count %d applied events, want %d", applied, 2*perWriter-perWriter/10)
	}
	t.Logf("conflicts retried: %d + %d", a.Stats().Conflicts, b.Stats().Conflicts)
}
