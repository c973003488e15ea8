package cuda

import (
	"errors"
	"fmt"
	"math"
	"unsafe"

	"github.com/streamlearn/streamlearn/learner"
)

var (
	_ learner.FamilyBackend = (*Backend)(nil)
	_ learner.FamilyModel   = (*familyModel)(nil)
)

// Adam's constants as the CPU model computes them (learner/mlp.go), so that the kernels get the
// same numbers: 1-0.9 in Go's exact constant arithmetic is the double nearest 0.1, which 1.0-0.9 in
// double precision is not.
const (
	adamBeta1 = 0.9
	adamBeta2 = 0.999
	adamEps   = 1e-8
)

// NewFamilyModel allocates an FM or MLP in device memory, zeroed.
func (b *Backend) NewFamilyModel(shape learner.FamilyShape) (learner.FamilyModel, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, errors.New("cuda backend: closed")
	}
	m, err := newFamilyModel(b.dev, shape)
	if err != nil {
		return nil, fmt.Errorf("cuda backend: %w", err)
	}
	b.live++
	m.onClose = func() {
		b.mu.Lock()
		b.live--
		b.mu.Unlock()
	}
	return m, nil
}

// familyModel is a learner.FamilyModel on a device (kernels/learner.cu, "Non-linear families").
//
// FM: P and A, the weights and AdaGrad's sums, are (Dim+1) rows of Stride = 1+factors values, slot r
// at row r (w, v_1..v_k), w0 and its sum at row Dim, column 0. MLP: W1, M1, V1 are the first layer
// and Adam's moments, Dim rows of h1; D, DM, DV the dense parameters (learner.MLPLayout) and theirs.
// skip counts left-out updates. Each call packs what it sends into one page-locked buffer, copies it
// in one go, queues the kernels on one stream and waits for them before it returns.
type familyModel struct {
	dev   device
	shape learner.FamilyShape
	lay   learner.MLPLayout
	s     stream
	done  event

	state []devPtr // FM: P, A; MLP: W1, M1, V1, D, DM, DV; then skip
	steps int64    // MLP: Adam steps taken

	stage          []byte // page-locked
	data           devPtr // device copy of stage
	dataCap        int
	work           devPtr // per-row scratch: sums, activations, gradients
	workCap        int
	pos            []int32 // per slot: 1 + its index in the batch's distinct slots, 0 for none
	trows, tptr    []int32
	tent, tex, cnt []int32

	onClose func()
	closed  bool
}

// stateSizes is the number of doubles of each state array.
func stateSizes(shape learner.FamilyShape) []int {
	if shape.Family == learner.FamilyFM {
		n := (shape.Dim + 1) * shape.Stride
		return []int{n, n}
	}
	n, d := shape.Dim*shape.Stride, shape.MLPLayout().Size
	return []int{n, n, n, d, d, d}
}

func newFamilyModel(dev device, shape learner.FamilyShape) (m *familyModel, err error) {
	if (shape.Family != learner.FamilyFM && shape.Family != learner.FamilyMLP) || shape.Dim < 1 || shape.Stride < 1 {
		return nil, fmt.Errorf("family model: shape %+v", shape)
	}
	m = &familyModel{dev: dev, shape: shape, lay: shape.MLPLayout(), pos: make([]int32, shape.Dim)}
	defer func() {
		if err != nil {
			m.release()
		}
	}()
	if m.s, err = dev.newStream(); err != nil {
		return nil, err
	}
	if m.done, err = dev.newEvent(); err != nil {
		return nil, err
	}
	for _, n := range append(stateSizes(shape), 1) {
		p, err := dev.alloc(n * 8)
		if err != nil {
			return nil, fmt.Errorf("allocate %s state of %d values: %w", shape.Family, n, err)
		}
		m.state = append(m.state, p)
		if err := dev.zero(p, n*8, m.s); err != nil {
			return nil, err
		}
	}
	return m, m.wait()
}

func (m *familyModel) skip() devPtr { return m.state[len(m.state)-1] }

