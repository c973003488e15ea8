// Tests of the FM and MLP kernels of kernels/learner.cu against plain Go references (the CPU models'
// formulas, learner/fm.go and learner/mlp.go, written out again here), through the emulator.

package cuda

import (
	"math"
	"math/rand/v2"
	"testing"
)

// ktBySlot lists the distinct columns of a CSR batch and, per column, its entries and their rows,
// in batch order: the structure the update kernels walk.
func ktBySlot(rowptr, cols []int32) (trows, tptr, tent, tex []int32) {
	index := map[int32]int{}
	var ents, exs [][]int32
	for r := 0; r+1 < len(rowptr); r++ {
		for i := rowptr[r]; i < rowptr[r+1]; i++ {
			j, ok := index[cols[i]]
			if !ok {
				j = len(trows)
				index[cols[i]] = j
				trows, ents, exs = append(trows, cols[i]), append(ents, nil), append(exs, nil)
			}
			ents[j], exs[j] = append(ents[j], i), append(exs[j], int32(r))
		}
	}
	tptr = []int32{0}
	for j := range trows {
		tent, tex = append(tent, ents[j]...), append(tex, exs[j]...)
		tptr = append(tptr, int32(len(tent)))
	}
	return trows, tptr, tent, tex
}

func ktSkipped(k *ktDev, p devPtr) uint64 { return math.Float64bits(k.get(p, 1)[0]) }

func ktCounter(k *ktDev) devPtr {
	p := k.alloc(8)
	if err := k.d.zero(p, 8, 0); err != nil {
		k.t.Fatal(err)
	}
	return p
}

func ktSigmoidGrad(m, y float64) float64 {
	if m != m {
		m = 0
	}
	return 1/(1+math.Exp(-m)) - y
}

// ktFMForward is the FM's margin of each row and the sums fm_sums keeps, as learner/fm.go computes
// them: X[r*S] the linear term, X[r*S+1+f] = s_f, Q[r*S+1+f] = q_f.
func ktFMForward(rowptr, cols []int32, vals, P []float64, dim, S int) (X, Q, M []float64) {
	rows := len(rowptr) - 1
	X, Q, M = make([]float64, rows*S), make([]float64, rows*S), make([]float64, rows)
	for r := range rows {
		lin := P[dim*S]
		s, q := make([]float64, S), make([]float64, S)
		for i := rowptr[r]; i < rowptr[r+1]; i++ {
			row, x := P[int(cols[i])*S:][:S], vals[i]
			lin += row[0] * x
			for f := 1; f < S; f++ {
				vx := row[f] * x
				s[f] += vx
				q[f] += vx * vx
			}
		}
		m := lin
		for f := 1; f < S; f++ {
			m += 0.5 * (s[f]*s[f] - q[f])
		}
		X[r*S], M[r] = lin, m
		copy(X[r*S+1:][:S-1], s[1:])
		copy(Q[r*S+1:][:S-1], q[1:])
	}
	return X, Q, M
}

