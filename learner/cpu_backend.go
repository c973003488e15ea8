package learner

import (
	"errors"
	"fmt"
)

// CPUBackend is the reference Backend: pure Go, one goroutine, the same update rules and summation
// order as Online, so that a batch of one example updates a model exactly as Online.Learn does.
type CPUBackend struct{}

var _ Backend = CPUBackend{}

// Name returns "cpu".
func (CPUBackend) Name() string { return "cpu" }

// NewModels allocates the state of shape.Models models in host memory.
func (CPUBackend) NewModels(shape Shape, hyper []Hyper) (Models, error) {
	if err := shape.Validate(hyper); err != nil {
		return nil, fmt.Errorf("cpu backend: %w", err)
	}
	m := &cpuModels{
		shape: shape,
		opt:   optimizerOf(shape.Optimizer),
		hyper: append([]Hyper(nil), hyper...),
		mark:  make([]bool, shape.Dim),
	}
	for range shape.Models {
		m.c = append(m.c, make([]cpuCoord, (shape.Dim+1)*shape.Outputs))
	}
	return m, nil
}

// cpuCoord is a coordinate's state with its pending gradient g: one cache line holds all that a
// step reads and writes.
type cpuCoord struct{ z, s, w, g float64 }

type cpuModels struct {
	shape   Shape
	opt     optimizer
	hyper   []Hyper
	c       [][]cpuCoord // per model, indexed slot*Outputs+o, the bias at slot Dim
	touched []int32      // columns with a pending gradient, in order of first appearance
	mark    []bool       // whether a column is in touched
	pending int          // rows in the pending gradient
	seen    int64        // rows applied
	grad    []float64    // Step's loss gradients, so that out keeps the outputs
	skipped int64        // coordinate updates left out because they would have made the state non-finite
	closed  bool
}

var (
	_ Stepper        = (*cpuModels)(nil)
	_ StatefulModels = (*cpuModels)(nil)
	_ RowWeighter    = (*cpuModels)(nil)
)

func (m *cpuModels) State(k int, z, s, w []float64) error {
	if err := m.checkModel(k, z, s, w); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	for i, c := range m.c[k] {
		z[i], s[i], w[i] = c.z, c.s, c.w
	}
	return nil
}

func (m *cpuModels) SetState(k int, z, s, w []float64, seen int64) error {
	if err := m.checkModel(k, z, s, w); err != nil {
		return fmt.Errorf("set state: %w", err)
	}
	if m.pending > 0 {
		return errors.New("set state: gradients are pending")
	}
	for i := range m.c[k] {
		m.c[k][i] = cpuCoord{z: z[i], s: s[i], w: w[i]}
	}
	m.seen = seen
	return nil
}

func (m *cpuModels) checkModel(k int, vs ...[]float64) error {
	if m.closed {
		return errClosed
	}
	if k < 0 || k >= len(m.c) {
		return fmt.Errorf("no model %d", k)
	}
	for _, v := range vs {
		if len(v) != len(m.c[k]) {
			return fmt.Errorf("model %d into %d values", k, len(v))
		}
	}
	return nil
}

// Step is Forward, Gradient and Update; it is done when it returns.
func (m *cpuModels) Step(b *Batch, out []float64) (func() error, error) {
	if err := m.Forward(b, out); err != nil {
		return nil, err
	}
	n := m.shape.Models * b.Rows * m.shape.Outputs
	m.grad = append(m.grad[:0], out[:n]...)
	if err := m.Gradient(b, m.grad); err != nil {
		return nil, err
	}
	if err := m.Update(); err != nil {
		return nil, err
	}
	return func() error { return nil }, nil
}

func (m *cpuModels) Shape() Shape { return m.shape }

func (m *cpuModels) Close() error {
	m.closed, m.c = true, nil
	return nil
}

var errClosed = errors.New("models are closed")

func (m *cpuModels) Forward(b *Batch, out []float64) error {
	if m.closed {
		return errClosed
	}
	if err := b.Check(m.shape, out); err != nil {
		return fmt.Errorf("forward: %w", err)
	}
	nout, bias := m.shape.Outputs, m.shape.Dim*m.shape.Outputs
	for k, c := range m.c {
		for r := range b.Rows {
			o := out[(k*b.Rows+r)*nout:][:nout]
			cols, vals := b.row(r)
			if nout == 1 {
				o[0] = forward1(c, bias, cols, vals)
			} else {
				forwardN(c, bias, cols, vals, o)
			}
			m.link(o)
		}
	}
	return nil
}

// forward1 is the margin of one row for a single output; cols is nil for a dense row.
func forward1(c []cpuCoord, bias int, cols []int32, vals []float64) float64 {
	m := c[bias].w
	if cols == nil {
		for j, v := range vals {
			m += c[j].w * v
		}
		return m
	}
	for i, col := range cols {
		m += c[col].w * vals[i]
	}
	return m
}

// forwardN writes the margins of one row into o.
func forwardN(c []cpuCoord, bias int, cols []int32, vals []float64, o []float64) {
	nout := len(o)
	for j := range o {
		o[j] = c[bias+j].w
	}
	for i, v := range vals {
		col := i
		if cols != nil {
			col = int(cols[i])
		}
		row := c[col*nout:][:nout]
		for j := range o {
			o[j] += row[j].w * v
		}
	}
}

// row returns the columns (nil for dense: columns are positions) and values of row r.
func (b *Batch) row(r int) ([]int32, []float64) {
	if b.Width > 0 {
		return nil, b.Dense[r*b.Width : (r+1)*b.Width]
	}
	lo, hi := b.RowPtr[r], b.RowPtr[r+1]
	return b.Cols[lo:hi], b.Vals[lo:hi]
}

