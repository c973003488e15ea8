package learner_test

import (
	"testing"

	"github.com/streamlearn/streamlearn/learner"
	"github.com/streamlearn/streamlearn/wire"
)

// BenchmarkFamilyLearn is examples/s per family, one core, one example at a time (Learn with
// hashing), on wideStream (50 active features: 20 numeric, 30 one-hot).
func BenchmarkFamilyLearn(b *testing.B) {
	stream := wideStream(4096, 1)
	for _, f := range append([]string{learner.FamilyLinear}, nonLinear...) {
		b.Run(f, func(b *testing.B) {
			s := learner.DefaultSpec()
			s.Family = f
			tr := newTrainer(b, s)
			for _, ex := range stream { // past the first splits and slot initializations
				tr.Learn(ex.v, ex.y)
			}
			b.ResetTimer()
			for i := range b.N {
				ex := &stream[i%len(stream)]
				tr.Learn(ex.v, ex.y)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "examples/s")
		})
	}
}

// BenchmarkFamilyLearnBatch is examples/s of FM and MLP in minibatches of 256 (LearnBatch).
func BenchmarkFamilyLearnBatch(b *testing.B) {
	stream := wideStream(4096, 1)
	vs, ys := make([]wire.Vector, len(stream)), make([]learner.Label, len(stream))
	for i, ex := range stream {
		vs[i], ys[i] = ex.v, ex.y
	}
	for _, f := range []string{learner.FamilyFM, learner.FamilyMLP} {
		b.Run(f, func(b *testing.B) {
			s := learner.DefaultSpec()
			s.Family = f
			tr, err := learner.NewFamily(s)
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i += 256 {
				at := i % (len(stream) - 256)
				if _, err := tr.LearnBatch(vs[at:at+256], ys[at:at+256]); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "examples/s")
		})
	}
}

// BenchmarkFamilySnapshotPredict is a snapshot's scoring per family, as the predictor serves it.
func BenchmarkFamilySnapshotPredict(b *testing.B) {
	stream := wideStream(4096, 1)
	for _, f := range append([]string{learner.FamilyLinear}, nonLinear...) {
		b.Run(f, func(b *testing.B) {
			s := learner.DefaultSpec()
			s.Family = f
			tr := newTrainer(b, s)
			for _, ex := range stream {
				tr.Learn(ex.v, ex.y)
			}
			snap := tr.Snapshot()
			b.ResetTimer()
			for i := range b.N {
				snap.Predict(stream[i%len(stream)].v)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "examples/s")
		})
	}
}

// BenchmarkAutoSettled is examples/s of the auto family past its warm-up, when the members that do
// not serve learn a sample (AutoSample), against the linear family alone, on wideStream.
func BenchmarkAutoSettled(b *testing.B) {
	stream := wideStream(learner.AutoWarmup+4096, 1)
	for _, f := range []string{learner.FamilyLinear, learner.FamilyAuto} {
		b.Run(f, func(b *testing.B) {
			s := learner.DefaultSpec()
			s.Family = f
			tr := newTrainer(b, s)
			for _, ex := range stream[:learner.AutoWarmup] {
				tr.Learn(ex.v, ex.y)
			}
			rest := stream[learner.AutoWarmup:]
			b.ResetTimer()
			for i := range b.N {
				ex := &rest[i%len(rest)]
				tr.Learn(ex.v, ex.y)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "examples/s")
		})
	}
}

// BenchmarkAutoBlendPredict is the scoring of an auto snapshot that blends its members (taken
// before AutoHorizon examples), against the snapshot of its champion alone, on wideStream.
func BenchmarkAutoBlendPredict(b *testing.B) {
	stream := wideStream(learner.AutoHorizon/2, 1)
	s := learner.DefaultSpec()
	s.Family = learner.FamilyAuto
	a, err := learner.NewAuto(s)
	if err != nil {
		b.Fatal(err)
	}
	for _, ex := range stream {
		a.Learn(ex.v, ex.y)
	}
	blend := a.Snapshot()
	fams, weights := blend.Blend()
	if len(fams) < 2 {
		b.Fatalf("no blend: %v", fams)
	}
	b.Logf("blend of %v weighing %.3f, champion %s", fams, weights, a.Champion())
	for name, snap := range map[string]*learner.Snapshot{"blend": blend, "champion": learner.AutoMember(a, a.Champion()).Snapshot()} {
		b.Run(name, func(b *testing.B) {
			for i := range b.N {
				snap.Predict(stream[i%len(stream)].v)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "examples/s")
		})
	}
}