// TestKernelFMForward checks fm_sums and fm_margin, with labels (the log-loss gradient) and without.
func TestKernelFMForward(t *testing.T) {
	const dim, S, rows = 23, 5, 40
	k := ktStart(t)
	r := rand.New(rand.NewPCG(21, 1))
	rowptr, cols, vals := ktCSR(r, rows, dim)
	P := ktRand(r, (dim+1)*S, -1, 1)
	labels := ktRand(r, rows, 0, 1)
	X, Q, M := ktFMForward(rowptr, cols, vals, P, dim, S)
	pX, pQ, pM, pG := k.alloc(rows*S*8), k.alloc(rows*S*8), k.alloc(rows*8), k.alloc(rows*8)
	k.launch("fm_sums", dim3{3, 1, 1}, dim3{32, 1, 1}, k.i32(rowptr), k.i32(cols), k.f64(vals), int32(rows), int32(S),
		k.f64(P), int32(dim), pX, pQ)
	k.launch("fm_margin", dim3{2, 1, 1}, dim3{16, 1, 1}, pX, pQ, int32(rows), int32(S), k.f64(labels), pM, pG)
	ktCheck(t, "X", k.get(pX, rows*S), X, nil, 0)
	gotQ := k.get(pQ, rows*S)
	for r := range rows {
		gotQ[r*S] = 0 // the linear term has no squares
	}
	ktCheck(t, "Q", gotQ, Q, nil, 0)
	ktCheck(t, "M", k.get(pM, rows), M, nil, 0)
	G := make([]float64, rows)
	for i := range G {
		G[i] = ktSigmoidGrad(M[i], labels[i])
	}
	ktCheck(t, "G", k.get(pG, rows), G, nil, ktSame)
	// Scoring only: no labels, no gradients.
	k.launch("fm_margin", dim3{1, 1, 1}, dim3{64, 1, 1}, pX, pQ, int32(rows), int32(S), devPtr(0), pM, devPtr(0))
	ktCheck(t, "M without labels", k.get(pM, rows), M, nil, 0)
}

// TestKernelFMUpdate checks set_rows and fm_update: the gradient of each slot of the batch summed in
// batch order, AdaGrad with L2 on the slots and without on w0, and a step that would overflow left
// out and counted.
func TestKernelFMUpdate(t *testing.T) {
	const dim, S, rows, lr, l2 = 23, 5, 40, 0.07, 0.01
	k := ktStart(t)
	r := rand.New(rand.NewPCG(22, 1))
	rowptr, cols, vals := ktCSR(r, rows, dim)
	P, A := ktRand(r, (dim+1)*S, -1, 1), ktRand(r, (dim+1)*S, 0, 3)
	fresh := []int32{cols[0], 17}
	init := ktRand(r, len(fresh)*S, -0.1, 0.1)
	for i, row := range fresh {
		copy(P[int(row)*S:][:S], init[i*S:][:S])
		copy(A[int(row)*S:][:S], make([]float64, S))
	}
	X, _, M := ktFMForward(rowptr, cols, vals, P, dim, S)
	G := make([]float64, rows)
	for i := range G {
		G[i] = ktSigmoidGrad(M[i], float64(i%2))
	}
	G[3] = 1e300 // its slots' steps overflow: left out
	trows, tptr, tent, tex := ktBySlot(rowptr, cols)
	want, wantA := ktClone(P), ktClone(A)
	skipped := uint64(0)
	step := func(at int, g float64) {
		if g == 0 {
			return
		}
		a2 := wantA[at] + g*g
		w2 := want[at] - lr*g/math.Sqrt(a2)
		if math.IsInf(a2, 0) || math.IsNaN(w2) || math.IsInf(w2, 0) {
			skipped++
			return
		}
		want[at], wantA[at] = w2, a2
	}
	for j, row := range trows {
		for c := range S {
			at, g := int(row)*S+c, 0.0
			for e := tptr[j]; e < tptr[j+1]; e++ {
				x := vals[tent[e]]
				gx := G[tex[e]] * x
				if c == 0 {
					g += gx
				} else {
					g += gx * (X[int(tex[e])*S+c] - P[at]*x)
				}
			}
			step(at, g+l2*P[at])
		}
	}
	g0 := 0.0
	for _, g := range G {
		g0 += g
	}
	step(dim*S, g0)
	pP, pA, skip := k.f64(ktClone(P)), k.f64(A), ktCounter(k)
	// set_rows first writes the fresh rows over other values.
	pre := ktClone(P)
	for _, row := range fresh {
		copy(pre[int(row)*S:][:S], ktRand(r, S, 5, 6))
	}
	pP = k.f64(pre)
	k.launch("set_rows", dim3{1, 1, 1}, dim3{4, 1, 1}, k.i32(fresh), int32(len(fresh)), int32(S), k.f64(init), pP)
	ktCheck(t, "P after set_rows", k.get(pP, len(P)), P, nil, 0)
	k.launch("fm_update", dim3{3, 1, 1}, dim3{32, 1, 1}, k.i32(trows), k.i32(tptr), k.i32(tent), k.i32(tex),
		int32(len(trows)), k.f64(vals), int32(rows), int32(S), int32(dim), k.f64(X), k.f64(G), lr, l2, pP, pA, skip)
	if skipped == 0 {
		t.Fatal("no step overflowed: the test does not cover skipping")
	}
	ktCheck(t, "P", k.get(pP, len(P)), want, nil, 0)
	ktCheck(t, "A", k.get(pA, len(A)), wantA, nil, 0)
	if got := ktSkipped(k, skip); got != skipped {
		t.Errorf("skipped %d, want %d", got, skipped)
	}
}

