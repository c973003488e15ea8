// Tests of the emulator and, through it, of each kernel of kernels/learner.cu against a plain Go
// reference, using only the device interface.

package cuda

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// Tolerances: relative for the same arithmetic in the same order (up to the last bit of exp), and
// relative to the sum of the magnitudes of the terms for sums taken in another order.
const (
	ktSame  = 1e-12
	ktOrder = 1e-10
)

// ktDev wraps an emulated device for tests: every failing operation fails the test.
type ktDev struct {
	t testing.TB
	d device
}

func ktStart(t testing.TB) *ktDev { return &ktDev{t, startEmulator(t)} }

func (k *ktDev) alloc(bytes int) devPtr {
	k.t.Helper()
	p, err := k.d.alloc(bytes)
	if err != nil {
		k.t.Fatal(err)
	}
	return p
}

// f64 returns device memory holding v.
func (k *ktDev) f64(v []float64) devPtr {
	k.t.Helper()
	b := make([]byte, 0, 8*len(v))
	for _, x := range v {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(x))
	}
	p := k.alloc(len(b))
	if err := k.d.upload(p, b, 0); err != nil {
		k.t.Fatal(err)
	}
	return p
}

// i32 returns device memory holding v.
func (k *ktDev) i32(v []int32) devPtr {
	k.t.Helper()
	b := make([]byte, 0, 4*len(v))
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, uint32(x))
	}
	p := k.alloc(len(b))
	if err := k.d.upload(p, b, 0); err != nil {
		k.t.Fatal(err)
	}
	return p
}

// get returns the n float64 values at p.
func (k *ktDev) get(p devPtr, n int) []float64 {
	k.t.Helper()
	b := make([]byte, 8*n)
	if err := k.d.download(b, p, 0); err != nil {
		k.t.Fatal(err)
	}
	v := make([]float64, n)
	for i := range v {
		v[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
	}
	return v
}

func (k *ktDev) launch(name string, grid, block dim3, args ...any) {
	k.t.Helper()
	if err := k.d.launch(name, grid, block, 0, args...); err != nil {
		k.t.Fatal(err)
	}
}

// ktCheck compares got with want: |got-want| <= tol * max(|want|, scale[i]) (scale may be nil).
func ktCheck(t testing.TB, what string, got, want, scale []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	bad := 0
	for i := range want {
		s := math.Abs(want[i])
		if scale != nil {
			s = max(s, scale[i])
		}
		if got[i] == want[i] || math.Abs(got[i]-want[i]) <= tol*s {
			continue
		}
		if bad++; bad <= 5 {
			t.Errorf("%s[%d] = %.17g, want %.17g", what, i, got[i], want[i])
		}
	}
	if bad > 5 {
		t.Errorf("%s: %d of %d values differ", what, bad, len(want))
	}
}

func ktRand(r *rand.Rand, n int, lo, hi float64) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = lo + (hi-lo)*r.Float64()
	}
	return v
}

// ktSparsify zeroes about a fraction f of v.
func ktSparsify(r *rand.Rand, v []float64, f float64) []float64 {
	for i := range v {
		if r.Float64() < f {
			v[i] = 0
		}
	}
	return v
}

// ktCSR returns a random CSR batch of rows over columns < dim, with empty rows and columns repeated
// across rows.
func ktCSR(r *rand.Rand, rows, dim int) (rowptr, cols []int32, vals []float64) {
	rowptr = []int32{0}
	for i := 0; i < rows; i++ {
		n := r.IntN(5) // 0 to 4 entries
		for _, c := range r.Perm(dim)[:n] {
			cols = append(cols, int32(c%4)) // columns 0..3 recur in most rows
			if r.IntN(2) == 0 {
				cols[len(cols)-1] = int32(c)
			}
			vals = append(vals, r.Float64()*2-1)
		}
		rowptr = append(rowptr, int32(len(cols)))
	}
	return rowptr, cols, vals
}

func ktClone(v []float64) []float64 { return append([]float64(nil), v...) }

func ktCeil(a, b int) uint32 { return uint32((a + b - 1) / b) }

