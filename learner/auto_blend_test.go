package learner_test

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/streamlearn/streamlearn/learner"
)

// TestAutoServesBlend: during the warm-up auto serves a blend of its members: its weights sum to 1
// and follow the members' losses, Learn returns the blend's score from before, and the snapshot
// (family "auto", which cannot explain) scores exactly as the trainer, decoded or renamed too.
func TestAutoServesBlend(t *testing.T) {
	spec := familySpec(learner.FamilyAuto)
	a, err := learner.NewAuto(spec)
	if err != nil {
		t.Fatal(err)
	}
	stream := familyStream(1200, 21)
	for i, ex := range stream[:1000] {
		want := a.Snapshot().Predict(ex.v).Score
		if got := a.Learn(ex.v, ex.y).Score; math.Float64bits(got) != math.Float64bits(want) {
			t.Fatalf("example %d: learn returned %v, the snapshot from before scores %v", i, got, want)
		}
	}
	w, losses := a.Weights(), a.Losses()
	var sum float64
	for i, x := range w {
		sum += x
		for j := range w {
			if losses[i] < losses[j] && x <= w[j] {
				t.Errorf("%s (loss %.4f) weighs %.4f, %s (loss %.4f) %.4f", learner.AutoFamilies[i], losses[i], x, learner.AutoFamilies[j], losses[j], w[j])
			}
		}
	}
	if math.Abs(sum-1) > 1e-12 {
		t.Fatalf("weights %v sum to %v", w, sum)
	}
	s := a.Snapshot()
	fams, weights := s.Blend()
	if s.Family() != learner.FamilyAuto || len(fams) < 2 || len(fams) != len(weights) {
		t.Fatalf("snapshot of family %q blending %v %v, want auto and 2 or more members (weights %v)", s.Family(), fams, weights, w)
	}
	if err := s.ExplainErr(); err == nil || !strings.Contains(err.Error(), fams[0]) {
		t.Errorf("ExplainErr %v, want an error naming the members", err)
	}
	if s.Contributions(stream[0].v) != nil {
		t.Error("a blend gave contributions")
	}
	b, err := s.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	back, err := learner.UnmarshalSnapshot(b)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := back.MarshalBinary(); !bytes.Equal(again, b) {
		t.Fatal("blend snapshot does not round trip")
	}
	renamed, err := learner.RenameSnapshot(b, "other")
	if err != nil {
		t.Fatal(err)
	}
	other, err := learner.UnmarshalSnapshot(renamed) // members named otherwise would be refused
	if err != nil || other.Spec().Name != "other" {
		t.Fatalf("renamed blend: %v, name %q", err, other.Spec().Name)
	}
	for i, ex := range stream[1000:] {
		want := a.Predict(ex.v).Score
		for name, got := range map[string]float64{"snapshot": s.Predict(ex.v).Score, "decoded": back.Predict(ex.v).Score, "renamed": other.Predict(ex.v).Score} {
			if math.Float64bits(got) != math.Float64bits(want) {
				t.Fatalf("example %d: %s scores %v, trainer %v", i, name, got, want)
			}
		}
	}
}

// TestBlendSnapshotRejectsBadWeights: a blend snapshot whose weights do not sum to 1 is refused.
func TestBlendSnapshotRejectsBadWeights(t *testing.T) {
	a, err := learner.NewAuto(familySpec(learner.FamilyAuto))
	if err != nil {
		t.Fatal(err)
	}
	for _, ex := range familyStream(300, 22) {
		a.Learn(ex.v, ex.y)
	}
	b, err := a.Snapshot().MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := learner.UnmarshalSnapshot(b); err != nil {
		t.Fatal(err)
	}
	// The first member's weight follows the magic, version, spec and seen.
	at := 4 + 1 + 4 + int(uint32(b[5])|uint32(b[6])<<8|uint32(b[7])<<16|uint32(b[8])<<24) + 8 + 4
	bad := bytes.Clone(b)
	bad[at+7] ^= 0x01 // the weight's top byte: another weight, still in (0, 1)
	if _, err := learner.UnmarshalSnapshot(bad); err == nil {
		t.Fatal("a blend whose weights do not sum to 1: no error")
	}
}
