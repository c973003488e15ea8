package featurestore_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/streamlearn/streamlearn/features"
	"github.com/streamlearn/streamlearn/features/featurestore"
	"github.com/streamlearn/streamlearn/internal/testenv"
	"github.com/streamlearn/streamlearn/wire"
)

func TestRedeliveryAppliesOnceAndAnswersTheSame(t *testing.T) {
	cfg := features.DefaultConfig()
	prefix := testPrefix(t)
	store, rdb := newStore(t, cfg, featurestore.Options{Prefix: prefix})
	ctx := testenv.Context(t, 30*time.Second)
	batch := []wire.Event{
		ev("e1", "u", time.Minute, map[string]any{"amount": 10.0}),
		ev("e2", "u", 2*time.Minute, map[string]any{"amount": 20.0}),
		ev("e2", "u", 2*time.Minute, map[string]any{"amount": 20.0}), // a producer retry in the same batch
		ev("e3", "u", 3*time.Minute, map[string]any{"amount": 30.0}),
	}
	first, err := store.Apply(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(first[1]) != fmt.Sprint(first[2]) {
		t.Errorf("duplicate in a batch: %v, then %v", first[1], first[2])
	}
	// The consumer restarts and the whole batch comes again, to a new store instance.
	again, _ := newStore(t, cfg, featurestore.Options{Prefix: prefix})
	second, err := again.Apply(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	for i := range batch {
		if fmt.Sprint(first[i]) != fmt.Sprint(second[i]) {
			t.Errorf("event %d: redelivered %v, first %v", i, second[i], first[i])
		}
	}
	// Redis lost its scripts meanwhile: the store loads them again.
	if err := rdb.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	next, err := again.Apply(ctx, []wire.Event{ev("e4", "u", 4*time.Minute, map[string]any{"amount": 40.0})})
	if err != nil {
		t.Fatal(err)
	}
	if m := next[0].Map(); m["count_1h"] != 3 || m["amount_mean_1h"] != 20 {
		t.Errorf("after redelivery: %v, want count_1h 3 and amount_mean_1h 20", next[0])
	}
	if st := again.Stats(); st.Duplicates != 4 || st.Applied != 1 {
		t.Errorf("stats %+v: want 4 duplicates and 1 applied", st)
	}
	// Lookup answers an applied event with its vector too, and changes nothing.
	looked, err := store.Lookup(ctx, batch[:1])
	if err != nil || fmt.Sprint(looked[0]) != fmt.Sprint(first[0]) {
		t.Errorf("Lookup of e1: %v (%v), want %v", looked, err, first[0])
	}
}

// Marks last until the entity's horizon passes their bucket of event time: the entity's value stays
// the same size however many events it has seen.
func TestMarksAreBounded(t *testing.T) {
	cfg := countConfig(4 * time.Minute) // marks in buckets of 1 minute
	prefix := testPrefix(t)
	store, rdb := newStore(t, cfg, featurestore.Options{Prefix: prefix})
	ctx := testenv.Context(t, 30*time.Second)
	key := prefix + "f{u}"
	var sizes []int64
	for i := range 600 {
		e := ev(fmt.Sprint("m", i), "u", time.Duration(i)*10*time.Second, nil)
		if _, err := store.Apply(ctx, []wire.Event{e}); err != nil {
			t.Fatal(err)
		}
		if i%100 == 99 {
			sizes = append(sizes, rdb.StrLen(ctx, key).Val())
		}
	}
	// About 30 marks of ~20 bytes and 13 tiles: far from the 600 events seen.
	for _, n := range sizes {
		if n > 1500 {
			t.Errorf("value sizes after every 100 events: %v; want them bounded", sizes)
			break
		}
	}
	if ttl := rdb.PTTL(ctx, key).Val(); ttl <= 0 || ttl > 24*time.Hour+4*time.Minute {
		t.Errorf("PTTL %s: want the longest window plus the lateness", ttl)
	}
	// The earliest event comes again: its mark is gone, and it is too late to apply.
	if _, err := store.Apply(ctx, []wire.Event{ev("m0", "u", 0, nil)}); err != nil {
		t.Fatal(err)
	}
	if st := store.Stats(); st.Applied != 600 || st.Late != 1 {
		t.Errorf("stats %+v: want 600 applied, the old redelivery late", st)
	}
}

// Past max_marks the oldest buckets of marks go early and the entity's floor rises with them, so
// an event whose mark is gone can never be applied a second time.
func TestMaxMarksRaisesTheFloor(t *testing.T) {
	cfg := countConfig(time.Hour) // marks in buckets of 15 minutes
	cfg.MaxMarks = 16
	store, _ := newStore(t, cfg, featurestore.Options{})
	ctx := testenv.Context(t, 30*time.Second)
	var events []wire.Event
	for i := range 40 {
		events = append(events, ev(fmt.Sprint("m", i), "u", time.Duration(i)*time.Minute, nil))
	}
	if _, err := store.Apply(ctx, events); err != nil {
		t.Fatal(err)
	}
	// m5 is within the hour of lateness, but its bucket (0-15m) was dropped for the cap.
	got, err := store.Apply(ctx, []wire.Event{events[5], ev("n", "u", 41*time.Minute, nil)})
	if err != nil {
		t.Fatal(err)
	}
	if st := store.Stats(); st.Applied != 41 || st.Late != 1 {
		t.Errorf("stats %+v: want m5 late (its mark dropped early), n applied", st)
	}
	if c := got[1].Map()["count_1h"]; c != 40 {
		t.Errorf("count_1h after the redelivery = %v, want 40", c)
	}
}