func (m *familyModel) wait() error {
	if err := m.dev.record(m.done, m.s); err != nil {
		return err
	}
	return m.dev.synchronize(m.done)
}

// Close frees the model's device memory.
func (m *familyModel) Close() error {
	if m.closed {
		return nil
	}
	m.closed = true
	err := m.wait()
	m.release()
	if m.onClose != nil {
		m.onClose()
	}
	return err
}

func (m *familyModel) release() {
	for _, p := range append(m.state, m.data, m.work) {
		if p != 0 {
			m.dev.free(p)
		}
	}
	m.dev.freeHost(m.stage)
	m.state, m.data, m.work, m.stage = nil, 0, 0, nil
}

// check rejects a batch the kernels would misread.
func (m *familyModel) check(b *learner.Batch, out []float64) error {
	if m.closed {
		return errClosed
	}
	if b.Width > 0 {
		return errors.New("dense batches: the families' inputs are sparse")
	}
	if len(out) < b.Rows {
		return fmt.Errorf("%d rows, %d outputs", b.Rows, len(out))
	}
	return b.Check(learner.Shape{Models: 1, Dim: m.shape.Dim, Outputs: 1}, make([]float64, b.Rows))
}

// reserve grows the page-locked stage, its device copy and the scratch to hold what a call needs.
func (m *familyModel) reserve(stage, work int) error {
	if len(m.stage) < stage {
		if err := m.dev.freeHost(m.stage); err != nil {
			return err
		}
		m.stage = nil
		h, err := m.dev.allocHost(grown(stage))
		if err != nil {
			return fmt.Errorf("allocate %d bytes of page-locked memory: %w", grown(stage), err)
		}
		m.stage = h
	}
	for _, b := range []struct {
		p    *devPtr
		c    *int
		need int
	}{{&m.data, &m.dataCap, stage}, {&m.work, &m.workCap, work}} {
		if *b.c >= b.need {
			continue
		}
		if *b.p != 0 {
			if err := m.dev.free(*b.p); err != nil {
				return err
			}
		}
		*b.p, *b.c = 0, 0
		p, err := m.dev.alloc(grown(b.need))
		if err != nil {
			return fmt.Errorf("allocate %d bytes on the device: %w", grown(b.need), err)
		}
		*b.p, *b.c = p, grown(b.need)
	}
	return nil
}

// packing is where the parts of one call's upload lie in the stage (and in its device copy), in
// bytes: doubles first, then 32-bit integers, so that all are aligned; out is room for downloads.
type packing struct {
	vals, labels, init, hyper, out                     int
	rowptr, cols, fresh, trows, tptr, tent, tex, dense int
	size                                               int
}

// pack lays out and copies b, the fresh rows, the update constants and, when learning, the batch
// by slot into the stage, and queues its copy to the device.
func (m *familyModel) pack(b *learner.Batch, learn bool, fresh []int32, init, hyper []float64, out int) (packing, error) {
	var p packing
	off := 0
	next := func(n, size int) int { o := off; off += n * size; return o }
	nnz, T := len(b.Cols), 0
	if learn {
		m.bySlot(b)
		T = len(m.trows)
	}
	p.vals, p.labels, p.init, p.hyper = next(nnz, 8), next(b.Rows, 8), next(len(init), 8), next(len(hyper), 8)
	p.out = next(out, 8)
	p.rowptr, p.cols, p.fresh = next(b.Rows+1, 4), next(nnz, 4), next(len(fresh), 4)
	p.trows, p.tptr, p.tent, p.tex, p.dense = next(T, 4), next(T+1, 4), next(nnz, 4), next(nnz, 4), next(5, 4)
	p.size = off
	if err := m.reserve(p.size, m.workSize(b.Rows)); err != nil {
		return p, err
	}
	st := m.stage
	copy(floats(st[p.vals:], nnz), b.Vals)
	copy(floats(st[p.labels:], b.Rows), b.Labels)
	copy(floats(st[p.init:], len(init)), init)
	copy(floats(st[p.hyper:], len(hyper)), hyper)
	copy(int32s(st[p.rowptr:], b.Rows+1), b.RowPtr)
	copy(int32s(st[p.cols:], nnz), b.Cols)
	copy(int32s(st[p.fresh:], len(fresh)), fresh)
	if learn {
		copy(int32s(st[p.trows:], T), m.trows)
		copy(int32s(st[p.tptr:], T+1), m.tptr)
		copy(int32s(st[p.tent:], nnz), m.tent)
		copy(int32s(st[p.tex:], nnz), m.tex)
	}
	l := m.lay
	copy(int32s(st[p.dense:], 5), []int32{int32(l.B1), int32(l.W2), int32(l.B2), int32(l.Wo), int32(l.Bo)})
	return p, m.dev.upload(m.data, st[:p.size], m.s)
}

