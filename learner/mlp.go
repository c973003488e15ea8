package learner

import "math"

// maxHidden bounds a hidden layer's width, so that activations fit in arrays on the stack.
const maxHidden = 256

// Adam's decay rates and epsilon (Kingma and Ba 2015).
const (
	adamBeta1 = 0.9
	adamBeta2 = 0.999
	adamEps   = 1e-8
)

// mlp is a multilayer perceptron with 1 or 2 tanh hidden layers and a logistic output over 2^Bits
// sparse input rows, learned with Adam. The first layer is sparse: a row (one input slot's weights
// into the first hidden layer) starts at deterministic noise the first time an example with that
// slot is learned, and only rows in a batch are updated (lazy Adam). The other layers are dense
// and start at deterministic noise.
type mlp struct {
	h1, h2 int // widths; h2 is 0 for one hidden layer
	mask   uint32
	lr, l2 float64
	seed   uint64
	std    bool

	w1, m1, v1 []float64 // per slot row*h1, with Adam's moments
	touched    []bool
	d, dm, dv  []float64 // dense parameters (layout in mlpLayout), with Adam's moments
	step       int64     // Adam steps taken

	// pending minibatch gradients
	g1   []float64
	gd   []float64
	rows []uint32
	mark []bool
	n    int
	skip int64
	// scratch for one example
	a1, a2 []float64
}

// mlpLayout gives the offsets of the dense parameters: b1 [h1], w2 [h1*h2] (j*h2+l), b2 [h2], wo
// [last], bo.
type mlpLayout struct{ b1, w2, b2, wo, bo, size, last int }

func layoutOf(h1, h2 int) mlpLayout {
	l := mlpLayout{b1: 0, w2: h1, last: h1}
	l.b2 = l.w2 + h1*h2
	l.wo = l.b2 + h2
	if h2 > 0 {
		l.last = h2
	}
	l.bo = l.wo + l.last
	l.size = l.bo + 1
	return l
}

func newMLP(spec Spec) *mlp {
	h1, h2 := spec.MLP.Hidden[0], 0
	if len(spec.MLP.Hidden) > 1 {
		h2 = spec.MLP.Hidden[1]
	}
	dim := 1 << uint(spec.MLP.Bits)
	l := layoutOf(h1, h2)
	m := &mlp{
		h1: h1, h2: h2, mask: uint32(dim - 1), lr: spec.MLP.LearningRate, l2: spec.MLP.L2, seed: spec.Tree.Seed,
		std: spec.Standardize,
		w1:  make([]float64, dim*h1), m1: make([]float64, dim*h1), v1: make([]float64, dim*h1), g1: make([]float64, dim*h1),
		touched: make([]bool, dim), mark: make([]bool, dim),
		d: make([]float64, l.size), dm: make([]float64, l.size), dv: make([]float64, l.size), gd: make([]float64, l.size),
		a1: make([]float64, h1), a2: make([]float64, h2),
	}
	// Glorot-uniform initial weights for the dense layers; biases start at zero.
	if h2 > 0 {
		r := math.Sqrt(6 / float64(h1+h2))
		for i := range h1 * h2 {
			m.d[l.w2+i] = r * noise(m.seed, uint32(i), -2)
		}
	}
	r := math.Sqrt(6 / float64(l.last+1))
	for i := range l.last {
		m.d[l.wo+i] = r * noise(m.seed, uint32(i), -3)
	}
	return m
}

// mlpForward computes the activations of an input into a1 (and a2) and returns the margin. row
// returns the first-layer row of input i, or nil for an untouched slot.
func mlpForward(l mlpLayout, h1, h2 int, d []float64, in *input, row func(i int) []float64, a1, a2 []float64) float64 {
	copy(a1, d[l.b1:l.b1+h1])
	for i := range in.slots {
		if w := row(i); w != nil {
			x := in.x[i]
			for j, wj := range w {
				a1[j] += x * wj
			}
		}
	}
	for j, z := range a1 {
		a1[j] = math.Tanh(z)
	}
	last := a1
	if h2 > 0 {
		copy(a2, d[l.b2:l.b2+h2])
		for j, a := range a1 {
			w := d[l.w2+j*h2:][:h2]
			for k, wk := range w {
				a2[k] += a * wk
			}
		}
		for k, z := range a2 {
			a2[k] = math.Tanh(z)
		}
		last = a2
	}
	m := d[l.bo]
	for j, a := range last {
		m += a * d[l.wo+j]
	}
	return m
}

func (m *mlp) layout() mlpLayout { return layoutOf(m.h1, m.h2) }

