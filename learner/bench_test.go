package learner_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/streamlearn/streamlearn/learner"
	"github.com/streamlearn/streamlearn/wire"
)

// wideStream returns n examples of a tabular stream with 50 active features each: 20 numeric inputs
// and 30 categorical ones (one-hot, 2 to 1000 values), labelled by a hidden logistic model.
func wideStream(n int, seed uint64) []example {
	r := rand.New(rand.NewPCG(seed, 2))
	numNames, catNames := make([]string, 20), make([]string, 30)
	for i := range numNames {
		numNames[i] = fmt.Sprintf("num_%02d", i)
	}
	for i := range catNames {
		catNames[i] = fmt.Sprintf("cat_%02d", i)
	}
	out := make([]example, n)
	for i := range out {
		v := make(wire.Vector, 0, 50)
		var m float64
		for j, name := range numNames {
			x := float64(j+1) * 10 * r.NormFloat64()
			v = append(v, wire.Feature{Name: name, Value: x})
			if j%4 == 0 {
				m += x / float64(j+1) / 10
			}
		}
		for j, name := range catNames {
			card := 2 + j*j
			c := r.IntN(card)
			v = append(v, wire.Feature{Name: fmt.Sprintf("%s=%d", name, c), Value: 1})
			if c%3 == 0 {
				m += 0.3
			}
		}
		v.Sort()
		var y float64
		if r.Float64() < 1/(1+math.Exp(-(m-3))) {
			y = 1
		}
		out[i] = example{v: v, y: learner.Label{Value: y}}
	}
	return out
}

// BenchmarkLearnHashed is the hot path: one example with 50 hashed features, predicted and learned.
func BenchmarkLearnHashed(b *testing.B) {
	for _, k := range allKinds[:2] {
		b.Run(k.optimizer, func(b *testing.B) {
			spec := learner.DefaultSpec()
			spec.Optimizer = k.optimizer
			tr, err := learner.NewOnline(spec)
			if err != nil {
				b.Fatal(err)
			}
			stream := wideStream(4096, 1)
			hashed := make([]learner.Hashed, len(stream))
			for i, ex := range stream {
				tr.Hasher().Hash(ex.v, &hashed[i])
			}
			for i := range stream { // warm up: touch every slot once
				tr.LearnHashed(&hashed[i], stream[i].y)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				j := i & 4095
				tr.LearnHashed(&hashed[j], stream[j].y)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "examples/s")
		})
	}
}

// BenchmarkLearnNamed adds hashing 50 feature names per example.
func BenchmarkLearnNamed(b *testing.B) {
	tr := newTrainer(b, learner.DefaultSpec())
	stream := wideStream(4096, 1)
	for _, ex := range stream {
		tr.Learn(ex.v, ex.y)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ex := &stream[i&4095]
		tr.Learn(ex.v, ex.y)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "examples/s")
}

// BenchmarkSnapshotPredict is serving: a snapshot scoring one named vector.
func BenchmarkSnapshotPredict(b *testing.B) {
	tr := newTrainer(b, learner.DefaultSpec())
	stream := wideStream(4096, 1)
	for _, ex := range stream {
		tr.Learn(ex.v, ex.y)
	}
	snap := tr.Snapshot()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		snap.Predict(stream[i&4095].v)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "examples/s")
}

// BenchmarkEngine is minibatch learning on the CPU backend: K models at once, batches of 256 named
// vectors (hashing included). examples/s counts examples, not example-model pairs.
func BenchmarkEngine(b *testing.B) {
	stream := wideStream(4096, 1)
	vs, ys := split(stream)
	for _, k := range []int{1, 8} {
		b.Run(fmt.Sprintf("K=%d", k), func(b *testing.B) {
			hyper := make([]learner.Hyper, k)
			for i := range hyper {
				hyper[i] = learner.Hyper{Alpha: 0.1 * float64(i+1), Beta: 1, L1: 0.1, L2: 1}
			}
			e := newEngine(b, learner.DefaultSpec(), hyper)
			const batch = 256
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				lo := (i * batch) % len(vs)
				if _, err := e.Learn(vs[lo:lo+batch], ys[lo:lo+batch]); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "examples/s")
		})
	}
}

// BenchmarkSnapshotAndCheckpoint times taking a snapshot and a checkpoint of a DefaultSpec model
// (2^20 slots) that has learned the wide stream; SnapshotBatchCPU is the snapshot of a BatchTrainer
// on the CPU backend that learned it in batches of 256.
func BenchmarkSnapshotAndCheckpoint(b *testing.B) {
	tr := newTrainer(b, learner.DefaultSpec())
	stream := wideStream(4096, 1)
	for _, ex := range stream {
		tr.Learn(ex.v, ex.y)
	}
	b.Run("Snapshot", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			tr.Snapshot()
		}
	})
	b.Run("SnapshotBatchCPU", func(b *testing.B) {
		bt, err := learner.NewBatchTrainer(learner.CPUBackend{}, learner.DefaultSpec())
		if err != nil {
			b.Fatal(err)
		}
		vs, ys := split(stream)
		for lo := 0; lo < len(vs); lo += 256 {
			if _, err := bt.LearnBatch(vs[lo:lo+256], ys[lo:lo+256]); err != nil {
				b.Fatal(err)
			}
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if bt.Snapshot() == nil {
				b.Fatal(bt.Err())
			}
		}
	})
	b.Run("MarshalBinary", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			data, err := tr.MarshalBinary()
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(data)))
		}
	})
}
