package learner_test

import (
	"testing"

	"github.com/streamlearn/streamlearn/learner"
)

// BenchmarkDelta times a delta as the learner and a predictor see it with the default 2^20 slots:
// a model that learned 100,000 wide examples (50 features each, 8,483 slots in use), then 2,500
// more (250 ms at 10,000 examples/s), which change 8,419 of them (a delta of 236 KB). Take: the trainer's Snapshot and the diff against the
// live version's; Apply: the predictor's copy of the version with the delta.
func BenchmarkDelta(b *testing.B) {
	spec := learner.DefaultSpec()
	spec.Name, spec.Standardize = "bench", true
	tr := newTrainer(b, spec)
	exs := wideStream(102_500, 3)
	for _, ex := range exs[:100_000] {
		tr.Learn(ex.v, ex.y)
	}
	base := tr.Snapshot()
	for _, ex := range exs[100_000:] {
		tr.Learn(ex.v, ex.y)
	}
	d, err := learner.NewDelta(base, tr.Snapshot())
	if err != nil {
		b.Fatal(err)
	}
	bytes, _ := d.MarshalBinary()
	all, err := learner.NewDelta(newTrainer(b, spec).Snapshot(), base)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("delta: %d rows of the %d in use, %d bytes", d.Rows(), all.Rows(), len(bytes))
	b.Run("take", func(b *testing.B) {
		for b.Loop() {
			if _, err := learner.NewDelta(base, tr.Snapshot()); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("apply", func(b *testing.B) {
		for b.Loop() {
			if _, err := base.Apply(d); err != nil {
				b.Fatal(err)
			}
		}
	})
}
