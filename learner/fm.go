package learner

import (
	"math"
	"sort"
)

// maxFactors bounds FMSpec.Factors, so that the margin's sums fit in arrays on the stack.
const maxFactors = 64

// fm is a factorization machine over 2^Bits slots:
//
//	m(x) = w0 + sum_i w_i x_i + 1/2 sum_f [(sum_i v_if x_i)^2 - sum_i v_if^2 x_i^2]
//
// learned with AdaGrad on the log loss. A slot's factors start at deterministic noise the first
// time an example with it is learned (untouched slots are zero and take no part), so a checkpoint
// holds only touched slots and a restored model is bit-identical.
type fm struct {
	k, stride int
	mask      uint32
	lr, l2    float64
	init      float64
	seed      uint64
	std       bool

	w0, a0  float64
	p, a    []float64 // per slot row*stride: w, v_1..v_k; a: AdaGrad's sums of squared gradients
	touched []bool

	// pending minibatch gradients
	g0   float64
	g    []float64
	rows []uint32 // rows with a pending gradient, in order of first appearance
	mark []bool
	skip int64
}

func newFM(spec Spec) *fm {
	k := spec.FM.Factors
	dim := 1 << uint(spec.FM.Bits)
	stride := k + 1
	return &fm{
		k: k, stride: stride, mask: uint32(dim - 1), lr: spec.FM.LearningRate, l2: spec.FM.L2,
		init: spec.FM.InitScale, seed: spec.Tree.Seed, std: spec.Standardize,
		p: make([]float64, dim*stride), a: make([]float64, dim*stride), g: make([]float64, dim*stride),
		touched: make([]bool, dim), mark: make([]bool, dim),
	}
}

// sums accumulates the linear term and the factor sums s_f and q_f of one input.
func fmSums(k int, row []float64, x float64, lin *float64, s, q []float64) {
	*lin += row[0] * x
	for f := range k {
		vx := row[1+f] * x
		s[f] += vx
		q[f] += vx * vx
	}
}

// fmMargin is the margin from the sums.
func fmMargin(lin float64, s, q []float64) float64 {
	m := lin
	for f := range s {
		m += 0.5 * (s[f]*s[f] - q[f])
	}
	return m
}

func (m *fm) margin(in *input) float64 {
	var sb, qb [maxFactors]float64
	s, q := sb[:m.k], qb[:m.k]
	lin := m.w0
	for i, slot := range in.slots {
		r := slot & m.mask
		if m.touched[r] {
			fmSums(m.k, m.p[int(r)*m.stride:][:m.stride], in.x[i], &lin, s, q)
		}
	}
	return fmMargin(lin, s, q)
}

// accumulate adds the gradient of one example to the pending gradient, after giving its new slots
// their initial factors.
func (m *fm) accumulate(in *input, y float64) {
	for _, slot := range in.slots {
		r := slot & m.mask
		if !m.touched[r] {
			m.touched[r] = true
			m.initRow(r, m.p[int(r)*m.stride:][:m.stride])
		}
	}
	var sb, qb [maxFactors]float64
	s, q := sb[:m.k], qb[:m.k]
	lin := m.w0
	for i, slot := range in.slots {
		r := slot & m.mask
		fmSums(m.k, m.p[int(r)*m.stride:][:m.stride], in.x[i], &lin, s, q)
	}
	g := sigmoid(saneMargin(fmMargin(lin, s, q))) - y
	m.g0 += g
	for i, slot := range in.slots {
		r := slot & m.mask
		x := in.x[i]
		row, grow := m.p[int(r)*m.stride:][:m.stride], m.g[int(r)*m.stride:][:m.stride]
		gx := g * x
		grow[0] += gx
		for f := range m.k {
			grow[1+f] += gx * (s[f] - row[1+f]*x)
		}
		if !m.mark[r] {
			m.mark[r] = true
			m.rows = append(m.rows, r)
		}
	}
}

// initRow writes the initial weights of slot r into row: w 0 and the factors deterministic noise.
func (m *fm) initRow(r uint32, row []float64) {
	row[0] = 0
	for f := range m.k {
		row[1+f] = m.init * noise(m.seed, r, f)
	}
}

