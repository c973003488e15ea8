package learner_test

import (
	"testing"

	"github.com/streamlearn/streamlearn/learner"
)

// encoded returns a checkpoint and a snapshot of a small trained model of every task.
func encoded(t testing.TB) (checkpoints, snapshots [][]byte) {
	t.Helper()
	for _, k := range allKinds {
		spec := specFor(t, k.task, k.optimizer)
		spec.HashBits = 8
		spec.Crosses = [][2]string{{"country", "age"}}
		tr := newTrainer(t, spec)
		for _, ex := range synthetic(k.task, 50, 11) {
			tr.Learn(ex.v, ex.y)
		}
		c, err := tr.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		s, err := tr.Snapshot().MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		checkpoints, snapshots = append(checkpoints, c), append(snapshots, s)
	}
	return checkpoints, snapshots
}

func TestDecodersRejectGarbage(t *testing.T) {
	checkpoints, snapshots := encoded(t)
	ck, sn := checkpoints[0], snapshots[0]
	corrupt := func(b []byte, i int, v byte) []byte {
		c := append([]byte(nil), b...)
		c[i] = v
		return c
	}
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"short", []byte("SL")},
		{"other magic", corrupt(ck, 0, 'X')},
		{"future version", corrupt(ck, 4, 2)},
		{"snapshot as checkpoint", sn},
		{"truncated", ck[:len(ck)-3]},
		{"trailing bytes", append(append([]byte(nil), ck...), 0)},
		{"broken spec", corrupt(ck, 9, '!')},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := learner.UnmarshalTrainer(tt.data); err == nil {
				t.Error("UnmarshalTrainer: got nil error")
			}
		})
	}
	for _, tt := range []struct {
		name string
		data []byte
	}{
		{"checkpoint as snapshot", ck},
		{"truncated", sn[:len(sn)-1]},
		{"future version", corrupt(sn, 4, 9)},
	} {
		t.Run("snapshot "+tt.name, func(t *testing.T) {
			if _, err := learner.UnmarshalSnapshot(tt.data); err == nil {
				t.Error("UnmarshalSnapshot: got nil error")
			}
		})
	}
}

func FuzzUnmarshalSnapshot(f *testing.F) {
	_, snapshots := encoded(f)
	for _, s := range snapshots {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := learner.UnmarshalSnapshot(data)
		if err != nil {
			return
		}
		// Whatever decodes must serve and encode again without panicking.
		s.Predict(synthetic(s.Spec().Task, 1, 1)[0].v)
		if _, err := s.MarshalBinary(); err != nil {
			t.Fatalf("MarshalBinary of a decoded snapshot: %v", err)
		}
	})
}

func FuzzUnmarshalTrainer(f *testing.F) {
	checkpoints, _ := encoded(f)
	for _, c := range checkpoints {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tr, err := learner.UnmarshalTrainer(data)
		if err != nil {
			return
		}
		ex := synthetic(tr.Spec().Task, 1, 1)[0]
		tr.Learn(ex.v, ex.y)
		tr.Snapshot()
	})
}