// bySlot lists the distinct slots of b in order of first appearance (trows) and, for the j-th, the
// entries that name it, tent[tptr[j]:tptr[j+1]], with their rows in tex, in batch order.
func (m *familyModel) bySlot(b *learner.Batch) {
	m.trows, m.cnt = m.trows[:0], m.cnt[:0]
	for _, c := range b.Cols {
		if m.pos[c] == 0 {
			m.trows, m.cnt = append(m.trows, c), append(m.cnt, 0)
			m.pos[c] = int32(len(m.trows))
		}
		m.cnt[m.pos[c]-1]++
	}
	m.tptr = append(m.tptr[:0], 0)
	for j, n := range m.cnt {
		m.tptr = append(m.tptr, m.tptr[j]+n)
		m.cnt[j] = m.tptr[j] // from here on, where slot j's next entry goes
	}
	m.tent, m.tex = grow32(m.tent, len(b.Cols)), grow32(m.tex, len(b.Cols))
	for r := range b.Rows {
		for i := b.RowPtr[r]; i < b.RowPtr[r+1]; i++ {
			j := m.pos[b.Cols[i]] - 1
			m.tent[m.cnt[j]], m.tex[m.cnt[j]] = i, int32(r)
			m.cnt[j]++
		}
	}
	for _, c := range m.trows {
		m.pos[c] = 0
	}
}

func grow32(s []int32, n int) []int32 {
	if cap(s) < n {
		return make([]int32, n)
	}
	return s[:n]
}

// workSize is the scratch a batch of rows needs, in bytes (see scratch).
func (m *familyModel) workSize(rows int) int {
	w := m.scratch(rows)
	return w.size * 8
}

// scratchLayout is where the per-row values of a batch lie in the scratch, in doubles.
type scratchLayout struct {
	x, q, a1, a2, mg, g, dl, d1, gw2, size int
}

func (m *familyModel) scratch(rows int) scratchLayout {
	var w scratchLayout
	off := 0
	next := func(n int) int { o := off; off += n; return o }
	w.mg, w.g = next(rows), next(rows)
	if m.shape.Family == learner.FamilyFM {
		w.x, w.q = next(rows*m.shape.Stride), next(rows*m.shape.Stride)
	} else {
		h1, h2 := m.shape.Hidden[0], m.shape.Hidden[1]
		w.a1, w.a2, w.dl = next(rows*h1), next(rows*h2), next(rows*m.lay.Last)
		w.d1, w.gw2 = next(rows*h1), next(h1*h2)
	}
	w.size = max(off, 1)
	return w
}

// at is the device address of the i-th double of the scratch.
func (m *familyModel) at(i int) devPtr { return m.work + devPtr(i*8) }

// Margins writes the margin of each row of b into out[:b.Rows].
func (m *familyModel) Margins(b *learner.Batch, out []float64) error {
	if err := m.check(b, out); err != nil {
		return fmt.Errorf("margins: %w", err)
	}
	if b.Rows == 0 {
		return nil
	}
	p, err := m.pack(b, false, nil, nil, nil, b.Rows)
	if err != nil {
		return fmt.Errorf("margins: %w", err)
	}
	w := m.scratch(b.Rows)
	err = errors.Join(
		m.forward(b.Rows, p, w, false),
		m.dev.download(m.stage[p.out:][:b.Rows*8], m.at(w.mg), m.s),
		m.wait(),
	)
	if err != nil {
		return fmt.Errorf("margins: %w", err)
	}
	copy(out, floats(m.stage[p.out:], b.Rows))
	return nil
}

