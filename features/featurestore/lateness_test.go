package featurestore_test

import (
	"sync"
	"testing"
	"time"

	"github.com/streamlearn/streamlearn/features"
	"github.com/streamlearn/streamlearn/features/featurestore"
	"github.com/streamlearn/streamlearn/internal/testenv"
	"github.com/streamlearn/streamlearn/wire"
)

func countConfig(lateness time.Duration) features.Config {
	cfg := features.DefaultConfig()
	cfg.AllowedLateness = lateness
	cfg.Aggregates = []features.Aggregate{{Function: features.FuncCount, Windows: []features.Window{window("1h"), window("24h")}}}
	return cfg
}

func TestLateEvents(t *testing.T) {
	var mu sync.Mutex
	var lateIDs []string
	var behind []time.Duration
	store, _ := newStore(t, countConfig(10*time.Minute), featurestore.Options{OnLate: func(e wire.Event, d time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		lateIDs, behind = append(lateIDs, e.ID), append(behind, d)
	}})
	ctx := testenv.Context(t, 30*time.Second)
	steps := []struct {
		event   wire.Event
		count1h float64 // as of just before the event
	}{
		{ev("e1", "u", 3*time.Hour, nil), 0},
		{ev("e2", "u", 3*time.Hour-5*time.Minute, nil), 0},  // 5m late: within the lateness, applied
		{ev("e3", "u", 3*time.Hour-10*time.Minute, nil), 0}, // exactly at the horizon: applied
		{ev("e4", "u", 3*time.Hour-40*time.Minute, nil), 0}, // 40m late: scored, not applied
		{ev("e5", "u", 3*time.Hour+6*time.Minute, nil), 3},  // sees e1, e2, e3, not e4
	}
	for _, s := range steps {
		got, err := store.Apply(ctx, []wire.Event{s.event})
		if err != nil {
			t.Fatal(err)
		}
		if c := got[0].Map()["count_1h"]; c != s.count1h {
			t.Errorf("%s: count_1h = %v, want %v", s.event.ID, c, s.count1h)
		}
	}
	if st := store.Stats(); st.Late != 1 || st.Applied != 4 {
		t.Errorf("stats %+v: want 1 late, 4 applied", st)
	}
	if len(lateIDs) != 1 || lateIDs[0] != "e4" || behind[0] != 30*time.Minute {
		t.Errorf("OnLate got %v behind %v; want e4 30m behind the horizon", lateIDs, behind)
	}
	// With zero lateness, anything behind the entity's latest event is too late.
	strict, _ := newStore(t, countConfig(0), featurestore.Options{})
	for _, e := range []wire.Event{ev("s1", "u", time.Hour, nil), ev("s2", "u", time.Hour-time.Millisecond, nil), ev("s3", "u", time.Hour, nil)} {
		if _, err := strict.Apply(ctx, []wire.Event{e}); err != nil {
			t.Fatal(err)
		}
	}
	if st := strict.Stats(); st.Late != 1 || st.Applied != 2 {
		t.Errorf("zero lateness: stats %+v, want s2 late and s1, s3 applied", st)
	}
}

// The windows are in event time: a replay of last week's events, fed as fast as possible, ages
// tiles by the events' own clock, not by the wall clock.
func TestEventTimeNotWallClock(t *testing.T) {
	store, _ := newStore(t, countConfig(time.Minute), featurestore.Options{})
	ctx := testenv.Context(t, 30*time.Second)
	var batch []wire.Event
	for i := range 48 {
		batch = append(batch, ev(string(rune('a'+i%26))+string(rune('a'+i/26)), "u", time.Duration(i)*30*time.Minute, nil))
	}
	got, err := store.Apply(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	last := got[len(got)-1].Map()
	// At 23h30m the 1h window, twelve 5m tiles ending with the current one, reaches back to 22h35m and
	// holds 23h; the 24h window, twelve 2h tiles, every earlier event from 0h on.
	if last["count_1h"] != 1 || last["count_24h"] != 47 {
		t.Errorf("at 23h30m: count_1h %v (want 1), count_24h %v (want 47)", last["count_1h"], last["count_24h"])
	}
}
