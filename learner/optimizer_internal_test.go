package learner

import (
	"math"
	"testing"
)

func near(got, want float64) bool {
	return got == want || math.Abs(got-want) <= 1e-12*math.Max(1, math.Abs(want))
}

func TestFTRLStep(t *testing.T) {
	tests := []struct {
		name         string
		h            Hyper
		z, s, w, g   float64 // s = sqrt(n)
		l1, l2       float64
		wantZ, wantS float64
		wantW        float64
	}{
		// n=0.36, sigma=(0.6-0)/0.5=1.2, z=0.6, w=-(0.6-0.1)/((1+0.6)/0.5+0.2)=-0.5/3.4
		{"first step", Hyper{Alpha: 0.5, Beta: 1}, 0, 0, 0, 0.6, 0.1, 0.2, 0.6, 0.6, -0.5 / 3.4},
		// n=0.36+0.64=1, sigma=(1-0.6)/0.5=0.8, z=0.6-0.8-0.8*(-0.5/3.4)=-0.0823..., |z|<=l1 so w=0
		{"l1 zeroes", Hyper{Alpha: 0.5, Beta: 1}, 0.6, 0.6, -0.5 / 3.4, -0.8, 0.1, 0.2, -0.2 + 0.8*0.5/3.4, 1, 0},
		// n=0.09, sigma=3, z=-0.3, w=0.3/((1+0.3)/0.1)=0.3/13
		{"no regularization", Hyper{Alpha: 0.1, Beta: 1}, 0, 0, 0, -0.3, 0, 0, -0.3, 0.3, 0.3 / 13},
		// n=4+1=5, sigma=(sqrt5-2)/1, z=1+1-sigma*(-0.5), w=-(z-0.5)/((0+sqrt5)/1+1)
		{"later step", Hyper{Alpha: 1, Beta: 0}, 1, 2, -0.5, 1, 0.5, 1, 2 + 0.5*(math.Sqrt(5)-2), math.Sqrt(5),
			-(2 + 0.5*(math.Sqrt(5)-2) - 0.5) / (math.Sqrt(5) + 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ruleOf(ftrl, &tt.h, tt.l1, tt.l2)
			z, s, w := r.ftrl(tt.z, tt.s, tt.w, tt.g)
			if !near(z, tt.wantZ) || !near(s, tt.wantS) || !near(w, tt.wantW) {
				t.Errorf("got z=%v s=%v w=%v, want z=%v s=%v w=%v", z, s, w, tt.wantZ, tt.wantS, tt.wantW)
			}
		})
	}
}

func TestAdaGradStep(t *testing.T) {
	tests := []struct {
		name         string
		lr           float64
		s, w, g      float64 // s = sqrt(n)
		l1, l2       float64
		wantS, wantW float64
	}{
		// n=0.25, eta=0.1/0.5=0.2, w=-0.2*0.5
		{"plain", 0.1, 0, 0, 0.5, 0, 0, 0.5, -0.1},
		// g=0.5+0.1*1=0.6, n=0.36, eta=0.1/0.6, w=1-0.1
		{"l2 decay", 0.1, 0, 1, 0.5, 0, 0.1, 0.6, 0.9},
		// n=4, eta=0.05, w=0.1, shrink 0.05*0.3=0.015
		{"l1 shrinks", 0.1, 0, 0, -2, 0.3, 0, 2, 0.085},
		// n=0.04, eta=0.5, w=-0.1, shrink 0.25 > 0.1
		{"l1 zeroes", 0.1, 0, 0, 0.2, 0.5, 0, 0.2, 0},
		{"zero gradient", 0.1, 0, 0.3, 0, 0, 0, 0, 0.3},
		// n=1+9=10, eta=0.1/sqrt10, w=0.3-eta*3
		{"accumulates", 0.1, 1, 0.3, 3, 0, 0, math.Sqrt(10), 0.3 - 0.3/math.Sqrt(10)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ruleOf(adagrad, &Hyper{LearningRate: tt.lr}, tt.l1, tt.l2)
			s, w := r.adagrad(tt.s, tt.w, tt.g)
			if !near(s, tt.wantS) || !near(w, tt.wantW) {
				t.Errorf("got s=%v w=%v, want s=%v w=%v", s, w, tt.wantS, tt.wantW)
			}
		})
	}
}

func TestDLoss(t *testing.T) {
	tests := []struct {
		name          string
		k             lossKind
		out, y, delta float64
		want          float64
	}{
		{"logistic positive", logistic, 0.8, 1, 0, -0.2},
		{"logistic negative", logistic, 0.8, 0, 0, 0.8},
		{"squared", squared, 2.5, 1, 0, 1.5},
		{"huber inside", huber, 1.5, 1, 1, 0.5},
		{"huber above", huber, 4, 1, 1, 1},
		{"huber below", huber, -4, 1, 2, -2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := dloss(tt.k, tt.out, tt.y, tt.delta); !near(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestMomentsWelford(t *testing.T) {
	var m moments
	xs := []float64{2, 4, 4, 4, 5, 5, 7, 9} // mean 5, population sd 2
	for _, x := range xs {
		m.observe(x)
	}
	if !near(m.mean, 5) || !near(m.sd(), 2) || !near(m.scale, 0.5) {
		t.Errorf("got mean=%v sd=%v scale=%v, want 5, 2, 0.5", m.mean, m.sd(), m.scale)
	}
	var one moments
	one.observe(3)
	if one.scale != 0 || one.sd() != 0 {
		t.Errorf("one value: got scale=%v sd=%v, want 0, 0", one.scale, one.sd())
	}
}

func TestSlotTable(t *testing.T) {
	tab := newSlotTable(100)
	for i := uint32(0); i < 100; i++ {
		if !tab.put(i*7919, int32(i)) {
			t.Fatalf("put %d: reported a repeat", i)
		}
	}
	if tab.put(7919, 5) {
		t.Error("put of a present slot: got true, want false")
	}
	for i := uint32(0); i < 100; i++ {
		if got := tab.get(i * 7919); got != int32(i) {
			t.Errorf("get(%d) = %d, want %d", i*7919, got, i)
		}
	}
	if got := tab.get(1); got != -1 {
		t.Errorf("get(absent) = %d, want -1", got)
	}
}