// Learn takes one minibatch step on b, after setting the fresh rows to init; out, when not nil,
// receives the margins from before the step.
func (m *familyModel) Learn(b *learner.Batch, fresh []int32, init []float64, out []float64) error {
	if err := m.check(b, b.Labels); err != nil {
		return fmt.Errorf("learn: %w", err)
	}
	if out != nil && len(out) < b.Rows {
		return fmt.Errorf("learn: %d rows, %d outputs", b.Rows, len(out))
	}
	for r, y := range b.Labels {
		if !(y >= 0 && y <= 1) {
			return fmt.Errorf("learn: row %d: label %v outside [0, 1]", r, y)
		}
	}
	if len(init) != len(fresh)*m.shape.Stride {
		return fmt.Errorf("learn: %d initial values for %d rows of %d", len(init), len(fresh), m.shape.Stride)
	}
	for _, r := range fresh {
		if r < 0 || int(r) >= m.shape.Dim {
			return fmt.Errorf("learn: fresh row %d out of range", r)
		}
	}
	if b.Rows == 0 {
		return nil
	}
	var hyper []float64
	if m.shape.Family == learner.FamilyMLP {
		hyper = m.adamConstants(b.Rows)
	}
	nout := 0
	if out != nil {
		nout = b.Rows
	}
	p, err := m.pack(b, true, fresh, init, hyper, nout)
	if err != nil {
		return fmt.Errorf("learn: %w", err)
	}
	w := m.scratch(b.Rows)
	if out != nil { // the margins before the step, downloaded in stream order before they are overwritten
		err = errors.Join(m.forward(b.Rows, p, w, false), m.dev.download(m.stage[p.out:][:nout*8], m.at(w.mg), m.s))
	}
	if len(fresh) > 0 && err == nil {
		err = m.dev.launch("set_rows", blocks(len(init)), block, m.s,
			m.data+devPtr(p.fresh), int32(len(fresh)), int32(m.shape.Stride), m.data+devPtr(p.init), m.state[0])
	}
	if err == nil {
		err = m.forward(b.Rows, p, w, true)
	}
	if err == nil && m.shape.Family == learner.FamilyFM {
		err = m.fmUpdate(b.Rows, p, w)
	} else if err == nil {
		err = m.mlpUpdate(b.Rows, p, w)
	}
	if err = errors.Join(err, m.wait()); err != nil {
		return fmt.Errorf("learn: %w", err)
	}
	copy(out, floats(m.stage[p.out:], nout))
	return nil
}

// adamConstants counts an Adam step and returns its constants (ADAM_* in the kernels).
func (m *familyModel) adamConstants(rows int) []float64 {
	m.steps++
	c1 := 1 - math.Pow(adamBeta1, float64(m.steps))
	c2 := 1 - math.Pow(adamBeta2, float64(m.steps))
	return []float64{m.shape.LearningRate, m.shape.L2, adamBeta1, 1 - adamBeta1, adamBeta2, 1 - adamBeta2, adamEps,
		c1, c2, 1 / float64(rows)}
}

