package registry_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/streamlearn/streamlearn/learner"
	"github.com/streamlearn/streamlearn/learner/registry"
)

func TestSnapshotsTagsResolveAndRollbackTo(t *testing.T) {
	rdb, prefix := client(t)
	reg := registry.NewRegistry(rdb, prefix)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	publish := func(i int, kind string) learner.Version {
		t.Helper()
		v, err := reg.Publish(ctx, learner.Version{Model: "m", Kind: kind, CreatedAt: t0.Add(time.Duration(i) * time.Hour), Examples: int64(i)},
			[]byte(fmt.Sprintf("snap-%d", i)), nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := reg.Promote(ctx, "m", v.Version, "auto", false, false); err != nil && !errors.Is(err, learner.ErrPinned) {
			t.Fatal(err)
		}
		return v
	}
	if _, err := reg.TakeSnapshot(ctx, "m", learner.SnapshotRequest{Tag: "x"}); !errors.Is(err, learner.ErrNotFound) {
		t.Fatalf("snapshot with nothing published = %v, want ErrNotFound", err)
	}
	publish(1, learner.SnapshotScheduled)
	publish(2, "")
	v, err := reg.TakeSnapshot(ctx, "m", learner.SnapshotRequest{Tag: "before-incident", Reason: "audit", By: "ana"})
	if err != nil || v.Version != 2 || v.Kind != learner.SnapshotManual || v.By != "ana" || v.Note != "audit" || len(v.Tags) != 1 {
		t.Fatalf("snapshot = %+v, %v", v, err)
	}
	// A second tag on the same version adds to it; a taken tag is refused; bad tags are refused.
	if v, err = reg.TakeSnapshot(ctx, "m", learner.SnapshotRequest{Version: 2, Tag: "v2-ok"}); err != nil || len(v.Tags) != 2 || v.Kind != learner.SnapshotManual {
		t.Fatalf("second tag = %+v, %v", v, err)
	}
	if _, err := reg.TakeSnapshot(ctx, "m", learner.SnapshotRequest{Version: 1, Tag: "v2-ok"}); !errors.Is(err, learner.ErrTagTaken) {
		t.Errorf("taken tag = %v, want ErrTagTaken", err)
	}
	for _, bad := range []string{"12", "2026-11-01T10:00:00Z", "a b", ""} {
		if _, err := reg.TakeSnapshot(ctx, "m", learner.SnapshotRequest{Version: 1, Tag: bad}); err == nil && bad != "" {
			t.Errorf("tag %q accepted", bad)
		}
	}
	publish(3, "")
	publish(4, "")
	for ref, want := range map[string]int64{"1": 1, "4": 4, "before-incident": 2, "2026-11-01T11:30:00Z": 1, "2026-11-01T12:00:00Z": 2, "2026-11-01T23:00:00Z": 2} {
		if got, err := reg.Resolve(ctx, "m", ref); err != nil || got != want {
			t.Errorf("Resolve(%q) = %d, %v; want %d", ref, got, err, want)
		}
	}
	for _, ref := range []string{"3", "nope", "2026-11-01T10:59:00Z", ""} {
		if got, err := reg.Resolve(ctx, "m", ref); !errors.Is(err, learner.ErrNotFound) {
			t.Errorf("Resolve(%q) = %d, %v; want ErrNotFound", ref, got, err)
		}
	}
	ch, err := reg.Rollback(ctx, "m", 2, "bad deploy", "ana")
	if err != nil || ch.Version != 2 || ch.Previous != 4 || !ch.Pinned || ch.By != "ana" {
		t.Fatalf("rollback = %+v, %v", ch, err)
	}
	publish(5, "") // learning goes on; the pin holds
	if c, _ := reg.Champion(ctx, "m"); c != 2 {
		t.Fatalf("champion after a publish = %d, want the pinned 2", c)
	}
	if b, err := reg.Snapshot(ctx, "m", 2); err != nil || string(b) != "snap-2" {
		t.Fatalf("snapshot 2 = %q, %v", b, err)
	}
	ch, err = reg.Unpin(ctx, "m", "", "bo")
	if err != nil || ch.Version != 5 || ch.Previous != 2 || ch.Pinned || ch.By != "bo" {
		t.Fatalf("unpin = %+v, %v", ch, err)
	}
	if pinned, _ := reg.Pinned(ctx, "m"); pinned {
		t.Fatal("pinned after unpin")
	}
	hist, _ := reg.History(ctx, "m")
	if len(hist) != 2 || hist[0].By != "bo" || hist[1].By != "ana" || hist[1].Reason != "bad deploy" {
		t.Fatalf("history = %+v", hist)
	}
	if err := reg.SetReport(ctx, "m", 2, learner.Report{HeldOut: &learner.HeldOut{N: 7, AUC: 0.75}}); err != nil {
		t.Fatal(err)
	}
	if v, _ := reg.Get(ctx, "m", 2); v.Report == nil || v.Report.HeldOut.N != 7 || len(v.Tags) != 2 {
		t.Errorf("version 2 after its report = %+v", v)
	}
	if err := reg.SetReport(ctx, "m", 5, learner.Report{}); !errors.Is(err, learner.ErrNotFound) {
		t.Errorf("report of a live head = %v, want ErrNotFound", err)
	}
}

// TestPruneKeepsHourlyDailyTaggedAndChampions runs 100 days of hourly snapshots through the
// default retention with an injected clock: what is kept is exactly one an hour for 48 hours,
// one a day for 90 days, the tagged one and the past champions, and the state stays bounded.
func TestPruneKeepsHourlyDailyTaggedAndChampions(t *testing.T) {
	rdb, prefix := client(t)
	reg := registry.NewRegistry(rdb, prefix)
	ctx := context.Background()
	t0 := time.Date(2026, 8, 1, 0, 30, 0, 0, time.UTC)
	const hours = 100 * 24
	var now time.Time
	maxKept := 0
	for i := range hours {
		now = t0.Add(time.Duration(i) * time.Hour)
		v, err := reg.Publish(ctx, learner.Version{Model: "m", Kind: learner.SnapshotScheduled, CreatedAt: now}, []byte("w"), nil)
		if err != nil {
			t.Fatal(err)
		}
		switch i {
		case 5: // a tagged snapshot, far older than 90 days at the end
			if _, err := reg.TakeSnapshot(ctx, "m", learner.SnapshotRequest{Version: v.Version, Tag: "launch"}); err != nil {
				t.Fatal(err)
			}
		case 7, 300: // past champions, by hand
			if _, err := reg.Promote(ctx, "m", v.Version, "ship", true, false); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := reg.Prune(ctx, "m", learner.DefaultRetention, now); err != nil {
			t.Fatal(err)
		}
		vs, _ := reg.List(ctx, "m")
		maxKept = max(maxKept, len(vs))
	}
	vs, err := reg.List(ctx, "m")
	if err != nil {
		t.Fatal(err)
	}
	kept := map[int64]bool{}
	for _, v := range vs {
		kept[v.Version] = true
	}
	// Version k was created at t0 + (k-1) hours; the last is `hours`.
	want := map[int64]bool{6: true, 8: true, 301: true}
	for k := int64(hours - 48); k <= hours; k++ {
		want[k] = true // hourly for 48 h (age 0..48 h inclusive)
	}
	for d := int64(1); d <= 90; d++ {
		// The newest of each UTC day whose snapshot is at most 90 days old: 23:30 of that day.
		day := t0.Add(time.Duration(hours-1)*time.Hour).Truncate(24*time.Hour).AddDate(0, 0, -int(d))
		last := day.Add(23*time.Hour + 30*time.Minute)
		if now.Sub(last) > 48*time.Hour && now.Sub(last) <= 90*24*time.Hour {
			want[int64(last.Sub(t0)/time.Hour)+1] = true
		}
	}
	for k := range want {
		if !kept[k] {
			t.Errorf("version %d deleted, want kept", k)
		}
	}
	for k := range kept {
		if !want[k] {
			t.Errorf("version %d kept, want deleted", k)
		}
	}
	if _, err := reg.Get(ctx, "m", 9); !errors.Is(err, learner.ErrNotFound) {
		t.Errorf("a pruned version's metadata = %v, want gone", err)
	}
	n, _ := rdb.Keys(ctx, prefix+"*").Result()
	if len(n) > len(want)+10 {
		t.Errorf("%d keys for %d snapshots kept: state is not bounded", len(n), len(want))
	}
	t.Logf("kept %d of %d snapshots (at most %d at once), %d keys", len(vs), hours, maxKept, len(n))
}

// TestSnapshotsRaceWithPublishes: snapshots taken on demand while the learner publishes always
// retain a live version whole: its metadata and its own weights, never one's metadata with the
// next one's weights.
func TestSnapshotsRaceWithPublishes(t *testing.T) {
	rdb, prefix := client(t)
	reg := registry.NewRegistry(rdb, prefix)
	ctx := context.Background()
	if _, err := reg.Publish(ctx, learner.Version{Model: "m"}, []byte("w-1"), nil); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		for i := 2; i <= 300; i++ {
			if _, err := reg.Publish(ctx, learner.Version{Model: "m", Examples: int64(i)}, []byte(fmt.Sprintf("w-%d", i)), nil); err != nil {
				done <- err
				return
			}
			time.Sleep(time.Millisecond) // a learner publishing 1,000 times a second (the default is every 2 s)
		}
		done <- nil
	}()
	taken := 0
	for i := 0; i < 100; i++ {
		v, err := reg.TakeSnapshot(ctx, "m", learner.SnapshotRequest{Tag: fmt.Sprintf("t%d", i)})
		if err != nil {
			t.Fatalf("snapshot %d: %v", i, err)
		}
		b, err := reg.Snapshot(ctx, "m", v.Version)
		if err != nil || string(b) != fmt.Sprintf("w-%d", v.Version) {
			t.Fatalf("snapshot of version %d holds weights %q, %v", v.Version, b, err)
		}
		taken++
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	tags, _ := rdb.HLen(ctx, prefix+"model:{m}:tags").Result()
	if tags != int64(taken) {
		t.Errorf("%d tags recorded, want %d", tags, taken)
	}
}