func TestEmuMemory(t *testing.T) {
	k := ktStart(t)
	p := k.alloc(100)
	if p%256 != 0 {
		t.Errorf("alloc returned %#x, not 256-byte aligned", p)
	}
	if free, total, err := k.d.memInfo(); err != nil || total != 1<<34 || free != total-100 {
		t.Errorf("memInfo = %d, %d, %v; want %d, %d", free, total, err, uint64(1<<34-100), uint64(1<<34))
	}
	fresh := make([]byte, 100)
	if err := k.d.download(fresh, p, 0); err != nil {
		t.Fatal(err)
	}
	for i, b := range fresh {
		if b != 0xff {
			t.Fatalf("new memory byte %d = %#x, want 0xff", i, b)
		}
	}
	src := make([]byte, 100)
	for i := range src {
		src[i] = byte(i * 7)
	}
	if err := k.d.upload(p, src, 0); err != nil {
		t.Fatal(err)
	}
	if err := k.d.zero(p+10, 20, 0); err != nil {
		t.Fatal(err)
	}
	if err := k.d.upload(p+90, []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 0); err != nil {
		t.Fatal(err)
	}
	want := append([]byte(nil), src...)
	clear(want[10:30])
	copy(want[90:], []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10})
	got := make([]byte, 100)
	if err := k.d.download(got, p, 0); err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("memory = %v, want %v", got, want)
	}
	part := make([]byte, 5)
	if err := k.d.download(part, p+28, 0); err != nil || string(part) != string(want[28:33]) {
		t.Errorf("download at an offset = %v, %v; want %v", part, err, want[28:33])
	}
	q := k.alloc(1 << 20)
	if err := k.d.free(p); err != nil {
		t.Fatal(err)
	}
	if free, _, _ := k.d.memInfo(); free != 1<<34-1<<20 {
		t.Errorf("free memory after free = %d, want %d", free, 1<<34-1<<20)
	}
	if err := k.d.free(q); err != nil {
		t.Fatal(err)
	}
}

func TestEmuStreamsEvents(t *testing.T) {
	k := ktStart(t)
	s1, err1 := k.d.newStream()
	s2, err2 := k.d.newStream()
	e1, err3 := k.d.newEvent()
	e2, err4 := k.d.newEvent()
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil || s1 == s2 || e1 == e2 {
		t.Fatalf("streams %d, %d and events %d, %d (%v %v %v %v), want distinct", s1, s2, e1, e2, err1, err2, err3, err4)
	}
	for _, err := range []error{k.d.record(e1, s1), k.d.wait(s2, e1), k.d.record(e2, 0), k.d.synchronize(e2)} {
		if err != nil {
			t.Error(err)
		}
	}
	for _, err := range []error{k.d.record(0, s1), k.d.record(e1, 99), k.d.wait(99, e1), k.d.synchronize(99),
		k.d.zero(0, 0, 99)} {
		if err == nil {
			t.Error("a bad stream or event was accepted")
		}
	}
	b, err := k.d.allocHost(24)
	if err != nil || len(b) != 24 || k.d.freeHost(b) != nil {
		t.Errorf("allocHost(24) = %d bytes, %v", len(b), err)
	}
}

func TestEmuErrors(t *testing.T) {
	k := ktStart(t)
	src := k.f64([]float64{1, 2, 3, 4, 5, 6})
	dst := k.alloc(2 * 8)
	g := func(args ...any) error { return k.d.launch("gather", dim3{1, 1, 1}, dim3{32, 1, 1}, 0, args...) }
	small := k.alloc(8)
	cases := []struct {
		name, want string
		err        error
	}{
		{"unknown kernel", "unknown kernel", k.d.launch("no_such_kernel", dim3{1, 1, 1}, dim3{1, 1, 1}, 0)},
		{"too few arguments", "5 arguments, want 6", g(src, 2, 3, 1, 1)},
		{"too many arguments", "7 arguments, want 6", g(src, 2, 3, 1, 1, dst, dst)},
		{"wrong tag", "argument 1 is float64, want int32", g(src, 2.0, 3, 1, 1, dst)},
		{"int64 for int", "argument 4 is int64, want int32", g(src, 2, 3, 1, int64(1), dst)},
		{"null pointer", "argument 5 is a null pointer", g(src, 2, 3, 1, 1, devPtr(0))},
		{"wild pointer", "not inside an allocation", g(src, 2, 3, 1, 1, devPtr(8))},
		{"Go type", "has type string", g(src, 2, 3, 1, 1, "dst")},
		{"int overflow", "overflows int32", g(src, 1<<40, 3, 1, 1, dst)},
		{"bad block", "bad block", k.d.launch("gather", dim3{1, 1, 1}, dim3{2048, 1, 1}, 0, src, 2, 3, 1, 1, dst)},
		{"bad grid", "bad grid", k.d.launch("gather", dim3{0, 1, 1}, dim3{32, 1, 1}, 0, src, 2, 3, 1, 1, dst)},
		{"write past the end", "wrote past the end", g(src, 2, 3, 1, 1, small)},
		{"bad free", "not an allocation", k.d.free(src + 8)},
		{"download past the end", "not inside an allocation", k.d.download(make([]byte, 49), src, 0)},
		{"upload past the end", "not inside an allocation", k.d.upload(dst+8, make([]byte, 9), 0)},
		{"zero of a null pointer", "null pointer", k.d.zero(0, 8, 0)},
		{"alloc of 0 bytes", "alloc", func() error { _, err := k.d.alloc(0); return err }()},
	}
	for _, c := range cases {
		if c.err == nil || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, c.err, c.want)
		}
	}
	// The emulator still works, and the guard bytes were repaired.
	k.launch("gather", dim3{1, 1, 1}, dim3{32, 1, 1}, src, int32(2), int32(3), int32(1), int32(1), dst)
	ktCheck(t, "gather after errors", k.get(dst, 2), []float64{2, 5}, nil, 0)
	k.launch("gather", dim3{1, 1, 1}, dim3{32, 1, 1}, src, 1, 3, 1, 1, small)
	ktCheck(t, "gather into a small allocation", k.get(small, 1), []float64{2}, nil, 0)
	if err := k.d.free(src); err != nil {
		t.Error(err)
	}
	if err := k.d.free(src); err == nil {
		t.Error("a double free was accepted")
	}
	if err := k.d.close(); err != nil {
		t.Fatal(err)
	}
	if _, err := k.d.alloc(8); err == nil {
		t.Error("alloc after close succeeded")
	}
}

