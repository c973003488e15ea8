package learner_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/streamlearn/streamlearn/learner"
	"github.com/streamlearn/streamlearn/wire"
)

// withIDs adds a categorical feature of many values to the examples, so that later examples reach
// slots the earlier ones did not.
func withIDs(exs []example, values int, seed uint64) []example {
	r := rand.New(rand.NewPCG(seed, 2))
	for i := range exs {
		exs[i].v = append(exs[i].v[:len(exs[i].v):len(exs[i].v)], wire.Feature{Name: fmt.Sprintf("id=%d", r.IntN(values)), Value: 1})
	}
	return exs
}

// TestDeltaAppliedToBaseScoresAsTheTrainer: a delta taken between two snapshots, through its
// encoding, turns the first into a snapshot that scores exactly as the second, for every task and
// optimizer; applying it again changes nothing, and a cumulative delta applies to the base alone.
func TestDeltaAppliedToBaseScoresAsTheTrainer(t *testing.T) {
	for _, task := range []learner.Task{learner.Binary, learner.Regression, learner.Multiclass} {
		for _, opt := range []string{learner.OptimizerFTRL, learner.OptimizerAdaGrad} {
			t.Run(fmt.Sprintf("%s-%s", task, opt), func(t *testing.T) {
				spec := specFor(t, task, opt)
				spec.Standardize = true
				tr := newTrainer(t, spec)
				exs := withIDs(synthetic(task, 3000, 7), 2000, 7)
				for _, ex := range exs[:1000] {
					tr.Learn(ex.v, ex.y)
				}
				base := tr.Snapshot()
				for _, ex := range exs[1000:2000] {
					tr.Learn(ex.v, ex.y)
				}
				mid := tr.Snapshot()
				for _, ex := range exs[2000:] {
					tr.Learn(ex.v, ex.y)
				}
				cur := tr.Snapshot()
				d := roundTrip(t, mustDelta(t, base, cur))
				if d.Rows() == 0 {
					t.Fatal("a delta over 2000 examples changes no rows")
				}
				got, err := base.Apply(d)
				if err != nil {
					t.Fatalf("Apply: %v", err)
				}
				// Applied onto a snapshot that already has an earlier delta of the same base: the same.
				early, err := base.Apply(mustDelta(t, base, mid))
				if err != nil {
					t.Fatalf("Apply: %v", err)
				}
				twice, err := got.Apply(d)
				if err != nil {
					t.Fatalf("Apply twice: %v", err)
				}
				for i, ex := range exs {
					want := cur.Predict(ex.v)
					for name, s := range map[string]*learner.Snapshot{"applied": got, "twice": twice} {
						if p := s.Predict(ex.v); p.Score != want.Score || p.Class != want.Class {
							t.Fatalf("%s: example %d scores %v (%q), the trainer's snapshot %v (%q)", name, i, p.Score, p.Class, want.Score, want.Class)
						}
					}
					if p, w := early.Predict(ex.v), mid.Predict(ex.v); p.Score != w.Score {
						t.Fatalf("earlier delta: example %d scores %v, want %v", i, p.Score, w.Score)
					}
					if p := base.Predict(ex.v); i == 0 && p.Score == want.Score {
						t.Fatalf("the base scores as the newer weights: the test shows nothing")
					}
				}
				if got.Seen() != cur.Seen() {
					t.Fatalf("seen %d, want %d", got.Seen(), cur.Seen())
				}
			})
		}
	}
}

func mustDelta(t *testing.T, base, cur *learner.Snapshot) *learner.Delta {
	t.Helper()
	d, err := learner.NewDelta(base, cur)
	if err != nil {
		t.Fatalf("NewDelta: %v", err)
	}
	return d
}

func roundTrip(t *testing.T, d *learner.Delta) *learner.Delta {
	t.Helper()
	d.Model, d.Base, d.Seq, d.CreatedAt = "m", 3, 2, time.Unix(100, 0).UTC()
	b, err := d.MarshalBinary()
	if err != nil {
		t.Fatalf("MarshalBinary: %v", err)
	}
	got, err := learner.UnmarshalDelta(b)
	if err != nil {
		t.Fatalf("UnmarshalDelta: %v", err)
	}
	if got.Model != "m" || got.Base != 3 || got.Seq != 2 || !got.CreatedAt.Equal(d.CreatedAt) || got.Rows() != d.Rows() {
		t.Fatalf("round trip: %+v, want %+v", got, d)
	}
	for n := range b { // every truncation is refused
		if _, err := learner.UnmarshalDelta(b[:n]); err == nil {
			t.Fatalf("a delta cut to %d of %d bytes decoded", n, len(b))
		}
	}
	return got
}

// TestDeltaRefusedAcrossFamiliesAndSpecs: a non-linear family and a change of spec have no delta,
// and a delta does not apply to a model of other outputs.
func TestDeltaRefusedAcrossFamiliesAndSpecs(t *testing.T) {
	lin := newTrainer(t, specFor(t, learner.Binary, learner.OptimizerFTRL)).Snapshot()
	other := specFor(t, learner.Binary, learner.OptimizerFTRL)
	other.HashBits = 13
	if _, err := learner.NewDelta(lin, newTrainer(t, other).Snapshot()); err == nil {
		t.Fatal("a delta between two specs")
	}
	fm := specFor(t, learner.Binary, learner.OptimizerFTRL)
	fm.Family = learner.FamilyFM
	if _, err := learner.NewDelta(lin, newTrainer(t, fm).Snapshot()); err == nil {
		t.Fatal("a delta into an fm model")
	}
	// An auto trainer serving a blend of its members has no weights of its own to send (CI saw such
	// deltas written without their bias, which no predictor could read).
	a, err := learner.NewAuto(familySpec(learner.FamilyAuto))
	if err != nil {
		t.Fatal(err)
	}
	stream := familyStream(300, 3)
	for _, ex := range stream[:100] {
		a.Learn(ex.v, ex.y)
	}
	blendBase := a.Snapshot()
	for _, ex := range stream[100:] {
		a.Learn(ex.v, ex.y)
	}
	if _, err := learner.NewDelta(blendBase, a.Snapshot()); !errors.Is(err, learner.ErrNoDelta) {
		t.Fatalf("a delta between two blends: %v, want ErrNoDelta", err)
	}
	if _, err := blendBase.Apply(mustDelta(t, lin, lin)); err == nil {
		t.Fatal("a linear delta applied to a blend")
	}
	multi := newTrainer(t, specFor(t, learner.Multiclass, learner.OptimizerFTRL)).Snapshot()
	if _, err := lin.Apply(mustDelta(t, multi, multi)); err == nil {
		t.Fatal("a three-output delta applied to a binary model")
	}
}
