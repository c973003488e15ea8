package cuda

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/streamlearn/streamlearn/learner"
	"github.com/streamlearn/streamlearn/wire"
)

// BenchmarkFamilyLearnBatch times Family.LearnBatch of FM and MLP on the GPU and, for comparison, on
// the CPU, over minibatches of hashed sparse rows (50 active inputs). The GPU cases skip without a
// GPU; no GPU figures for these families have been measured yet. Run on a GPU machine with
//
//	./cuda.test -test.run '^$' -test.bench FamilyLearnBatch -test.benchtime 3s
func BenchmarkFamilyLearnBatch(b *testing.B) {
	for _, family := range []string{learner.FamilyFM, learner.FamilyMLP} {
		for _, batch := range []int{256, 4096} {
			spec := learner.DefaultSpec()
			spec.Family, spec.HashBits = family, 18
			vs, ys := benchRows(batch, 50)
			for _, where := range []string{"cpu", "gpu"} {
				b.Run(fmt.Sprintf("%s/batch=%d/%s", family, batch, where), func(b *testing.B) {
					tr := benchTrainer(b, where, spec)
					b.ResetTimer()
					for range b.N {
						if _, err := tr.LearnBatch(vs, ys); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "examples/s")
				})
			}
		}
	}
}

func benchTrainer(b *testing.B, where string, spec learner.Spec) *learner.Family {
	var backend learner.Backend = learner.CPUBackend{}
	if where == "gpu" {
		g, err := gpuBackend()
		if err != nil {
			b.Skipf("no GPU: %v", err)
		}
		backend = g
	}
	tr, err := learner.NewTrainerOn(backend, spec)
	if err != nil {
		b.Fatal(err)
	}
	f := tr.(*learner.Family)
	b.Cleanup(func() { f.Close() })
	return f
}

// benchRows makes n rows of active hashed features, half of them numeric.
func benchRows(n, active int) ([]wire.Vector, []learner.Label) {
	r := rand.New(rand.NewPCG(5, 5))
	vs, ys := make([]wire.Vector, n), make([]learner.Label, n)
	for i := range vs {
		for j := range active {
			if j%2 == 0 {
				vs[i] = append(vs[i], wire.Feature{Name: fmt.Sprintf("n%d", j), Value: r.NormFloat64()})
			} else {
				vs[i] = append(vs[i], wire.Feature{Name: fmt.Sprintf("c%d=%d", j, r.IntN(1000)), Value: 1})
			}
		}
		vs[i].Sort()
		ys[i].Value = float64(r.IntN(2))
	}
	return vs, ys
}