func (m *mlp) row(in *input) func(i int) []float64 {
	return func(i int) []float64 {
		r := in.slots[i] & m.mask
		if !m.touched[r] {
			return nil
		}
		return m.w1[int(r)*m.h1:][:m.h1]
	}
}

func (m *mlp) margin(in *input) float64 {
	return mlpForward(m.layout(), m.h1, m.h2, m.d, in, m.row(in), m.a1, m.a2)
}

// accumulate adds the gradient of one example to the pending gradient, after giving its new slots
// their first-layer rows.
func (m *mlp) accumulate(in *input, y float64) {
	for _, slot := range in.slots {
		r := slot & m.mask
		if !m.touched[r] {
			m.touched[r] = true
			m.initRow(in, r, m.w1[int(r)*m.h1:][:m.h1])
		}
	}
	l := m.layout()
	g := sigmoid(saneMargin(m.margin(in))) - y
	last := m.a1
	if m.h2 > 0 {
		last = m.a2
	}
	m.gd[l.bo] += g
	var dlast [maxHidden]float64
	for j, a := range last {
		m.gd[l.wo+j] += g * a
		dlast[j] = g * m.d[l.wo+j] * (1 - a*a)
	}
	var d1b [maxHidden]float64
	d1 := d1b[:m.h1]
	if m.h2 > 0 {
		for k := range m.h2 {
			m.gd[l.b2+k] += dlast[k]
		}
		for j, a := range m.a1 {
			w, gw := m.d[l.w2+j*m.h2:][:m.h2], m.gd[l.w2+j*m.h2:][:m.h2]
			var s float64
			for k := range m.h2 {
				gw[k] += a * dlast[k]
				s += w[k] * dlast[k]
			}
			d1[j] = s * (1 - a*a)
		}
	} else {
		copy(d1, dlast[:m.h1])
	}
	for j := range m.h1 {
		m.gd[l.b1+j] += d1[j]
	}
	for i, slot := range in.slots {
		r := slot & m.mask
		x, gr := in.x[i], m.g1[int(r)*m.h1:][:m.h1]
		for j := range gr {
			gr[j] += x * d1[j]
		}
		if !m.mark[r] {
			m.mark[r] = true
			m.rows = append(m.rows, r)
		}
	}
	m.n++
}

// initRow writes the initial first-layer weights of slot r, first learned with input in, into row:
// deterministic noise scaled by the inputs of in.
func (m *mlp) initRow(in *input, r uint32, row []float64) {
	scale := 1 / math.Sqrt(float64(max(len(in.slots), 1)))
	for j := range row {
		row[j] = scale * noise(m.seed, r, j)
	}
}

// touch marks the untouched slots of in as touched and appends them to fresh and their initial
// rows to init, for a model on a device.
func (m *mlp) touch(in *input, fresh []int32, init []float64) ([]int32, []float64) {
	for _, slot := range in.slots {
		r := slot & m.mask
		if !m.touched[r] {
			m.touched[r] = true
			fresh = append(fresh, int32(r))
			n := len(init)
			init = append(init, make([]float64, m.h1)...)
			m.initRow(in, r, init[n:])
		}
	}
	return fresh, init
}

// apply takes one Adam step with the mean pending gradient and clears it.
func (m *mlp) apply() {
	if m.n == 0 {
		return
	}
	m.step++
	inv := 1 / float64(m.n)
	c1 := 1 - math.Pow(adamBeta1, float64(m.step))
	c2 := 1 - math.Pow(adamBeta2, float64(m.step))
	for i := range m.d {
		m.adam(&m.d[i], &m.dm[i], &m.dv[i], m.gd[i]*inv, c1, c2)
		m.gd[i] = 0
	}
	for _, r := range m.rows {
		off := int(r) * m.h1
		for j := off; j < off+m.h1; j++ {
			m.adam(&m.w1[j], &m.m1[j], &m.v1[j], m.g1[j]*inv+m.l2*m.w1[j], c1, c2)
			m.g1[j] = 0
		}
		m.mark[r] = false
	}
	m.rows, m.n = m.rows[:0], 0
}

// adam is one Adam step of weight w with moments mo and v; a step that would make any of them
// non-finite is left out.
func (m *mlp) adam(w, mo, v *float64, g, c1, c2 float64) {
	if g == 0 && *mo == 0 {
		return
	}
	m2 := adamBeta1**mo + (1-adamBeta1)*g
	v2 := adamBeta2**v + (1-adamBeta2)*g*g
	w2 := *w - m.lr*(m2/c1)/(math.Sqrt(v2/c2)+adamEps)
	if !finite(m2) || !finite(v2) || !finite(w2) {
		m.skip++
		return
	}
	*w, *mo, *v = w2, m2, v2
}

