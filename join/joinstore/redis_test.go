package joinstore_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/streamlearn/streamlearn/internal/testenv"
	"github.com/streamlearn/streamlearn/join/joinstore"
	"github.com/streamlearn/streamlearn/wire"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func client(t *testing.T) (goredis.UniversalClient, string) {
	t.Helper()
	rdb := goredis.NewClient(&goredis.Options{Addr: testenv.Redis(t)})
	t.Cleanup(func() { rdb.Close() })
	return rdb, fmt.Sprintf("t:%s:%d:", t.Name(), time.Now().UnixNano())
}

func TestJoinEitherOrder(t *testing.T) {
	rdb, prefix := client(t)
	js := joinstore.NewStore(rdb, prefix, time.Minute)
	ctx := context.Background()
	pend := func(id string) wire.Pending {
		return wire.Pending{ID: id, Model: "m", Version: 3, Score: 0.7, Features: wire.Vector{{Name: "a", Value: 1}}, Time: time.UnixMilli(1e12).UTC()}
	}
	out := func(id string, label float64) wire.Outcome {
		return wire.Outcome{ID: id, Value: label, Time: time.UnixMilli(1e12 + 5000).UTC()}
	}

	// Prediction first, then outcome.
	if exs, err := js.AddPending(ctx, []wire.Pending{pend("a"), pend("b")}); err != nil || len(exs) != 0 {
		t.Fatalf("AddPending = %v, %v; want no examples yet", exs, err)
	}
	exs, err := js.AddOutcomes(ctx, []wire.Outcome{out("a", 1), out("c", 0)})
	if err != nil || len(exs) != 1 || exs[0].ID != "a" || exs[0].Label != 1 || exs[0].Version != 3 || exs[0].Features[0].Name != "a" {
		t.Fatalf("AddOutcomes = %+v, %v; want the joined example a", exs, err)
	}
	// Outcome first (c), then its prediction.
	exs, err = js.AddPending(ctx, []wire.Pending{pend("c")})
	if err != nil || len(exs) != 1 || exs[0].ID != "c" || exs[0].Label != 0 || exs[0].Score != 0.7 {
		t.Fatalf("AddPending after outcome = %+v, %v", exs, err)
	}
	// Until the example is acked, a redelivered side returns it again: a retry after a failed
	// produce loses nothing.
	exs, err = js.AddOutcomes(ctx, []wire.Outcome{out("a", 1)})
	if err != nil || len(exs) != 1 || exs[0].ID != "a" || exs[0].Version != 3 {
		t.Fatalf("redelivered outcome before the ack = %+v, %v; want a's example again", exs, err)
	}
	if err := js.Ack(ctx, []wire.Example{{Pending: pend("a")}, {Pending: pend("c")}}); err != nil {
		t.Fatal(err)
	}
	// After the ack a pair joins no more, from either side, and nothing waits for it.
	if exs, err := js.AddOutcomes(ctx, []wire.Outcome{out("a", 1), out("c", 0)}); err != nil || len(exs) != 0 {
		t.Fatalf("redelivered outcome joined again: %+v, %v", exs, err)
	}
	if exs, err := js.AddPending(ctx, []wire.Pending{pend("a")}); err != nil || len(exs) != 0 {
		t.Fatalf("redelivered prediction joined again: %+v, %v", exs, err)
	}
	// Left: b's prediction waiting, and the tombstones of a and c; all expire after the horizon.
	keys, err := rdb.Keys(ctx, prefix+"join:*").Result()
	if err != nil || len(keys) != 3 {
		t.Fatalf("keys = %v, %v; want b's and the tombstones of a and c", keys, err)
	}
	for _, k := range keys {
		if ttl, err := rdb.PTTL(ctx, k).Result(); err != nil || ttl <= 0 || ttl > time.Minute {
			t.Errorf("%s ttl = %v, %v; want within the horizon", k, ttl, err)
		}
		if fields, _ := rdb.HKeys(ctx, k).Result(); len(fields) != 1 {
			t.Errorf("%s holds %v; want one side or a tombstone", k, fields)
		}
	}
}