// forward queues the margins of the packed batch into the scratch and, with labels, their log-loss
// gradients (and, for the MLP, the activations and the gradients of the hidden layers).
func (m *familyModel) forward(rows int, p packing, w scratchLayout, labels bool) error {
	d, S := m.data, m.shape.Stride
	lab, g, dl := d+devPtr(p.labels), m.at(w.g), m.at(w.dl)
	if !labels {
		lab, g, dl = 0, 0, 0
	}
	if m.shape.Family == learner.FamilyFM {
		return errors.Join(
			m.dev.launch("fm_sums", blocks(rows*S), block, m.s, d+devPtr(p.rowptr), d+devPtr(p.cols), d+devPtr(p.vals),
				int32(rows), int32(S), m.state[0], int32(m.shape.Dim), m.at(w.x), m.at(w.q)),
			m.dev.launch("fm_margin", blocks(rows), block, m.s, m.at(w.x), m.at(w.q), int32(rows), int32(S), lab,
				m.at(w.mg), g),
		)
	}
	h1, h2, l, dn := m.shape.Hidden[0], m.shape.Hidden[1], m.lay, m.state[3]
	last := m.at(w.a1)
	err := m.dev.launch("mlp_hidden1", blocks(rows*h1), block, m.s, d+devPtr(p.rowptr), d+devPtr(p.cols),
		d+devPtr(p.vals), int32(rows), int32(h1), m.state[0], dn+devPtr(l.B1*8), m.at(w.a1))
	if h2 > 0 && err == nil {
		last = m.at(w.a2)
		err = m.dev.launch("mlp_hidden2", blocks(rows*h2), block, m.s, m.at(w.a1), int32(rows), int32(h1), int32(h2),
			dn+devPtr(l.W2*8), dn+devPtr(l.B2*8), last)
	}
	if err != nil {
		return err
	}
	return m.dev.launch("mlp_output", blocks(rows), block, m.s, last, int32(rows), int32(l.Last), dn+devPtr(l.Wo*8),
		dn+devPtr(l.Bo*8), lab, m.at(w.mg), g, dl)
}

// fmUpdate queues the FM's gradient and AdaGrad step over the packed batch's slots.
func (m *familyModel) fmUpdate(rows int, p packing, w scratchLayout) error {
	d, S, T := m.data, m.shape.Stride, len(m.trows)
	return m.dev.launch("fm_update", blocks((T+1)*S), block, m.s, d+devPtr(p.trows), d+devPtr(p.tptr),
		d+devPtr(p.tent), d+devPtr(p.tex), int32(T), d+devPtr(p.vals), int32(rows), int32(S), int32(m.shape.Dim),
		m.at(w.x), m.at(w.g), m.shape.LearningRate, m.shape.L2, m.state[0], m.state[1], m.skip())
}

// mlpUpdate queues the MLP's backward pass and Adam step: the second layer's gradient through GEMM,
// then the dense parameters, then the first layer's rows of the batch's slots.
func (m *familyModel) mlpUpdate(rows int, p packing, w scratchLayout) error {
	d, h1, h2, l, T := m.data, m.shape.Hidden[0], m.shape.Hidden[1], m.lay, len(m.trows)
	dn, d1, last := m.state[3], m.at(w.dl), m.at(w.a1)
	if h2 > 0 {
		d1, last = m.at(w.d1), m.at(w.a2)
		grid := dim3{uint32((h2 + 63) / 64), uint32((h1 + 63) / 64), 1}
		err := errors.Join(
			m.dev.launch("mlp_back1", blocks(rows*h1), block, m.s, m.at(w.a1), m.at(w.dl), int32(rows), int32(h1),
				int32(h2), dn+devPtr(l.W2*8), d1),
			// Gw2 = A1' Dl: one block along k, so that each sum runs over the rows in order, as on the CPU.
			m.dev.launch("gemm", grid, block, m.s, m.at(w.a1), int64(1), int64(h1), m.at(w.dl), int64(h2),
				m.at(w.gw2), int64(h2), devPtr(0), int32(h1), int32(h2), int32(rows), int32(0)),
		)
		if err != nil {
			return err
		}
	}
	gw2 := m.at(w.gw2)
	if h2 == 0 {
		gw2 = m.at(w.g) // not read: there is no second layer
	}
	hy := d + devPtr(p.hyper)
	return errors.Join(
		m.dev.launch("mlp_dense_update", blocks(l.Size), block, m.s, d+devPtr(p.dense), int32(l.Size), int32(rows),
			int32(h1), int32(h2), int32(l.Last), last, m.at(w.g), m.at(w.dl), d1, gw2, hy, dn, m.state[4], m.state[5], m.skip()),
		m.dev.launch("mlp_sparse_update", blocks(T*h1), block, m.s, d+devPtr(p.trows), d+devPtr(p.tptr),
			d+devPtr(p.tent), d+devPtr(p.tex), int32(T), d+devPtr(p.vals), int32(h1), d1, hy,
			m.state[0], m.state[1], m.state[2], m.skip()),
	)
}

