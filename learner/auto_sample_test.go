package learner_test

import (
	"bytes"
	"testing"

	"github.com/streamlearn/streamlearn/learner"
)

// TestAutoSamplesAfterWarmup: past AutoWarmup examples the members that do not serve learn one
// example in AutoSample and the champion every one; a checkpoint taken in between resumes the
// sample exactly. Then the champion serves alone: its own snapshot, all the weight.
func TestAutoSamplesAfterWarmup(t *testing.T) {
	spec := learner.DefaultSpec()
	spec.Family = learner.FamilyAuto
	a, err := learner.NewAuto(spec)
	if err != nil {
		t.Fatal(err)
	}
	const extra = 40 * learner.AutoSample
	stream := synthetic(learner.Binary, learner.AutoWarmup+2*extra, 3)
	for _, ex := range stream[:learner.AutoWarmup] {
		a.Learn(ex.v, ex.y)
	}
	// Past the warm-up, example by example: the member serving before it learns it; the others
	// only when it is the AutoSample-th.
	learned := 0
	for _, ex := range stream[learner.AutoWarmup : learner.AutoWarmup+extra] {
		before, champ, n := learner.AutoMemberSeen(a), a.Champion(), a.Seen()
		a.Learn(ex.v, ex.y)
		after := learner.AutoMemberSeen(a)
		for i, f := range learner.AutoFamilies {
			want := int64(0)
			if f == champ || n%learner.AutoSample == 0 {
				want = 1
			}
			if got := after[i] - before[i]; got != want {
				t.Fatalf("example %d: %s (champion %s) learned %d, want %d", n, f, champ, got, want)
			}
			learned += int(after[i] - before[i])
		}
	}
	if want := extra + (len(learner.AutoFamilies)-1)*extra/learner.AutoSample; learned != want {
		t.Errorf("members learned %d examples in all, want %d", learned, want)
	}
	if got, want := a.Snapshot().Family(), a.Champion(); got != want {
		t.Errorf("past the warm-up (and AutoHorizon) the snapshot is of family %s, want the champion %s", got, want)
	}
	for i, w := range a.Weights() {
		if want := map[bool]float64{true: 1}[learner.AutoFamilies[i] == a.Champion()]; w != want {
			t.Errorf("past the warm-up %s weighs %v, want %v", learner.AutoFamilies[i], w, want)
		}
	}
	// Resume from a checkpoint: the same sample, so the same state as an uninterrupted run.
	cp, err := a.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	tr, err := learner.UnmarshalTrainer(cp)
	if err != nil {
		t.Fatal(err)
	}
	b := tr.(*learner.Auto)
	for _, ex := range stream[learner.AutoWarmup+extra:] {
		a.Learn(ex.v, ex.y)
		b.Learn(ex.v, ex.y)
	}
	ca, _ := a.MarshalBinary()
	cb, _ := b.MarshalBinary()
	if !bytes.Equal(ca, cb) {
		t.Error("a resumed auto trainer differs from an uninterrupted one")
	}
}