// ktAdam is learner/mlp.go's adam with the constants of ADAM_* in the kernels.
func ktAdam(h []float64, w, mo, v *float64, g float64, skipped *uint64) {
	if g == 0 && *mo == 0 {
		return
	}
	m2 := h[2]**mo + h[3]*g
	v2 := h[4]**v + h[5]*g*g
	w2 := *w - h[0]*(m2/h[7])/(math.Sqrt(v2/h[8])+h[6])
	for _, x := range []float64{m2, v2, w2} {
		if math.IsInf(x, 0) || math.IsNaN(x) {
			*skipped++
			return
		}
	}
	*w, *mo, *v = w2, m2, v2
}

// ktMLP is an MLP's state and one minibatch's values, computed as learner/mlp.go does.
type ktMLP struct {
	h1, h2, L, dim            int
	lay                       []int32 // b1, w2, b2, wo, bo
	W1, M1, V1, D, DM, DV     []float64
	A1, A2, M, G, Dl, D1, Gw2 []float64
}

func newKtMLP(r *rand.Rand, dim, h1, h2 int) *ktMLP {
	m := &ktMLP{h1: h1, h2: h2, L: h1, dim: dim}
	if h2 > 0 {
		m.L = h2
	}
	b1, w2 := 0, h1
	b2 := w2 + h1*h2
	wo := b2 + h2
	bo := wo + m.L
	m.lay = []int32{int32(b1), int32(w2), int32(b2), int32(wo), int32(bo)}
	m.W1, m.M1, m.V1 = ktRand(r, dim*h1, -1, 1), ktRand(r, dim*h1, -0.1, 0.1), ktRand(r, dim*h1, 0, 0.1)
	m.D, m.DM, m.DV = ktRand(r, bo+1, -1, 1), ktRand(r, bo+1, -0.1, 0.1), ktRand(r, bo+1, 0, 0.1)
	for i := range 3 { // a moment of zero with no gradient: no step
		m.DM[i] = 0
	}
	return m
}

func (m *ktMLP) forward(rowptr, cols []int32, vals, labels []float64) {
	rows, h1, h2, L := len(rowptr)-1, m.h1, m.h2, m.L
	m.A1, m.A2, m.M, m.G = make([]float64, rows*h1), make([]float64, rows*h2), make([]float64, rows), make([]float64, rows)
	m.Dl, m.D1 = make([]float64, rows*L), make([]float64, rows*h1)
	m.Gw2 = make([]float64, h1*h2)
	wo := m.D[m.lay[3]:]
	for r := range rows {
		a1 := m.A1[r*h1:][:h1]
		copy(a1, m.D[:h1])
		for i := rowptr[r]; i < rowptr[r+1]; i++ {
			for j := range h1 {
				a1[j] += vals[i] * m.W1[int(cols[i])*h1+j]
			}
		}
		for j := range a1 {
			a1[j] = math.Tanh(a1[j])
		}
		last := a1
		if h2 > 0 {
			a2 := m.A2[r*h2:][:h2]
			copy(a2, m.D[m.lay[2]:][:h2])
			for j, a := range a1 {
				for k := range h2 {
					a2[k] += a * m.D[int(m.lay[1])+j*h2+k]
				}
			}
			for k := range a2 {
				a2[k] = math.Tanh(a2[k])
			}
			last = a2
		}
		mg := m.D[m.lay[4]]
		for j, a := range last {
			mg += a * wo[j]
		}
		m.M[r], m.G[r] = mg, ktSigmoidGrad(mg, labels[r])
		for j, a := range last {
			m.Dl[r*L+j] = m.G[r] * wo[j] * (1 - a*a)
		}
		if h2 == 0 {
			copy(m.D1[r*h1:][:h1], m.Dl[r*L:][:L])
			continue
		}
		for j, a := range a1 {
			s := 0.0
			for k := range h2 {
				s += m.D[int(m.lay[1])+j*h2+k] * m.Dl[r*h2+k]
				m.Gw2[j*h2+k] += a * m.Dl[r*h2+k]
			}
			m.D1[r*h1+j] = s * (1 - a*a)
		}
	}
}