// ktGemm is the reference of gemm, summing in the kernel's order.
func ktGemm(A []float64, sam, sak int, B []float64, ldb int, C []float64, ldc int, bias []float64, mdim, ndim, kdim int, accumulate bool) {
	for m := 0; m < mdim; m++ {
		for n := 0; n < ndim; n++ {
			var acc float64
			for k := 0; k < kdim; k++ {
				acc += A[m*sam+k*sak] * B[k*ldb+n]
			}
			init := 0.0
			if accumulate {
				init = C[m*ldc+n]
			} else if bias != nil {
				init = bias[n]
			}
			C[m*ldc+n] = init + acc
		}
	}
}

func TestKernelGemm(t *testing.T) {
	k := ktStart(t)
	r := rand.New(rand.NewPCG(1, 2))
	for _, size := range [][3]int{{70, 37, 19}, {5, 130, 40}, {64, 64, 16}} {
		mdim, ndim, kdim := size[0], size[1], size[2]
		grid, block := dim3{ktCeil(ndim, 64), ktCeil(mdim, 64), 1}, dim3{256, 1, 1}
		t.Run(fmt.Sprintf("forward %dx%dx%d", mdim, ndim, kdim), func(t *testing.T) {
			// M = X W + bias with X rows x width row-major; wider leading dimensions than ndim.
			ldb, ldc := ndim+3, ndim+5
			X, W := ktRand(r, mdim*kdim, -1, 1), ktRand(r, kdim*ldb, -1, 1)
			bias, M := ktRand(r, ndim, -1, 1), ktRand(r, mdim*ldc, -1, 1)
			pX, pW, pB, pM := k.f64(X), k.f64(W), k.f64(bias), k.f64(M)
			k.launch("gemm", grid, block, pX, int64(kdim), int64(1), pW, int64(ldb), pM, int64(ldc), pB, mdim, ndim, kdim, 0)
			ktGemm(X, kdim, 1, W, ldb, M, ldc, bias, mdim, ndim, kdim, false)
			ktCheck(t, "M", k.get(pM, len(M)), M, nil, ktSame)
			// Without a bias.
			k.launch("gemm", grid, block, pX, int64(kdim), int64(1), pW, int64(ldb), pM, int64(ldc), devPtr(0), mdim, ndim, kdim, 0)
			ktGemm(X, kdim, 1, W, ldb, M, ldc, nil, mdim, ndim, kdim, false)
			ktCheck(t, "M without bias", k.get(pM, len(M)), M, nil, ktSame)
		})
		t.Run(fmt.Sprintf("gradient %dx%dx%d", mdim, ndim, kdim), func(t *testing.T) {
			// G += X^T D with X kdim rows x mdim (the width) read in place.
			X, D, G := ktRand(r, kdim*mdim, -1, 1), ktRand(r, kdim*ndim, -1, 1), ktRand(r, mdim*ndim, -1, 1)
			pX, pD, pG := k.f64(X), k.f64(D), k.f64(G)
			k.launch("gemm", grid, block, pX, int64(1), int64(mdim), pD, int64(ndim), pG, int64(ndim), devPtr(0),
				int32(mdim), int32(ndim), int32(kdim), int32(1))
			ktGemm(X, 1, mdim, D, ndim, G, ndim, nil, mdim, ndim, kdim, true)
			ktCheck(t, "G", k.get(pG, len(G)), G, nil, ktSame)
		})
	}
	// Split-K: the sum over a long k (a batch's rows) shared by blocks along z, whose partial sums
	// are added atomically, in another order.
	for _, splits := range []uint32{2, 3, 7} {
		t.Run(fmt.Sprintf("gradient split-K %d", splits), func(t *testing.T) {
			const mdim, ndim, kdim = 70, 37, 300
			X, D, G := ktRand(r, kdim*mdim, -1, 1), ktRand(r, kdim*ndim, -1, 1), ktRand(r, mdim*ndim, -1, 1)
			pX, pD, pG := k.f64(X), k.f64(D), k.f64(G)
			k.launch("gemm", dim3{ktCeil(ndim, 64), ktCeil(mdim, 64), splits}, dim3{256, 1, 1}, pX, int64(1), int64(mdim), pD,
				int64(ndim), pG, int64(ndim), devPtr(0), int32(mdim), int32(ndim), int32(kdim), int32(1))
			ktGemm(X, 1, mdim, D, ndim, G, ndim, nil, mdim, ndim, kdim, true)
			ktCheck(t, "G", k.get(pG, len(G)), G, nil, ktOrder)
		})
	}
}