// touch marks the untouched slots of in as touched and appends them to fresh and their initial
// rows to init, for a model on a device.
func (m *fm) touch(in *input, fresh []int32, init []float64) ([]int32, []float64) {
	for _, slot := range in.slots {
		r := slot & m.mask
		if !m.touched[r] {
			m.touched[r] = true
			fresh = append(fresh, int32(r))
			n := len(init)
			init = append(init, make([]float64, m.stride)...)
			m.initRow(r, init[n:])
		}
	}
	return fresh, init
}

// apply takes one AdaGrad step with the pending gradient and clears it.
func (m *fm) apply() {
	m.w0, m.a0 = m.adagrad(m.w0, m.a0, m.g0)
	m.g0 = 0
	for _, r := range m.rows {
		off := int(r) * m.stride
		p, a, g := m.p[off:][:m.stride], m.a[off:][:m.stride], m.g[off:][:m.stride]
		for j := range p {
			p[j], a[j] = m.adagrad(p[j], a[j], g[j]+m.l2*p[j])
			g[j] = 0
		}
		m.mark[r] = false
	}
	m.rows = m.rows[:0]
}

// adagrad is one AdaGrad step of weight w with squared-gradient sum a and gradient g; a step that
// would make either non-finite is left out.
func (m *fm) adagrad(w, a, g float64) (float64, float64) {
	if g == 0 {
		return w, a
	}
	a2 := a + g*g
	w2 := w - m.lr*g/math.Sqrt(a2)
	if !finite(a2) || !finite(w2) {
		m.skip++
		return w, a
	}
	return w2, a2
}

func (m *fm) learn(in *input, y float64) {
	m.accumulate(in, y)
	m.apply()
}

func (m *fm) learnBatch(ins []*input, ys []float64) {
	for i, in := range ins {
		m.accumulate(in, ys[i])
	}
	m.apply()
}

func (m *fm) skipped() int64 { return m.skip }

func (m *fm) encode(e *encoder) {
	e.u64(uint64(m.skip))
	e.f64s([]float64{m.w0, m.a0})
	var n uint32
	for _, t := range m.touched {
		if t {
			n++
		}
	}
	e.u32(n)
	for r, t := range m.touched {
		if t {
			e.u32(uint32(r))
			e.f64s(m.p[r*m.stride:][:m.stride])
			e.f64s(m.a[r*m.stride:][:m.stride])
		}
	}
}

func (m *fm) decode(d *decoder) {
	m.skip = int64(d.u64())
	m.w0, m.a0 = d.f64(), d.f64()
	n := d.count(4 + 16*m.stride)
	for range n {
		r := d.u32()
		if d.err == nil && r > m.mask {
			d.fail(errSlotRange)
		}
		if d.err != nil {
			return
		}
		m.touched[r] = true
		d.f64s(m.p[int(r)*m.stride:][:m.stride])
		d.f64s(m.a[int(r)*m.stride:][:m.stride])
	}
	if !finite(m.w0) || !finite(m.a0) {
		m.w0, m.a0 = 0, 0
	}
	zeroNonFinite(m.p)
	zeroNonFinite(m.a)
}

// fmScorer is a factorization machine's serving copy: the touched slots, their rows and the
// standardization of each.
type fmScorer struct {
	k, stride   int
	mask        uint32
	std         bool
	w0          float64
	slots       []uint32
	rows        []float64 // per slot: w, v_1..v_k
	mean, scale []float64
	table       slotTable
}

func (m *fm) scorer(stats []moments) familyScorer {
	s := &fmScorer{k: m.k, stride: m.stride, mask: m.mask, std: m.std, w0: m.w0}
	for r, t := range m.touched {
		if !t {
			continue
		}
		s.slots = append(s.slots, uint32(r))
		s.rows = append(s.rows, m.p[r*m.stride:][:m.stride]...)
		// Inputs are standardized by the statistics of their slot modulo 2^HashBits; a snapshot
		// keeps those of the first such slot, which is the only one when HashBits equals Bits.
		st := stats[r]
		s.mean, s.scale = append(s.mean, st.mean), append(s.scale, st.scale)
	}
	s.index()
	return s
}