// update applies one Adam step of the batch's mean gradient, as learner/mlp.go's apply.
func (m *ktMLP) update(h []float64, rowptr, cols []int32, vals []float64) (skipped uint64) {
	rows, h1, h2, L := len(rowptr)-1, m.h1, m.h2, m.L
	gd := make([]float64, len(m.D))
	for r := range rows {
		gd[m.lay[4]] += m.G[r]
		for j := range L {
			last := m.A1[r*h1+j]
			if h2 > 0 {
				last = m.A2[r*h2+j]
			}
			gd[int(m.lay[3])+j] += m.G[r] * last
		}
		for k := range h2 {
			gd[int(m.lay[2])+k] += m.Dl[r*h2+k]
		}
		for j := range h1 {
			gd[j] += m.D1[r*h1+j]
		}
	}
	copy(gd[m.lay[1]:], m.Gw2)
	for i := range m.D {
		ktAdam(h, &m.D[i], &m.DM[i], &m.DV[i], gd[i]*h[9], &skipped)
	}
	trows, tptr, tent, tex := ktBySlot(rowptr, cols)
	for j, row := range trows {
		for u := range h1 {
			g := 0.0
			for e := tptr[j]; e < tptr[j+1]; e++ {
				g += vals[tent[e]] * m.D1[int(tex[e])*h1+u]
			}
			at := int(row)*h1 + u
			ktAdam(h, &m.W1[at], &m.M1[at], &m.V1[at], g*h[9]+h[1]*m.W1[at], &skipped)
		}
	}
	return skipped
}

