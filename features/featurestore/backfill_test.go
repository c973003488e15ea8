package featurestore_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/streamlearn/streamlearn/features"
	"github.com/streamlearn/streamlearn/features/featurestore"
	"github.com/streamlearn/streamlearn/wire"
)

// TestBackfillLeavesLiveEntitiesAlone: a backfill loads the history of entities the store does not
// know and leaves a live entity's state exactly as it was.
func TestBackfillLeavesLiveEntitiesAlone(t *testing.T) {
	ctx := context.Background()
	store, _ := newStore(t, features.DefaultConfig(), featurestore.Options{Prefix: testPrefix(t), TTL: time.Hour})
	now := time.Now().UTC().Truncate(time.Second)
	ev := func(id, entity string, ago time.Duration, amount float64) wire.Event {
		return wire.Event{ID: id, Entity: entity, Time: now.Add(-ago), Fields: map[string]any{"amount": amount}}
	}
	if _, err := store.Apply(ctx, []wire.Event{ev("l1", "u-live", 30*time.Minute, 10), ev("l2", "u-live", 20*time.Minute, 20)}); err != nil {
		t.Fatal(err)
	}
	before, ok, err := store.Aggregates(ctx, "u-live", time.Time{})
	if err != nil || !ok {
		t.Fatalf("live entity: %v %v", ok, err)
	}
	history := []wire.Event{
		ev("h1", "u-new", 50*time.Minute, 1), ev("h2", "u-live", 45*time.Minute, 1000), ev("h3", "u-new", 40*time.Minute, 3),
		ev("h4", "", 40*time.Minute, 3), ev("h5", "u-new", 35*time.Minute, 5),
	}
	known := map[string]bool{}
	var got features.BackfillResult
	for _, batch := range [][]wire.Event{history[:2], history[2:]} { // the store is asked once per entity
		res, err := features.Backfill(ctx, store, batch, known)
		if err != nil {
			t.Fatal(err)
		}
		got.Applied, got.Skipped, got.Entities = got.Applied+res.Applied, got.Skipped+res.Skipped, got.Entities+res.Entities
	}
	if want := (features.BackfillResult{Applied: 3, Skipped: 2, Entities: 1}); got != want {
		t.Errorf("backfill = %+v, want %+v", got, want)
	}
	after, _, _ := store.Aggregates(ctx, "u-live", time.Time{})
	if !reflect.DeepEqual(before, after) {
		t.Errorf("live entity changed by the backfill:\n before %+v\n after  %+v", before, after)
	}
	loaded, ok, err := store.Aggregates(ctx, "u-new", now)
	if err != nil || !ok || loaded.Values["count_1h"] != 3 || loaded.Values["amount_mean_1h"] != 3 {
		t.Errorf("backfilled entity = %+v, %v, %v; want 3 events of mean amount 3", loaded, ok, err)
	}
}