// State copies the model's state into st.
func (m *familyModel) State(st *learner.FamilyState) error {
	if m.closed {
		return errClosed
	}
	if err := m.checkState(st); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	sizes, total := stateSizes(m.shape), 8
	for _, n := range sizes {
		total += n * 8
	}
	if err := m.reserve(total, 8); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	off, errs := 0, []error{}
	for i, n := range sizes {
		errs = append(errs, m.dev.download(m.stage[off:][:n*8], m.state[i], m.s))
		off += n * 8
	}
	errs = append(errs, m.dev.download(m.stage[off:][:8], m.skip(), m.s), m.wait())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	arrays, off := make([][]float64, len(sizes)), 0
	for i, n := range sizes {
		arrays[i] = floats(m.stage[off:], n)
		off += n * 8
	}
	st.Skipped = int64(*(*uint64)(unsafePointer(m.stage[off:])))
	if m.shape.Family == learner.FamilyFM {
		rows := m.shape.Dim * m.shape.Stride
		copy(st.Rows[0], arrays[0][:rows])
		copy(st.Rows[1], arrays[1][:rows])
		st.Dense[0][0], st.Dense[1][0] = arrays[0][rows], arrays[1][rows]
		return nil
	}
	for i := range 3 {
		copy(st.Rows[i], arrays[i])
		copy(st.Dense[i], arrays[3+i])
	}
	st.Steps = m.steps
	return nil
}

// SetState replaces the model's state with st.
func (m *familyModel) SetState(st *learner.FamilyState) error {
	if m.closed {
		return errClosed
	}
	if err := m.checkState(st); err != nil {
		return fmt.Errorf("set state: %w", err)
	}
	sizes := stateSizes(m.shape)
	var parts [][]float64
	if m.shape.Family == learner.FamilyFM {
		for i := range 2 {
			bias := make([]float64, m.shape.Stride)
			bias[0] = st.Dense[i][0]
			parts = append(parts, st.Rows[i], bias)
		}
	} else {
		parts = [][]float64{st.Rows[0], st.Rows[1], st.Rows[2], st.Dense[0], st.Dense[1], st.Dense[2]}
		m.steps = st.Steps
	}
	total := 8
	for _, n := range sizes {
		total += n * 8
	}
	if err := m.wait(); err != nil { // the stage may still be read by an earlier copy
		return fmt.Errorf("set state: %w", err)
	}
	if err := m.reserve(total, 8); err != nil {
		return fmt.Errorf("set state: %w", err)
	}
	off := 0
	for _, p := range parts {
		copy(floats(m.stage[off:], len(p)), p)
		off += len(p) * 8
	}
	*(*uint64)(unsafePointer(m.stage[off:])) = uint64(max(st.Skipped, 0))
	errs, off := []error{}, 0
	for i, n := range sizes {
		errs = append(errs, m.dev.upload(m.state[i], m.stage[off:][:n*8], m.s))
		off += n * 8
	}
	errs = append(errs, m.dev.upload(m.skip(), m.stage[off:][:8], m.s), m.wait())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("set state: %w", err)
	}
	return nil
}

func unsafePointer(b []byte) unsafe.Pointer { return unsafe.Pointer(&b[0]) }

// checkState verifies that st's slices have the sizes of the model's state.
func (m *familyModel) checkState(st *learner.FamilyState) error {
	n, d, arrays := m.shape.Dim*m.shape.Stride, m.shape.DenseSize(), 3
	if m.shape.Family == learner.FamilyFM {
		arrays = 2
	}
	for i := range arrays {
		if len(st.Rows[i]) != n || len(st.Dense[i]) != d {
			return fmt.Errorf("state array %d: %d and %d values, want %d and %d", i, len(st.Rows[i]), len(st.Dense[i]), n, d)
		}
	}
	return nil
}
