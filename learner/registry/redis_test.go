package registry_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/streamlearn/streamlearn/internal/lease"
	"github.com/streamlearn/streamlearn/internal/testenv"
	"github.com/streamlearn/streamlearn/learner"
	"github.com/streamlearn/streamlearn/learner/registry"
	"github.com/streamlearn/streamlearn/wire"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func client(t *testing.T) (goredis.UniversalClient, string) {
	t.Helper()
	rdb := goredis.NewClient(&goredis.Options{Addr: testenv.Redis(t)})
	t.Cleanup(func() { rdb.Close() })
	return rdb, fmt.Sprintf("t:%s:%d:", t.Name(), time.Now().UnixNano())
}

func TestRegistryLineageChampionAndCheckpoint(t *testing.T) {
	rdb, prefix := client(t)
	reg := registry.NewRegistry(rdb, prefix)
	ctx := context.Background()

	if c, err := reg.Champion(ctx, "m"); err != nil || c != 0 {
		t.Fatalf("champion of an unknown model = %d, %v", c, err)
	}
	if _, err := reg.Get(ctx, "m", 1); !errors.Is(err, learner.ErrNotFound) {
		t.Fatalf("Get of a missing version = %v, want ErrNotFound", err)
	}
	var parent int64
	for i := 1; i <= 6; i++ {
		kind := "" // versions 3 and 5 are scheduled snapshots; the others only live heads
		if i == 3 || i == 5 {
			kind = learner.SnapshotScheduled
		}
		v, err := reg.Publish(ctx, learner.Version{Model: "m", Parent: parent, Kind: kind, Examples: int64(i * 100), Metrics: learner.Metrics{AUC: 0.5 + float64(i)/100}},
			[]byte(fmt.Sprintf("snap-%d", i)), &learner.Checkpoint{Offsets: map[int32]int64{0: int64(i * 10), 1: int64(i)}, State: []byte(fmt.Sprintf("state-%d", i))})
		if err != nil {
			t.Fatal(err)
		}
		if v.Version != int64(i) || v.Parent != parent {
			t.Fatalf("published version %d parent %d, want %d parent %d", v.Version, v.Parent, i, parent)
		}
		parent = v.Version
		_, err = reg.Promote(ctx, "m", v.Version, "auto", false, false)
		if wantPinned := i > 2; (err != nil) != wantPinned || (err != nil && !errors.Is(err, learner.ErrPinned)) {
			t.Fatalf("auto promote %d: %v (pinned: %v)", v.Version, err, wantPinned)
		}
		if i == 2 {
			if prev, err := reg.Promote(ctx, "m", 2, "keep 2", true, true); err != nil || prev != 2 {
				t.Fatalf("manual promote = %d, %v", prev, err)
			}
		}
	}
	// Retained: the two scheduled snapshots and 2, retained when it was promoted by hand.
	vs, err := reg.List(ctx, "m")
	if err != nil || len(vs) != 3 || vs[0].Version != 5 || vs[1].Version != 3 || vs[2].Version != 2 {
		t.Fatalf("List = %+v (%v), want 5, 3, 2", vs, err)
	}
	if vs[0].Metrics.AUC != 0.55 || vs[0].Examples != 500 || vs[0].Offsets[0] != 50 || vs[0].Kind != learner.SnapshotScheduled {
		t.Errorf("version 5 metadata = %+v", vs[0])
	}
	if vs[2].Kind != learner.SnapshotPromotion || vs[2].Note != "keep 2" {
		t.Errorf("version 2 = %+v, want a promotion snapshot", vs[2])
	}
	live, err := reg.Live(ctx, "m")
	if err != nil || live.Version != 6 || live.Examples != 600 || live.Kind != "" {
		t.Fatalf("live = %+v, %v; want version 6", live, err)
	}
	// A live head that was neither retained nor the newest is gone, metadata and all.
	for _, n := range []int64{1, 4} {
		if _, err := reg.Snapshot(ctx, "m", n); !errors.Is(err, learner.ErrNotFound) {
			t.Errorf("snapshot of v%d = %v, want gone", n, err)
		}
		if _, err := reg.Get(ctx, "m", n); !errors.Is(err, learner.ErrNotFound) {
			t.Errorf("metadata of v%d = %v, want gone", n, err)
		}
	}
	if b, err := reg.Snapshot(ctx, "m", 2); err != nil || string(b) != "snap-2" {
		t.Errorf("champion's snapshot = %q, %v", b, err)
	}
	if b, err := reg.Snapshot(ctx, "m", 6); err != nil || string(b) != "snap-6" {
		t.Errorf("latest snapshot = %q, %v", b, err)
	}
	cp, err := reg.Checkpoint(ctx, "m")
	if err != nil || cp == nil || cp.Version != 6 || string(cp.State) != "state-6" || cp.Offsets[0] != 60 || cp.Offsets[1] != 6 {
		t.Fatalf("checkpoint = %+v, %v; want version 6's", cp, err)
	}
	// The pin held: versions 3..6 were published but 2 still serves.
	if c, _ := reg.Champion(ctx, "m"); c != 2 {
		t.Fatalf("champion = %d, want the pinned 2", c)
	}
	if pinned, _ := reg.Pinned(ctx, "m"); !pinned {
		t.Fatal("not pinned after a manual promotion with pin")
	}
	// A manual promotion without pin resumes automatic promotion.
	if prev, err := reg.Promote(ctx, "m", 6, "ship 6", true, false); err != nil || prev != 2 {
		t.Fatalf("promote 6 = %d, %v", prev, err)
	}
	if pinned, _ := reg.Pinned(ctx, "m"); pinned {
		t.Fatal("still pinned after an unpinned manual promotion")
	}
	// Rollback goes back to what served before 6, and pins it.
	ch, err := reg.Rollback(ctx, "m", 0, "", "")
	if err != nil || ch.Version != 2 || ch.Previous != 6 || !ch.Pinned {
		t.Fatalf("rollback = %+v, %v; want back to 2 from 6", ch, err)
	}
	hist, err := reg.History(ctx, "m")
	if err != nil || len(hist) != 3 || hist[0].Version != 2 || hist[1].Version != 6 || hist[2].Reason != "keep 2" {
		t.Fatalf("history = %+v, %v", hist, err)
	}
	if _, err := reg.Promote(ctx, "m", 6, "auto", false, false); !errors.Is(err, learner.ErrPinned) {
		t.Errorf("automatic promotion of a pinned model = %v, want ErrPinned", err)
	}
	if _, err := reg.Promote(ctx, "m", 99, "x", true, false); !errors.Is(err, learner.ErrNotFound) {
		t.Errorf("promoting a missing version = %v, want ErrNotFound", err)
	}
	ms, err := reg.Models(ctx)
	if err != nil || len(ms) != 1 || ms[0] != "m" {
		t.Errorf("Models = %v, %v", ms, err)
	}
}