// link turns margins into outputs in place.
func (m *cpuModels) link(o []float64) {
	switch m.shape.Objective {
	case Logistic:
		o[0] = sigmoid(o[0])
	case Softmax:
		softmax(o, o)
	}
}

func (m *cpuModels) Gradient(b *Batch, out []float64) error {
	if m.closed {
		return errClosed
	}
	if err := b.Check(m.shape, out); err != nil {
		return fmt.Errorf("gradient: %w", err)
	}
	nout, bias := m.shape.Outputs, m.shape.Dim*m.shape.Outputs
	m.markTouched(b)
	for k, c := range m.c {
		for r := range b.Rows {
			d := out[(k*b.Rows+r)*nout:][:nout]
			if err := m.dloss(d, b.Labels[r]); err != nil {
				return fmt.Errorf("gradient: row %d: %w", r, err)
			}
			cols, vals := b.row(r)
			if nout == 1 {
				accumulate1(c, bias, cols, vals, d[0])
				continue
			}
			for j, dj := range d {
				c[bias+j].g += dj
			}
			for i, v := range vals {
				col := i
				if cols != nil {
					col = int(cols[i])
				}
				row := c[col*nout:][:nout]
				for j, dj := range d {
					row[j].g += dj * v
				}
			}
		}
	}
	m.pending += b.Rows
	return nil
}

// accumulate1 adds the gradient of one row, with loss gradient d, to a single-output model.
func accumulate1(c []cpuCoord, bias int, cols []int32, vals []float64, d float64) {
	c[bias].g += d
	if cols == nil {
		for j, v := range vals {
			c[j].g += d * v
		}
		return
	}
	for i, col := range cols {
		c[col].g += d * vals[i]
	}
}

// markTouched records the columns of b, in order of first appearance.
func (m *cpuModels) markTouched(b *Batch) {
	if b.Width > 0 {
		for col := range b.Width {
			if !m.mark[col] {
				m.mark[col] = true
				m.touched = append(m.touched, int32(col))
			}
		}
		return
	}
	for _, col := range b.Cols {
		if !m.mark[col] {
			m.mark[col] = true
			m.touched = append(m.touched, col)
		}
	}
}

// dloss replaces outputs o by the loss gradient with respect to the margins for label y.
func (m *cpuModels) dloss(o []float64, y float64) error {
	switch m.shape.Objective {
	case Logistic:
		o[0] = dloss(logistic, o[0], y, 0)
	case Squared:
		o[0] = dloss(squared, o[0], y, 0)
	case Huber:
		o[0] = dloss(huber, o[0], y, m.shape.HuberDelta)
	case Softmax:
		c := int(y)
		if float64(c) != y || c < 0 || c >= len(o) {
			return fmt.Errorf("class %v out of range", y)
		}
		o[c]--
	}
	return nil
}

func (m *cpuModels) Update() error {
	if m.closed {
		return errClosed
	}
	if m.pending == 0 {
		return nil
	}
	nout, bias := m.shape.Outputs, m.shape.Dim*m.shape.Outputs
	for k, c := range m.c {
		h := &m.hyper[k]
		l1, l2 := regularization(m.opt, h, m.seen, m.pending)
		rb, r := ruleOf(m.opt, h, 0, 0), ruleOf(m.opt, h, l1, l2)
		for j := range nout {
			m.apply(&c[bias+j], &rb)
		}
		if nout == 1 && m.opt == ftrl {
			for _, col := range m.touched {
				if x := &c[col]; x.g != 0 {
					z, s, w := r.ftrl(x.z, x.s, x.w, x.g)
					if finiteState(z, s, w) {
						x.z, x.s, x.w = z, s, w
					} else {
						m.skipped++
					}
					x.g = 0
				}
			}
			continue
		}
		for _, col := range m.touched {
			for j := range nout {
				if x := &c[int(col)*nout+j]; x.g != 0 {
					m.apply(x, &r)
				}
			}
		}
	}
	for _, col := range m.touched {
		m.mark[col] = false
	}
	m.touched = m.touched[:0]
	m.seen += int64(m.pending)
	m.pending = 0
	return nil
}

// apply steps x with its pending gradient under r, unless that would make its state non-finite,
// and clears the gradient.
func (m *cpuModels) apply(x *cpuCoord, r *rule) {
	c := coord{z: x.z, s: x.s, w: x.w}
	if r.step(&c, x.g) {
		x.z, x.s, x.w = c.z, c.s, c.w
	} else {
		m.skipped++
	}
	x.g = 0
}

// Skipped is the number of coordinate updates left out because they would have made the state
// non-finite.
func (m *cpuModels) Skipped() int64 { return m.skipped }

func (m *cpuModels) Weights(k int, dst []float64) error {
	if m.closed {
		return errClosed
	}
	if k < 0 || k >= len(m.c) || len(dst) != len(m.c[k]) {
		return fmt.Errorf("weights: model %d into %d values", k, len(dst))
	}
	for i, c := range m.c[k] {
		dst[i] = c.w
	}
	return nil
}

func (m *cpuModels) RowWeights(k int, cols []uint32, dst []float64) error {
	if m.closed {
		return errClosed
	}
	nout := m.shape.Outputs
	if k < 0 || k >= len(m.c) || len(dst) != (len(cols)+1)*nout {
		return fmt.Errorf("row weights: model %d, %d columns into %d values", k, len(cols), len(dst))
	}
	c := m.c[k]
	for i, col := range cols {
		if int(col) >= m.shape.Dim {
			return fmt.Errorf("row weights: column %d out of range", col)
		}
		for j, x := range c[int(col)*nout:][:nout] {
			dst[i*nout+j] = x.w
		}
	}
	for j, x := range c[m.shape.Dim*nout:][:nout] {
		dst[len(cols)*nout+j] = x.w
	}
	return nil
}