func TestKernelSparseForward(t *testing.T) {
	k := ktStart(t)
	r := rand.New(rand.NewPCG(3, 4))
	const rows, dim, N = 9, 12, 5
	rowptr, cols, vals := ktCSR(r, rows, dim)
	W := ktRand(r, (dim+1)*N, -1, 1) // row dim is the bias
	M := make([]float64, rows*N)
	pW, pM := k.f64(W), k.alloc(8*len(M))
	// A small grid, so that the threads stride.
	k.launch("sparse_forward", dim3{2, 1, 1}, dim3{8, 1, 1}, k.i32(rowptr), k.i32(cols), k.f64(vals), rows, pW,
		pW+devPtr(8*dim*N), N, pM)
	for r := 0; r < rows; r++ {
		for n := 0; n < N; n++ {
			m := W[dim*N+n]
			for i := rowptr[r]; i < rowptr[r+1]; i++ {
				m += W[int(cols[i])*N+n] * vals[i]
			}
			M[r*N+n] = m
		}
	}
	ktCheck(t, "M", k.get(pM, len(M)), M, nil, ktSame)
}

func TestKernelSparseGradient(t *testing.T) {
	k := ktStart(t)
	r := rand.New(rand.NewPCG(5, 6))
	const rows, dim, N = 11, 10, 7
	rowptr, cols, vals := ktCSR(r, rows, dim)
	D := ktSparsify(r, ktRand(r, rows*N, -1, 1), 0.2)
	G := ktRand(r, (dim+1)*N, -1, 1)
	pG := k.f64(G)
	k.launch("sparse_gradient", dim3{ktCeil(rows*N, 64), 1, 1}, dim3{64, 1, 1}, k.i32(rowptr), k.i32(cols), k.f64(vals),
		rows, k.f64(D), N, pG)
	scale := make([]float64, len(G))
	for i := range G {
		scale[i] = math.Abs(G[i])
	}
	for r := 0; r < rows; r++ {
		for n := 0; n < N; n++ {
			for i := rowptr[r]; i < rowptr[r+1]; i++ {
				j := int(cols[i])*N + n
				G[j] += vals[i] * D[r*N+n]
				scale[j] += math.Abs(vals[i] * D[r*N+n])
			}
		}
	}
	ktCheck(t, "G", k.get(pG, len(G)), G, scale, ktOrder)
}

