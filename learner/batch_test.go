package learner_test

import (
	"bytes"
	"testing"

	"github.com/streamlearn/streamlearn/learner"
	"github.com/streamlearn/streamlearn/wire"
)

// TestBatchTrainerOfOneEqualsOnline checks that a BatchTrainer fed one example at a time is Online:
// the same predictions and a byte-identical checkpoint.
func TestBatchTrainerOfOneEqualsOnline(t *testing.T) {
	for _, k := range allKinds {
		t.Run(string(k.task)+"/"+k.optimizer, func(t *testing.T) {
			spec := specFor(t, k.task, k.optimizer)
			spec.HashBits = 18 // no collisions: Online updates a repeated slot twice, a batch once
			online := newTrainer(t, spec)
			bt, err := learner.NewBatchTrainer(learner.CPUBackend{}, spec)
			if err != nil {
				t.Fatal(err)
			}
			defer bt.Close()
			for i, ex := range synthetic(k.task, 500, 31) {
				if got, want := bt.Learn(ex.v, ex.y), online.Learn(ex.v, ex.y); got.Score != want.Score {
					t.Fatalf("example %d: batch trainer %v, online %v", i, got.Score, want.Score)
				}
			}
			a, err := bt.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			b, err := online.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(a, b) {
				t.Fatalf("checkpoints differ: %d and %d bytes", len(a), len(b))
			}
		})
	}
}

// TestBatchTrainerCheckpointMoves trains in minibatches, checkpoints, and resumes both as Online and
// as another BatchTrainer: all three then predict alike and the two batch trainers learn alike.
func TestBatchTrainerCheckpointMoves(t *testing.T) {
	for _, k := range allKinds {
		t.Run(string(k.task)+"/"+k.optimizer, func(t *testing.T) {
			spec := specFor(t, k.task, k.optimizer)
			spec.Standardize = true
			bt, err := learner.NewBatchTrainer(learner.CPUBackend{}, spec)
			if err != nil {
				t.Fatal(err)
			}
			defer bt.Close()
			stream := synthetic(k.task, 1200, 41)
			learn := func(tr *learner.BatchTrainer, exs []example) []learner.Prediction {
				vs, ys := make([]wire.Vector, len(exs)), make([]learner.Label, len(exs))
				for i, ex := range exs {
					vs[i], ys[i] = ex.v, ex.y
				}
				p, err := tr.LearnBatch(vs, ys)
				if err != nil {
					t.Fatal(err)
				}
				return p
			}
			for i := 0; i < 800; i += 50 {
				learn(bt, stream[i:i+50])
			}
			cp, err := bt.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			online, err := learner.UnmarshalTrainer(cp)
			if err != nil {
				t.Fatal(err)
			}
			resumed, err := learner.ResumeBatchTrainer(learner.CPUBackend{}, cp)
			if err != nil {
				t.Fatal(err)
			}
			defer resumed.Close()
			if online.Seen() != 800 || resumed.Seen() != 800 {
				t.Fatalf("seen: online %d, resumed %d", online.Seen(), resumed.Seen())
			}
			for _, ex := range stream[800:850] {
				a, b, c := bt.Predict(ex.v), online.Predict(ex.v), resumed.Predict(ex.v)
				if a.Score != b.Score || a.Score != c.Score {
					t.Fatalf("after the checkpoint: trainer %v, online %v, resumed %v", a.Score, b.Score, c.Score)
				}
			}
			for i := 850; i < 1200; i += 50 {
				a, b := learn(bt, stream[i:i+50]), learn(resumed, stream[i:i+50])
				for j := range a {
					if a[j].Score != b[j].Score {
						t.Fatalf("batch at %d, example %d: trainer %v, resumed %v", i, j, a[j].Score, b[j].Score)
					}
				}
			}
			if bt.Snapshot() == nil || bt.Err() != nil {
				t.Fatalf("snapshot failed: %v", bt.Err())
			}
		})
	}
}