func TestRegistryConcurrentPublishersGetDistinctVersions(t *testing.T) {
	rdb, prefix := client(t)
	reg := registry.NewRegistry(rdb, prefix)
	ctx := context.Background()
	var wg sync.WaitGroup
	var mu sync.Mutex
	got := map[int64]bool{}
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10 {
				v, err := reg.Publish(ctx, learner.Version{Model: "m", Note: fmt.Sprint(w)}, []byte("s"), nil)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if got[v.Version] {
					t.Errorf("version %d assigned twice", v.Version)
				}
				got[v.Version] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(got) != 40 {
		t.Errorf("%d distinct versions, want 40", len(got))
	}
}

func TestPublishIsFencedByTheLearnerLease(t *testing.T) {
	rdb, prefix := client(t)
	ctx := context.Background()
	reg := registry.NewRegistry(rdb, prefix)
	old := lease.New(rdb, reg.LeaseKey("m"), "old", 200*time.Millisecond, nil)
	oldFence, err := old.TryAcquire(ctx)
	if err != nil || oldFence == "" {
		t.Fatalf("acquire: %q %v", oldFence, err)
	}
	cp := func(fence string, state string) *learner.Checkpoint {
		return &learner.Checkpoint{Offsets: map[int32]int64{0: 1}, State: []byte(state), Fence: fence}
	}
	if _, err := reg.Publish(ctx, learner.Version{Model: "m"}, []byte("s1"), cp(oldFence, "old-1")); err != nil {
		t.Fatalf("holder's publish: %v", err)
	}
	time.Sleep(300 * time.Millisecond) // the old learner stalls past its TTL
	newFence, err := lease.New(rdb, reg.LeaseKey("m"), "new", time.Minute, nil).TryAcquire(ctx)
	if err != nil || newFence == "" {
		t.Fatalf("standby acquire: %q %v", newFence, err)
	}
	if _, err := reg.Publish(ctx, learner.Version{Model: "m"}, []byte("s2"), cp(oldFence, "old-2")); !errors.Is(err, lease.ErrFenced) {
		t.Fatalf("stale publish = %v, want ErrFenced", err)
	}
	if _, err := reg.Publish(ctx, learner.Version{Model: "m"}, []byte("s3"), cp(newFence, "new-1")); err != nil {
		t.Fatalf("new holder's publish: %v", err)
	}
	got, err := reg.Checkpoint(ctx, "m")
	if err != nil || string(got.State) != "new-1" {
		t.Fatalf("checkpoint = %+v, %v; want the new holder's", got, err)
	}
	// The stale publish took number 2 but left nothing: the live head is the new holder's 3.
	if live, err := reg.Live(ctx, "m"); err != nil || live.Version != 3 {
		t.Errorf("live = %+v, %v; want version 3", live, err)
	}
	if _, err := reg.Get(ctx, "m", 2); !errors.Is(err, learner.ErrNotFound) {
		t.Errorf("stale version 2 = %v, want none", err)
	}
}

// TestDeltaIsFencedAndEndsWithTheNextPublish: a weight delta is stored only while its fence
// holds the model's lease, reads back as written, and the next publish removes it.
func TestDeltaIsFencedAndEndsWithTheNextPublish(t *testing.T) {
	rdb, prefix := client(t)
	ctx := context.Background()
	reg := registry.NewRegistry(rdb, prefix)
	fence, err := lease.New(rdb, reg.LeaseKey("m"), "a", time.Minute, nil).TryAcquire(ctx)
	if err != nil || fence == "" {
		t.Fatalf("acquire: %q %v", fence, err)
	}
	spec := learner.DefaultSpec()
	spec.Name, spec.HashBits = "m", 10
	tr, err := learner.NewTrainer(spec)
	if err != nil {
		t.Fatal(err)
	}
	base := tr.Snapshot()
	for range 50 {
		tr.Learn(wire.Vector{{Name: "country=DE", Value: 1}}, learner.Label{Value: 1})
	}
	d, err := learner.NewDelta(base, tr.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	d.Model, d.Base, d.Seq = "m", 4, 2
	if err := reg.PublishDelta(ctx, d, fence+"0"); !errors.Is(err, lease.ErrFenced) {
		t.Fatalf("delta under another fence = %v, want ErrFenced", err)
	}
	if got, err := reg.Delta(ctx, "m"); err != nil || got != nil {
		t.Fatalf("after a fenced-out delta: %+v, %v; want none", got, err)
	}
	if err := reg.PublishDelta(ctx, d, fence); err != nil {
		t.Fatal(err)
	}
	got, err := reg.Delta(ctx, "m")
	if err != nil || got == nil || got.Base != 4 || got.Seq != 2 || got.Rows() != d.Rows() || got.Rows() == 0 {
		t.Fatalf("delta = %+v, %v; want base 4, seq 2, %d rows", got, err, d.Rows())
	}
	if _, err := reg.Publish(ctx, learner.Version{Model: "m"}, []byte("s"), nil); err != nil {
		t.Fatal(err)
	}
	if got, err := reg.Delta(ctx, "m"); err != nil || got != nil {
		t.Fatalf("after a publish: %+v, %v; want no delta", got, err)
	}
}