func TestKernelBiasGradient(t *testing.T) {
	k := ktStart(t)
	r := rand.New(rand.NewPCG(7, 8))
	for _, c := range []struct{ rows, N, gy int }{{13, 70, 1}, {100, 1, 3}, {200, 33, 2}} {
		const dim = 4
		D, G := ktRand(r, c.rows*c.N, -1, 1), ktRand(r, (dim+1)*c.N, -1, 1)
		pG := k.f64(G)
		k.launch("bias_gradient", dim3{ktCeil(c.N, 32), uint32(c.gy), 1}, dim3{256, 1, 1}, k.f64(D), c.rows, c.N, pG+devPtr(8*dim*c.N))
		for n := 0; n < c.N; n++ {
			var sum float64
			for r := 0; r < c.rows; r++ {
				sum += D[r*c.N+n]
			}
			G[dim*c.N+n] += sum
		}
		ktCheck(t, fmt.Sprintf("G (%d rows, %d columns, %d blocks of rows)", c.rows, c.N, c.gy), k.get(pG, len(G)), G, nil, ktOrder)
	}
}

func TestKernelLinkDloss(t *testing.T) {
	const rows, K, delta = 13, 4, 0.5
	for _, c := range []struct {
		name         string
		objective, O int
		labels       func(r *rand.Rand) float64
		link         func(m, p []float64)
		dloss        func(p []float64, y float64, d []float64)
	}{
		{"logistic", 0, 1, func(r *rand.Rand) float64 { return float64(r.IntN(2)) },
			func(m, p []float64) { p[0] = 1 / (1 + math.Exp(-m[0])) },
			func(p []float64, y float64, d []float64) { d[0] = p[0] - y }},
		{"squared", 1, 1, func(r *rand.Rand) float64 { return r.NormFloat64() * 2 },
			func(m, p []float64) { p[0] = m[0] },
			func(p []float64, y float64, d []float64) { d[0] = p[0] - y }},
		{"huber", 2, 1, func(r *rand.Rand) float64 { return r.NormFloat64() * 2 },
			func(m, p []float64) { p[0] = m[0] },
			func(p []float64, y float64, d []float64) { d[0] = max(-delta, min(delta, p[0]-y)) }},
		{"softmax", 3, 3, func(r *rand.Rand) float64 { return float64(r.IntN(3)) },
			func(m, p []float64) {
				top := math.Inf(-1)
				for _, v := range m {
					top = max(top, v)
				}
				var sum float64
				for o, v := range m {
					p[o] = math.Exp(v - top)
					sum += p[o]
				}
				for o := range p {
					p[o] /= sum
				}
			},
			func(p []float64, y float64, d []float64) {
				for o := range p {
					d[o] = p[o]
					if o == int(y) {
						d[o]--
					}
				}
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			k := ktStart(t)
			r := rand.New(rand.NewPCG(9, uint64(c.objective)))
			O, N := c.O, K*c.O
			M := ktRand(r, rows*N, -3, 3)
			labels := make([]float64, rows)
			for i := range labels {
				labels[i] = c.labels(r)
			}
			pM, pP, pD := k.f64(M), k.alloc(8*rows*N), k.alloc(8*rows*N)
			k.launch("link", dim3{2, 1, 1}, dim3{16, 1, 1}, pM, rows, K, O, c.objective, pP)
			P := make([]float64, rows*N)
			for r := 0; r < rows; r++ {
				for m := 0; m < K; m++ {
					c.link(M[r*N+m*O:r*N+(m+1)*O], P[(m*rows+r)*O:(m*rows+r+1)*O])
				}
			}
			gotP := k.get(pP, len(P))
			ktCheck(t, "P", gotP, P, nil, ktSame)

			// The gradients of the kernel's outputs.
			k.launch("dloss", dim3{ktCeil(rows*K, 32), 1, 1}, dim3{32, 1, 1}, pP, k.f64(labels), rows, K, O,
				c.objective, float64(delta), pD)
			D := make([]float64, rows*N)
			for r := 0; r < rows; r++ {
				for m := 0; m < K; m++ {
					c.dloss(gotP[(m*rows+r)*O:(m*rows+r+1)*O], labels[r], D[r*N+m*O:r*N+(m+1)*O])
				}
			}
			ktCheck(t, "D", k.get(pD, len(D)), D, nil, ktSame)
		})
	}
}

// ktHyper is one model's step settings as update takes them.
type ktHyper struct{ alpha, beta, rate, l1, l2 float64 }