func (m *mlp) learn(in *input, y float64) {
	m.accumulate(in, y)
	m.apply()
}

func (m *mlp) learnBatch(ins []*input, ys []float64) {
	for i, in := range ins {
		m.accumulate(in, ys[i])
	}
	m.apply()
}

func (m *mlp) skipped() int64 { return m.skip }

func (m *mlp) encode(e *encoder) {
	e.u64(uint64(m.skip))
	e.u64(uint64(m.step))
	e.f64s(m.d)
	e.f64s(m.dm)
	e.f64s(m.dv)
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
			e.f64s(m.w1[r*m.h1:][:m.h1])
			e.f64s(m.m1[r*m.h1:][:m.h1])
			e.f64s(m.v1[r*m.h1:][:m.h1])
		}
	}
}

func (m *mlp) decode(d *decoder) {
	m.skip = int64(d.u64())
	m.step = int64(d.u64())
	d.f64s(m.d)
	d.f64s(m.dm)
	d.f64s(m.dv)
	n := d.count(4 + 24*m.h1)
	for range n {
		r := d.u32()
		if d.err == nil && r > m.mask {
			d.fail(errSlotRange)
		}
		if d.err != nil {
			return
		}
		m.touched[r] = true
		d.f64s(m.w1[int(r)*m.h1:][:m.h1])
		d.f64s(m.m1[int(r)*m.h1:][:m.h1])
		d.f64s(m.v1[int(r)*m.h1:][:m.h1])
	}
	for _, xs := range [][]float64{m.d, m.dm, m.dv, m.w1, m.m1, m.v1} {
		zeroNonFinite(xs)
	}
}

// mlpScorer is an MLP's serving copy: the dense layers, and the touched first-layer rows with the
// standardization of each slot.
type mlpScorer struct {
	h1, h2      int
	mask        uint32
	std         bool
	d           []float64
	slots       []uint32
	w1          []float64 // per slot row*h1
	mean, scale []float64
	table       slotTable
}

func (m *mlp) scorer(stats []moments) familyScorer {
	s := &mlpScorer{h1: m.h1, h2: m.h2, mask: m.mask, std: m.std, d: append([]float64(nil), m.d...)}
	for r, t := range m.touched {
		if t {
			s.slots = append(s.slots, uint32(r))
			s.w1 = append(s.w1, m.w1[r*m.h1:][:m.h1]...)
			s.mean, s.scale = append(s.mean, stats[r].mean), append(s.scale, stats[r].scale)
		}
	}
	s.index()
	return s
}

func (s *mlpScorer) index() bool {
	s.table = newSlotTable(len(s.slots))
	for i, slot := range s.slots {
		if !s.table.put(slot, int32(i)) {
			return false
		}
	}
	return true
}

func (s *mlpScorer) inputs(in *input) {
	in.x = in.x[:0]
	for i, slot := range in.slots {
		var x float64
		if row := s.table.get(slot & s.mask); row >= 0 {
			x = inputValue(in.raw[i], in.numeric[i] && s.std, s.mean[row], s.scale[row])
		}
		in.x = append(in.x, x)
	}
}

func (s *mlpScorer) margin(in *input) float64 {
	var a1, a2 [maxHidden]float64
	row := func(i int) []float64 {
		r := s.table.get(in.slots[i] & s.mask)
		if r < 0 {
			return nil
		}
		return s.w1[int(r)*s.h1:][:s.h1]
	}
	return mlpForward(layoutOf(s.h1, s.h2), s.h1, s.h2, s.d, in, row, a1[:s.h1], a2[:s.h2])
}

func (s *mlpScorer) encode(e *encoder) {
	e.f64s(s.d)
	e.u32(uint32(len(s.slots)))
	for i, slot := range s.slots {
		e.u32(slot)
		e.f64(s.mean[i])
		e.f64(s.scale[i])
		e.f64s(s.w1[i*s.h1:][:s.h1])
	}
}

func decodeMLPScorer(spec Spec, d *decoder) familyScorer {
	h1, h2 := spec.MLP.Hidden[0], 0
	if len(spec.MLP.Hidden) > 1 {
		h2 = spec.MLP.Hidden[1]
	}
	s := &mlpScorer{h1: h1, h2: h2, mask: uint32(1)<<uint(spec.MLP.Bits) - 1, std: spec.Standardize}
	s.d = make([]float64, layoutOf(h1, h2).size)
	d.f64s(s.d)
	n := d.count(4 + 16 + 8*h1)
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
		for range h1 {
			s.w1 = append(s.w1, d.f64())
		}
	}
	for _, xs := range [][]float64{s.d, s.w1, s.mean, s.scale} {
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
