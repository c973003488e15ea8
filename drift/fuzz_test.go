package drift_test

import (
	"encoding/binary"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/streamlearn/streamlearn/drift"
	"github.com/streamlearn/streamlearn/eval"
)

// FuzzStatistics feeds arbitrary float64 pairs (NaN, ±Inf, negative, empty
// included) to every statistic: none may panic, and the bounded ones must
// stay in range when they are not NaN.
func FuzzStatistics(f *testing.F) {
	f.Add([]byte{}, uint8(3))
	f.Add(binary.LittleEndian.AppendUint64(nil, math.Float64bits(math.NaN())), uint8(1))
	f.Add([]byte("0123456789abcdef0123456789abcdef"), uint8(10))
	f.Fuzz(func(t *testing.T, data []byte, bins uint8) {
		var xs []float64
		for len(data) >= 8 {
			xs = append(xs, math.Float64frombits(binary.LittleEndian.Uint64(data)))
			data = data[8:]
		}
		a, b := xs[:len(xs)/2], xs[len(xs)/2:]
		if len(a) != len(b) {
			b = b[:len(a)]
		}
		inRange := func(name string, v, lo, hi float64) {
			if !math.IsNaN(v) && (v < lo || v > hi) {
				t.Errorf("%s = %v, want in [%v, %v]", name, v, lo, hi)
			}
		}
		drift.PSI(a, b)
		inRange("JensenShannon", drift.JensenShannon(a, b), 0, math.Sqrt(math.Ln2)+1e-12)
		inRange("LInf", drift.LInf(a, b), 0, 1)
		_, p := drift.ChiSquare(a, b)
		inRange("ChiSquare p", p, 0, 1)
		inRange("AUC", eval.AUC(a, b), 0, 1)
		eval.LogLoss(a, b)
		eval.Brier(a, b)
		drift.ECE(a, b, int(bins))
		s, p := drift.KS(a, b)
		inRange("KS", s, 0, 1)
		inRange("KS p", p, 0, 1)
		drift.Wasserstein(a, b)
		drift.WassersteinNormalized(a, b)
		ad, ph := drift.NewADWIN(0), drift.NewPageHinkley(-1, 0)
		for _, x := range xs {
			ad.Add(x)
			ph.Add(x)
		}
	})
}

func TestKolmogorovSFIsAProbabilityAndMonotone(t *testing.T) {
	for n := 1; n <= 300; n += 7 {
		prev := 1.0
		for x := 0.0; x <= 1.0001; x += 0.0025 {
			p := drift.KolmogorovSF(n, x)
			if !(p >= 0 && p <= 1) || p > prev+1e-12 {
				t.Fatalf("KolmogorovSF(%d, %v) = %v after %v", n, x, p, prev)
			}
			prev = p
		}
	}
}

func TestMonitorConcurrentUse(t *testing.T) {
	m := drift.NewMonitor(drift.MonitorConfig{Window: time.Minute})
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				ts := t0.Add(time.Duration(i) * 100 * time.Millisecond)
				m.ObserveEvent("m", ts, map[string]any{"x": float64(i % 17), "c": "a"})
				m.ObservePrediction("m", 1, ts, 0.5)
				m.ObserveOutcome("m", 1, ts, 0.5, float64(i%2))
				if i%200 == 0 {
					m.Rows(ts)
					m.Stats()
				}
			}
		}()
	}
	wg.Wait()
	m.Flush()
	m.Rows(t0)
}