// TestImplicitLabelNeverReplacesAJoinedLabel: a pair joined but not acked yet (its example being
// produced) is not claimed by the sweeper, and once acked a redelivered prediction does not wait
// for an implicit label: the event is learned once, with its real label.
func TestImplicitLabelNeverReplacesAJoinedLabel(t *testing.T) {
	rdb, prefix := client(t)
	js := joinstore.NewStore(rdb, prefix, 200*time.Millisecond).WithImplicitLabel(0)
	ctx := context.Background()
	p := wire.Pending{ID: "a", Model: "m", Score: 0.4, ScoredAt: time.Now()}
	if _, err := js.AddPending(ctx, []wire.Pending{p}); err != nil {
		t.Fatal(err)
	}
	exs, err := js.AddOutcomes(ctx, []wire.Outcome{{ID: "a", Value: 1}})
	if err != nil || len(exs) != 1 {
		t.Fatalf("a did not join: %v %v", exs, err)
	}
	time.Sleep(300 * time.Millisecond)
	if swept, _, err := js.SweepExpired(ctx, time.Now(), 100); err != nil || len(swept) != 0 {
		t.Fatalf("sweeper claimed a joined pair: %+v, %v", swept, err)
	}
	if err := js.Ack(ctx, exs); err != nil {
		t.Fatal(err)
	}
	// The event is redelivered and scored again after the ack.
	if exs, err := js.AddPending(ctx, []wire.Pending{p}); err != nil || len(exs) != 0 {
		t.Fatalf("redelivered prediction joined: %v %v", exs, err)
	}
	time.Sleep(300 * time.Millisecond)
	if swept, _, err := js.SweepExpired(ctx, time.Now(), 100); err != nil || len(swept) != 0 {
		t.Fatalf("a redelivered prediction of a learned event got an implicit label: %+v, %v", swept, err)
	}
}

func TestJoinConcurrentSidesJoinOnce(t *testing.T) {
	rdb, prefix := client(t)
	js := joinstore.NewStore(rdb, prefix, time.Minute)
	ctx := context.Background()
	const n = 500
	var mu sync.Mutex
	joined := map[string]int{}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := range n {
			exs, err := js.AddPending(ctx, []wire.Pending{{ID: fmt.Sprint(i), Model: "m"}})
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			for _, e := range exs {
				joined[e.ID]++
			}
			mu.Unlock()
		}
	}()
	go func() {
		defer wg.Done()
		for i := range n {
			exs, err := js.AddOutcomes(ctx, []wire.Outcome{{ID: fmt.Sprint(i), Value: 1}})
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			for _, e := range exs {
				joined[e.ID]++
			}
			mu.Unlock()
		}
	}()
	wg.Wait()
	if len(joined) != n {
		t.Errorf("joined %d pairs, want %d", len(joined), n)
	}
	for id, c := range joined {
		if c != 1 {
			t.Errorf("pair %s joined %d times", id, c)
		}
	}
}

func TestImplicitLabelAfterHorizon(t *testing.T) {
	rdb, prefix := client(t)
	js := joinstore.NewStore(rdb, prefix, 200*time.Millisecond).WithImplicitLabel(0)
	ctx := context.Background()
	p := func(id string) wire.Pending {
		return wire.Pending{ID: id, Model: "m", Score: 0.4, ScoredAt: time.Now()}
	}
	if _, err := js.AddPending(ctx, []wire.Pending{p("a"), p("b"), p("c")}); err != nil {
		t.Fatal(err)
	}
	if exs, err := js.AddOutcomes(ctx, []wire.Outcome{{ID: "a", Value: 1}}); err != nil || len(exs) != 1 {
		t.Fatalf("a did not join: %v %v", exs, err)
	}
	if exs, _, err := js.SweepExpired(ctx, time.Now(), 100); err != nil || len(exs) != 0 {
		t.Fatalf("swept before the horizon: %v %v", exs, err)
	}
	time.Sleep(300 * time.Millisecond)
	exs, ack, err := js.SweepExpired(ctx, time.Now(), 100)
	if err != nil || len(exs) != 2 {
		t.Fatalf("sweep = %+v, %v; want b and c", exs, err)
	}
	for _, e := range exs {
		if !e.Implicit || e.Label != 0 || e.ID == "a" {
			t.Errorf("implicit example = %+v", e)
		}
	}
	// Not acked yet: a crash here means the next sweep yields them again (at-least-once).
	again, _, err := js.SweepExpired(ctx, time.Now(), 100)
	if err != nil || len(again) != 2 {
		t.Fatalf("unacked sweep = %d, %v; want 2 again", len(again), err)
	}
	// A late outcome for a claimed prediction is ignored, not joined and not stored.
	if late, err := js.AddOutcomes(ctx, []wire.Outcome{{ID: "b", Value: 1}}); err != nil || len(late) != 0 {
		t.Fatalf("late outcome joined: %v %v", late, err)
	}
	if err := ack(ctx); err != nil {
		t.Fatal(err)
	}
	if rest, _, err := js.SweepExpired(ctx, time.Now(), 100); err != nil || len(rest) != 0 {
		t.Fatalf("after ack: %v %v", rest, err)
	}
}

// TestPublishIsFencedByTheLearnerLease: a learner that lost the model's lease (another took it after
// its TTL) cannot publish a version or overwrite the checkpoint; the current holder can.