func (s *fmScorer) index() bool {
	s.table = newSlotTable(len(s.slots))
	for i, slot := range s.slots {
		if !s.table.put(slot, int32(i)) {
			return false
		}
	}
	return true
}

func (s *fmScorer) inputs(in *input) {
	in.x = in.x[:0]
	for i, slot := range in.slots {
		var x float64
		if row := s.table.get(slot & s.mask); row >= 0 {
			x = inputValue(in.raw[i], in.numeric[i] && s.std, s.mean[row], s.scale[row])
		}
		in.x = append(in.x, x)
	}
}

func (s *fmScorer) margin(in *input) float64 {
	var sb, qb [maxFactors]float64
	sf, qf := sb[:s.k], qb[:s.k]
	lin := s.w0
	for i, slot := range in.slots {
		if row := s.table.get(slot & s.mask); row >= 0 {
			fmSums(s.k, s.rows[int(row)*s.stride:][:s.stride], in.x[i], &lin, sf, qf)
		}
	}
	return fmMargin(lin, sf, qf)
}

// contributions gives each feature its linear term plus half of each pairwise interaction it takes
// part in; with the bias they sum to the margin.
func (s *fmScorer) contributions(in *input, name func(i int) string) []Contribution {
	var sb, qb [maxFactors]float64
	sf, qf := sb[:s.k], qb[:s.k]
	lin := 0.0
	for i, slot := range in.slots {
		if row := s.table.get(slot & s.mask); row >= 0 {
			fmSums(s.k, s.rows[int(row)*s.stride:][:s.stride], in.x[i], &lin, sf, qf)
		}
	}
	out := []Contribution{{Feature: "(bias)", Value: 1, Weight: s.w0, Contribution: s.w0}}
	for i, slot := range in.slots {
		c := Contribution{Feature: name(i), Value: in.raw[i]}
		if row := s.table.get(slot & s.mask); row >= 0 {
			r, x := s.rows[int(row)*s.stride:][:s.stride], in.x[i]
			c.Weight = r[0]
			c.Contribution = r[0] * x
			for f := range s.k {
				c.Contribution += 0.5 * r[1+f] * x * (sf[f] - r[1+f]*x)
			}
		}
		out = append(out, c)
	}
	sort.SliceStable(out, func(i, j int) bool { return math.Abs(out[i].Contribution) > math.Abs(out[j].Contribution) })
	return out
}

func (s *fmScorer) encode(e *encoder) {
	e.f64(s.w0)
	e.u32(uint32(len(s.slots)))
	for i, slot := range s.slots {
		e.u32(slot)
		e.f64(s.mean[i])
		e.f64(s.scale[i])
		e.f64s(s.rows[i*s.stride:][:s.stride])
	}
}

func decodeFMScorer(spec Spec, d *decoder) familyScorer {
	k := spec.FM.Factors
	s := &fmScorer{k: k, stride: k + 1, mask: uint32(1)<<uint(spec.FM.Bits) - 1, std: spec.Standardize}
	s.w0 = d.f64()
	n := d.count(4 + 16 + 8*s.stride)
	for range n {
		slot := d.u32()
		if d.err == nil && slot > s.mask {
			d.fail(errSlotRange)
		}
		if d.err != nil {
			return s
		}
		s.slots = append(s.slots, slot)
		s.mean, s.scale = append(s.mean, d.f64()), append(s.scale, d.f64())
		for range s.stride {
			s.rows = append(s.rows, d.f64())
		}
	}
	if !finite(s.w0) {
		s.w0 = 0
	}
	for _, xs := range [][]float64{s.rows, s.mean, s.scale} {
		zeroNonFinite(xs)
	}
	for i, mean := range s.mean {
		if math.Abs(mean) > maxStat {
			s.mean[i], s.scale[i] = 0, 0
		}
	}
	if !s.index() {
		d.fail(errRepeatedSlot)
	}
	return s
}