func TestKernelUpdate(t *testing.T) {
	const dim, K, O = 9, 3, 2
	const N = K * O
	hyper := []ktHyper{{0.1, 1, 0.05, 0, 0}, {0.5, 0.5, 0.2, 0.3, 0.1}, {0.05, 2, 0.1, 1.5, 0.5}}
	touched := []int32{0, 2, 5, dim} // dim: the bias row, never regularized
	for _, opt := range []struct {
		name string
		id   int
	}{{"ftrl", 0}, {"adagrad", 1}} {
		t.Run(opt.name, func(t *testing.T) {
			k := ktStart(t)
			r := rand.New(rand.NewPCG(11, uint64(opt.id)))
			z, s := ktRand(r, (dim+1)*N, -2, 2), ktRand(r, (dim+1)*N, 0, 2)
			w, g := ktRand(r, (dim+1)*N, -1, 1), ktSparsify(r, ktRand(r, (dim+1)*N, -1, 1), 0.2)
			h := make([]float64, 0, 5*K)
			for _, p := range hyper {
				h = append(h, 1/p.alpha, p.beta, p.rate, p.l1, p.l2)
			}
			pz, ps, pw, pg := k.f64(z), k.f64(s), k.f64(w), k.f64(g)
			k.launch("update", dim3{2, 1, 1}, dim3{8, 1, 1}, k.i32(touched), len(touched), N, O, dim, opt.id, k.f64(h),
				pz, ps, pw, pg)
			zeros := 0
			for _, row := range touched {
				for n := 0; n < N; n++ {
					i := int(row)*N + n
					if g[i] == 0 {
						continue
					}
					p := hyper[n/O]
					l1, l2 := p.l1, p.l2
					if row == dim {
						l1, l2 = 0, 0
					}
					if opt.id == 1 {
						s[i], w[i] = ktAdaGrad(p.rate, l1, l2, s[i], w[i], g[i])
					} else {
						z[i], s[i], w[i] = ktFTRL(1/p.alpha, p.beta, l1, l2, z[i], s[i], w[i], g[i])
					}
					if w[i] == 0 {
						zeros++
					}
					g[i] = 0
				}
			}
			if zeros == 0 {
				t.Error("no weight was zeroed by L1: the test does not cover it")
			}
			ktCheck(t, "z", k.get(pz, len(z)), z, nil, ktSame)
			ktCheck(t, "s", k.get(ps, len(s)), s, nil, ktSame)
			ktCheck(t, "w", k.get(pw, len(w)), w, nil, ktSame)
			ktCheck(t, "g", k.get(pg, len(g)), g, nil, 0)
		})
	}
}

// ktFTRL is rule.ftrl of learner/optimizer.go.
func ktFTRL(invAlpha, beta, l1, l2, z, s, w, g float64) (z2, s2, w2 float64) {
	s2 = math.Sqrt(s*s + g*g)
	z2 = z + g - (s2-s)*invAlpha*w
	if math.Abs(z2) <= l1 {
		return z2, s2, 0
	}
	return z2, s2, -(z2 - math.Copysign(l1, z2)) / ((beta+s2)*invAlpha + l2)
}

// ktAdaGrad is rule.adagrad of learner/optimizer.go.
func ktAdaGrad(rate, l1, l2, s, w, g float64) (s2, w2 float64) {
	g += l2 * w
	if g == 0 {
		return s, w
	}
	s2 = math.Sqrt(s*s + g*g)
	eta := rate / s2
	w2 = w - eta*g
	if l1 > 0 {
		switch t := eta * l1; {
		case w2 > t:
			w2 -= t
		case w2 < -t:
			w2 += t
		default:
			w2 = 0
		}
	}
	return s2, w2
}

func TestKernelGatherScatter(t *testing.T) {
	k := ktStart(t)
	r := rand.New(rand.NewPCG(13, 14))
	const nrows, K, O, model = 7, 3, 2, 1
	const N = K * O
	state := ktRand(r, nrows*N, -1, 1)
	pState, pOut := k.f64(state), k.alloc(8*nrows*O)
	k.launch("gather", dim3{1, 1, 1}, dim3{4, 1, 1}, pState, nrows, N, O, model, pOut)
	want := make([]float64, nrows*O)
	for row := 0; row < nrows; row++ {
		for o := 0; o < O; o++ {
			want[row*O+o] = state[row*N+model*O+o]
		}
	}
	ktCheck(t, "gather", k.get(pOut, len(want)), want, nil, 0)

	src := ktRand(r, nrows*O, -1, 1)
	k.launch("scatter", dim3{3, 1, 1}, dim3{2, 1, 1}, k.f64(src), nrows, N, O, model, pState)
	for row := 0; row < nrows; row++ {
		for o := 0; o < O; o++ {
			state[row*N+model*O+o] = src[row*O+o]
		}
	}
	ktCheck(t, "scatter", k.get(pState, len(state)), state, nil, 0)
}