// TestKernelMLP checks the MLP's kernels, forward (mlp_hidden1, mlp_hidden2, mlp_output) and
// backward (mlp_back1, the GEMM of the second layer's gradient, mlp_dense_update, mlp_sparse_update),
// with one hidden layer and with two.
func TestKernelMLP(t *testing.T) {
	for _, tc := range []struct {
		name   string
		h1, h2 int
	}{{"one layer", 7, 0}, {"two layers", 6, 5}} {
		t.Run(tc.name, func(t *testing.T) {
			const dim, rows = 19, 33
			k := ktStart(t)
			r := rand.New(rand.NewPCG(23, uint64(tc.h2)))
			rowptr, cols, vals := ktCSR(r, rows, dim)
			labels := ktRand(r, rows, 0, 1)
			m := newKtMLP(r, dim, tc.h1, tc.h2)
			h := []float64{0.01, 0.001, 0.9, 1 - 0.9, 0.999, 1 - 0.999, 1e-8, 1 - 0.9*0.9, 1 - 0.999*0.999, 1.0 / rows}
			dev := map[string]devPtr{}
			for name, v := range map[string][]float64{"W1": m.W1, "M1": m.M1, "V1": m.V1, "D": m.D, "DM": m.DM, "DV": m.DV} {
				dev[name] = k.f64(v)
			}
			m.forward(rowptr, cols, vals, labels)
			h1, h2, L := tc.h1, tc.h2, m.L
			pA1, pA2, pM, pG := k.alloc(rows*h1*8), k.alloc(max(rows*h2, 1)*8), k.alloc(rows*8), k.alloc(rows*8)
			pDl, pD1, pGw2 := k.alloc(rows*L*8), k.alloc(rows*h1*8), k.alloc(max(h1*h2, 1)*8)
			pRowptr, pCols, pVals, pLab := k.i32(rowptr), k.i32(cols), k.f64(vals), k.f64(labels)
			at := func(name string, i int32) devPtr { return dev[name] + devPtr(i)*8 }
			k.launch("mlp_hidden1", dim3{2, 1, 1}, dim3{32, 1, 1}, pRowptr, pCols, pVals, int32(rows), int32(h1),
				dev["W1"], at("D", m.lay[0]), pA1)
			last, d1 := pA1, pDl
			if h2 > 0 {
				last, d1 = pA2, pD1
				k.launch("mlp_hidden2", dim3{2, 1, 1}, dim3{32, 1, 1}, pA1, int32(rows), int32(h1), int32(h2),
					at("D", m.lay[1]), at("D", m.lay[2]), pA2)
				ktCheck(t, "A2", k.get(pA2, rows*h2), m.A2, nil, ktSame)
			}
			ktCheck(t, "A1", k.get(pA1, rows*h1), m.A1, nil, ktSame)
			k.launch("mlp_output", dim3{1, 1, 1}, dim3{64, 1, 1}, last, int32(rows), int32(L), at("D", m.lay[3]),
				at("D", m.lay[4]), pLab, pM, pG, pDl)
			ktCheck(t, "M", k.get(pM, rows), m.M, nil, ktSame)
			ktCheck(t, "G", k.get(pG, rows), m.G, nil, ktSame)
			ktCheck(t, "Dl", k.get(pDl, rows*L), m.Dl, nil, ktSame)
			if h2 > 0 {
				k.launch("mlp_back1", dim3{2, 1, 1}, dim3{32, 1, 1}, pA1, pDl, int32(rows), int32(h1), int32(h2),
					at("D", m.lay[1]), pD1)
				ktCheck(t, "D1", k.get(pD1, rows*h1), m.D1, nil, ktSame)
				k.launch("gemm", dim3{1, 1, 1}, dim3{256, 1, 1}, pA1, int64(1), int64(h1), pDl, int64(h2), pGw2,
					int64(h2), devPtr(0), int32(h1), int32(h2), int32(rows), int32(0))
				ktCheck(t, "Gw2", k.get(pGw2, h1*h2), m.Gw2, nil, ktSame)
			}
			trows, tptr, tent, tex := ktBySlot(rowptr, cols)
			skip, pH := ktCounter(k), k.f64(h)
			k.launch("mlp_dense_update", dim3{1, 1, 1}, dim3{64, 1, 1}, k.i32(m.lay), int32(len(m.D)), int32(rows),
				int32(h1), int32(h2), int32(L), last, pG, pDl, d1, pGw2, pH, dev["D"], dev["DM"], dev["DV"], skip)
			k.launch("mlp_sparse_update", dim3{2, 1, 1}, dim3{32, 1, 1}, k.i32(trows), k.i32(tptr), k.i32(tent),
				k.i32(tex), int32(len(trows)), pVals, int32(h1), d1, pH, dev["W1"], dev["M1"], dev["V1"], skip)
			skipped := m.update(h, rowptr, cols, vals)
			for name, want := range map[string][]float64{"W1": m.W1, "M1": m.M1, "V1": m.V1, "D": m.D, "DM": m.DM, "DV": m.DV} {
				ktCheck(t, name, k.get(dev[name], len(want)), want, nil, ktSame)
			}
			if got := ktSkipped(k, skip); got != skipped {
				t.Errorf("skipped %d, want %d", got, skipped)
			}
		})
	}
}