// TestJoinDuplicatesMakeOneExample: a producer's duplicates make one example, not two — an id twice
// in one batch, or the other side arriving again while the example is being produced; only the
// side that completed the pair gets it again before the ack (its stage's retry).
func TestJoinDuplicatesMakeOneExample(t *testing.T) {
	rdb, prefix := client(t)
	js := joinstore.NewStore(rdb, prefix, time.Minute)
	ctx := context.Background()
	pend := func(id string) wire.Pending { return wire.Pending{ID: id, Model: "m", Score: 0.5} }
	out := func(id string) wire.Outcome { return wire.Outcome{ID: id, Value: 1} }

	if _, err := js.AddOutcomes(ctx, []wire.Outcome{out("a"), out("b")}); err != nil {
		t.Fatal(err)
	}
	// The event of a published twice, both copies in one batch: one example.
	exs, err := js.AddPending(ctx, []wire.Pending{pend("a"), pend("b"), pend("a")})
	if err != nil || len(exs) != 2 {
		t.Fatalf("AddPending with a duplicate = %d examples, %v; want 2 (a once, b)", len(exs), err)
	}
	// Before the ack, a's outcome comes again (a duplicate): the scoring side completed the pair,
	// so the join side makes no second example.
	if again, err := js.AddOutcomes(ctx, []wire.Outcome{out("a")}); err != nil || len(again) != 0 {
		t.Fatalf("duplicate outcome before the ack = %+v, %v; want nothing", again, err)
	}
	// The scoring stage's retry gets it again.
	if retry, err := js.AddPending(ctx, []wire.Pending{pend("a")}); err != nil || len(retry) != 1 {
		t.Fatalf("the completing side's retry = %d examples, %v; want 1", len(retry), err)
	}
}

// TestAckLeavesOnlyTombstones checks what Redis holds once examples are acked: for each pair one
// hash with only its tombstone, expiring, and nothing left in the sweeper's due sets, with implicit
// labels on (joined, swept) and off (where nothing is queued at all).
func TestAckLeavesOnlyTombstones(t *testing.T) {
	for _, implicit := range []bool{false, true} {
		t.Run(fmt.Sprintf("implicit=%v", implicit), func(t *testing.T) {
			rdb, prefix := client(t)
			ctx := context.Background()
			js := joinstore.NewStore(rdb, prefix, 50*time.Millisecond)
			if implicit {
				js = js.WithImplicitLabel(0)
			}
			var ps []wire.Pending
			var os []wire.Outcome
			for i := range 40 {
				id := fmt.Sprintf("e%d", i)
				ps = append(ps, wire.Pending{ID: id, Model: "m", Version: 1, Score: 0.5, ScoredAt: time.Now().UTC(),
					Features: wire.Vector{{Name: "a", Value: 1}}, Time: time.UnixMilli(1e12).UTC()})
				if i < 30 { // the last ten never get an outcome
					os = append(os, wire.Outcome{ID: id, Value: 1, Time: time.UnixMilli(1e12 + 5000).UTC()})
				}
			}
			if _, err := js.AddPending(ctx, ps); err != nil {
				t.Fatal(err)
			}
			exs, err := js.AddOutcomes(ctx, os)
			if err != nil || len(exs) != 30 {
				t.Fatalf("AddOutcomes: %d examples, %v; want 30", len(exs), err)
			}
			if err := js.Ack(ctx, exs); err != nil {
				t.Fatal(err)
			}
			if implicit {
				time.Sleep(60 * time.Millisecond)
				swept, ack, err := js.SweepExpired(ctx, time.Now().Add(time.Second), 100)
				if err != nil || len(swept) != 10 {
					t.Fatalf("SweepExpired: %d examples, %v; want 10", len(swept), err)
				}
				if err := ack(ctx); err != nil {
					t.Fatal(err)
				}
			}
			keys, err := rdb.Keys(ctx, prefix+"*").Result()
			if err != nil {
				t.Fatal(err)
			}
			tombstones, waiting := 0, 0
			for _, k := range keys {
				if strings.HasPrefix(k, prefix+"joindue:") {
					n, _ := rdb.ZCard(ctx, k).Result()
					t.Errorf("due set %s holds %d ids after every pair was acked", k, n)
					continue
				}
				h, err := rdb.HGetAll(ctx, k).Result()
				if err != nil {
					t.Fatal(err)
				}
				ttl, _ := rdb.PTTL(ctx, k).Result()
				switch {
				case len(h) == 1 && h["d"] == "1" && ttl > 0:
					tombstones++
				case len(h) == 1 && h["p"] != "" && ttl > 0:
					waiting++ // a prediction whose outcome never came
				default:
					t.Errorf("%s = %v (ttl %s); want a tombstone or a waiting prediction, expiring", k, h, ttl)
				}
			}
			want := 30
			if implicit {
				want = 40 // the swept ten are acked too
			}
			if tombstones != want || waiting != 40-want {
				t.Errorf("%d tombstones and %d waiting predictions; want %d and %d", tombstones, waiting, want, 40-want)
			}
		})
	}
}
