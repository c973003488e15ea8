package featurestore_test

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/streamlearn/streamlearn/features"
	"github.com/streamlearn/streamlearn/features/featurestore"
	"github.com/streamlearn/streamlearn/internal/testenv"
	"github.com/streamlearn/streamlearn/wire"
)

// BenchmarkApply measures Apply with real Redis on batches of 1000 events of 100k entities (and of
// 10 hot entities, whose states carry thousands of marks), one goroutine; bench/features measures
// the same with several workers next to redis-benchmark.
func BenchmarkApply(b *testing.B) {
	threeByFive := features.DefaultConfig()
	ws := []features.Window{window("5m"), window("1h"), window("24h")}
	threeByFive.Aggregates = []features.Aggregate{{Function: features.FuncCount, Windows: ws}}
	for _, fn := range []string{features.FuncSum, features.FuncMean, features.FuncMax, features.FuncStddev} {
		threeByFive.Aggregates = append(threeByFive.Aggregates, features.Aggregate{Function: fn, Field: "amount", Windows: ws})
	}
	for _, sc := range []struct {
		name     string
		cfg      features.Config
		entities int
	}{{"defaults", features.DefaultConfig(), 100_000}, {"3x5", threeByFive, 100_000}, {"hot", features.DefaultConfig(), 10}} {
		b.Run(sc.name, func(b *testing.B) {
			store, _ := newStore(b, sc.cfg, featurestore.Options{})
			ctx := testenv.Context(b, 10*time.Minute)
			rng := rand.New(rand.NewPCG(1, 2))
			fields := make([]map[string]any, 1024)
			for i := range fields {
				fields[i] = map[string]any{"amount": float64(rng.IntN(100000)) / 100, "items": float64(1 + rng.IntN(5)),
					"score": rng.NormFloat64(), "country": fmt.Sprint("c", rng.IntN(8)), "new": rng.IntN(10) == 0}
			}
			batch := make([]wire.Event, 1000)
			seq := 0
			next := func() {
				for i := range batch {
					seq++
					batch[i] = wire.Event{ID: strconv.Itoa(seq), Entity: "u" + strconv.Itoa(rng.IntN(sc.entities)),
						Time: t0.Add(time.Duration(seq) * 43 * time.Millisecond), Fields: fields[rng.IntN(len(fields))]}
				}
			}
			b.ResetTimer()
			for b.Loop() {
				b.StopTimer()
				next()
				b.StartTimer()
				if _, err := store.Apply(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "events/s")
		})
	}
}
