package learner_test

import (
	"bytes"
	"encoding/binary"
	"math"
	"testing"

	"github.com/streamlearn/streamlearn/learner"
)

// TestAutoReplays: up to AutoReplayUntil examples every member but the forest learns one past
// example after each (the first has none to replay), then none; a checkpoint taken while it
// replays resumes the ring and the draws exactly.
func TestAutoReplays(t *testing.T) {
	stream := familyStream(learner.AutoReplayUntil+300, 21)
	a := newTrainer(t, familySpec(learner.FamilyAuto)).(*learner.Auto)
	const cut = 200
	for _, ex := range stream[:cut] {
		a.Learn(ex.v, ex.y)
	}
	for i, f := range learner.AutoFamilies {
		want := int64(2*cut - 1)
		if f == learner.FamilyForest {
			want = cut
		}
		if got := learner.AutoMemberSeen(a)[i]; got != want {
			t.Errorf("after %d examples %s learned %d, want %d", cut, f, got, want)
		}
	}
	cp := mustMarshal(t, a)
	tr, err := learner.UnmarshalTrainer(cp)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(mustMarshal(t, tr), cp) {
		t.Fatal("checkpoint does not round trip")
	}
	for i, ex := range stream[cut:] {
		pa, pb := a.Learn(ex.v, ex.y), tr.Learn(ex.v, ex.y)
		if math.Float64bits(pa.Score) != math.Float64bits(pb.Score) {
			t.Fatalf("example %d after resume: score %v, uninterrupted %v", cut+i, pb.Score, pa.Score)
		}
	}
	if !bytes.Equal(mustMarshal(t, a), mustMarshal(t, tr)) {
		t.Fatal("state after resume differs from the uninterrupted state")
	}
	before := learner.AutoMemberSeen(a)
	a.Learn(stream[0].v, stream[0].y)
	for i, n := range learner.AutoMemberSeen(a) {
		if n != before[i]+1 {
			t.Errorf("past AutoReplayUntil %s learned %d examples for one", learner.AutoFamilies[i], n-before[i])
		}
	}
}

// TestAutoReadsCheckpointV1: a checkpoint of version 1, from before the replay ring, still
// resumes (with an empty ring): one taken past AutoReplayUntil, rewritten without the ring, gives
// the state of the original.
func TestAutoReadsCheckpointV1(t *testing.T) {
	stream := familyStream(learner.AutoReplayUntil+200, 22)
	a := newTrainer(t, familySpec(learner.FamilyAuto))
	for _, ex := range stream[:learner.AutoReplayUntil+100] {
		a.Learn(ex.v, ex.y)
	}
	cp := mustMarshal(t, a)
	// magic, version, spec (length and JSON), seen, switches, champ, leader, lead, then the ring.
	at := 5 + 4 + int(binary.LittleEndian.Uint32(cp[5:])) + 8 + 8 + 4 + 4 + 8
	if cp[4] != 2 || binary.LittleEndian.Uint32(cp[at:]) != 0 {
		t.Fatalf("version %d, ring of %d: want version 2 and an empty ring", cp[4], binary.LittleEndian.Uint32(cp[at:]))
	}
	v1 := append(append([]byte(nil), cp[:at]...), cp[at+4:]...)
	v1[4] = 1
	b, err := learner.UnmarshalTrainer(v1)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(mustMarshal(t, b), cp) {
		t.Fatal("a version 1 checkpoint resumes another state")
	}
}
