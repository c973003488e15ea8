package cuda

import (
	"errors"
	"fmt"
	"unsafe"

	"github.com/streamlearn/streamlearn/learner"
)

var (
	_ learner.Stepper        = (*models)(nil)
	_ learner.StatefulModels = (*models)(nil)
)

// models is learner.Models on a device. The state of the K models is four arrays (z, s, w and the
// pending gradient g) of Dim+1 rows by n = K*Outputs columns: one input slot of all K models is one
// contiguous row (see kernels/learner.cu).
//
// A batch travels in one copy: it is packed into page-locked host memory of a slot and copied to the
// slot's device buffer on the transfer stream, while the compute stream works. There are two slots,
// used in turn, so that batch i+1 is packed and copied while batch i computes (Step); a slot is
// reused only once the device is done with it. Buffers grow to the largest batch seen and are kept:
// steady-state training allocates nothing.
type models struct {
	dev        device
	shape      learner.Shape
	hyper      []learner.Hyper
	n          int      // columns: K*Outputs
	rows       int      // state rows: Dim+1, the bias last
	z, s, w, g devPtr   // state arrays, rows*n doubles each
	compute    stream   // kernels, in order
	transfer   stream   // host-to-device copies of batches
	idle       event    // recorded to wait for the compute stream
	slots      [2]*slot // double buffer
	next       int

	mark    []bool  // per state row: whether it is in touched
	touched []int32 // rows with a pending gradient, the bias excluded
	pending int     // rows in the pending gradient
	seen    int64   // rows applied by updates

	// The batch of the last Forward and its outputs stay on the device in their slot, so that the
	// Gradient that follows does not copy them again.
	last    *slot
	lastB   *learner.Batch
	lastOut *float64

	scratch    devPtr // for gathering one model's values
	scratchCap int
	host       []byte // page-locked, for downloads outside slots

	onClose func()
	closed  bool
}

// slot is one of the two buffers a batch travels in.
type slot struct {
	staging []byte // page-locked host copy of the packed batch
	data    devPtr // device copy of staging
	dataCap int
	m, p    devPtr // margins or loss gradients (rows x n); outputs, model-major as the host wants them
	mpCap   int    // bytes of m and of p
	out     []byte // page-locked outputs, downloaded from p
	lay     layout

	uploaded, done event
	used           bool

	deliver []float64 // where Step's outputs go, until delivered
	gen     uint64
}

// layout is where the parts of a packed batch lie in a slot's buffers, in bytes: doubles first, then
// 32-bit integers, so that all are aligned.
type layout struct {
	rows, width, nnz, nhyper, ntouched   int
	labels, hyper, vals, rowptr, cols, t int
	size                                 int
}

func newLayout(b *learner.Batch, nhyper, ntouched int) layout {
	l := layout{nhyper: nhyper, ntouched: ntouched}
	if b != nil {
		l.rows, l.width, l.nnz = b.Rows, b.Width, len(b.Cols)
	}
	values := l.nnz
	if l.width > 0 {
		values, l.nnz = l.rows*l.width, 0
	}
	off := 0
	next := func(n, size int) int { o := off; off += n * size; return o }
	l.labels = next(l.rows, 8)
	l.hyper = next(nhyper, 8)
	l.vals = next(values, 8)
	if l.width == 0 && b != nil {
		l.rowptr = next(l.rows+1, 4)
		l.cols = next(l.nnz, 4)
	}
	l.t = next(ntouched, 4)
	l.size = off
	return l
}

func newModels(dev device, shape learner.Shape, hyper []learner.Hyper) (m *models, err error) {
	m = &models{
		dev: dev, shape: shape, hyper: append([]learner.Hyper(nil), hyper...),
		n: shape.Models * shape.Outputs, rows: shape.Dim + 1,
		mark: make([]bool, shape.Dim),
	}
	defer func() {
		if err != nil {
			m.release()
		}
	}()
	if m.compute, err = dev.newStream(); err != nil {
		return nil, err
	}
	if m.transfer, err = dev.newStream(); err != nil {
		return nil, err
	}
	if m.idle, err = dev.newEvent(); err != nil {
		return nil, err
	}
	size := m.rows * m.n * 8
	for _, p := range []*devPtr{&m.z, &m.s, &m.w, &m.g} {
		if *p, err = dev.alloc(size); err != nil {
			return nil, fmt.Errorf("allocate %d models of %d x %d: %w", shape.Models, m.rows, shape.Outputs, err)
		}
		if err = dev.zero(*p, size, m.compute); err != nil {
			return nil, err
		}
	}
	for i := range m.slots {
		s := &slot{}
		if s.uploaded, err = dev.newEvent(); err != nil {
			return nil, err
		}
		if s.done, err = dev.newEvent(); err != nil {
			return nil, err
		}
		m.slots[i] = s
	}
	return m, m.drain()
}

func (m *models) Shape() learner.Shape { return m.shape }

var errClosed = errors.New("models are closed")

// Forward scores b with every model; it waits for the outputs.
func (m *models) Forward(b *learner.Batch, out []float64) error {
	if m.closed {
		return errClosed
	}
	if err := b.Check(m.shape, out); err != nil {
		return fmt.Errorf("forward: %w", err)
	}
	s, err := m.send(b, nil, nil)
	if err != nil {
		return fmt.Errorf("forward: %w", err)
	}
	if err := m.forward(s); err != nil {
		return fmt.Errorf("forward: %w", err)
	}
	if err := m.fetch(s, out); err != nil {
		return fmt.Errorf("forward: %w", err)
	}
	m.last, m.lastB, m.lastOut = s, b, unsafe.SliceData(out)
	return nil
}

// Gradient adds the loss gradients of b to the pending gradient. When b and out are those of the last
// Forward, the outputs already on the device are used; otherwise b and out are copied there.
func (m *models) Gradient(b *learner.Batch, out []float64) error {
	if m.closed {
		return errClosed
	}
	if err := b.Check(m.shape, out); err != nil {
		return fmt.Errorf("gradient: %w", err)
	}
	if err := m.checkLabels(b); err != nil {
		return fmt.Errorf("gradient: %w", err)
	}
	s := m.last
	if s == nil || m.lastB != b || m.lastOut != unsafe.SliceData(out) || s.lay.rows != b.Rows {
		var err error
		if s, err = m.send(b, nil, nil); err != nil {
			return fmt.Errorf("gradient: %w", err)
		}
		nout := m.shape.Models * b.Rows * m.shape.Outputs
		copy(floats(s.out, nout), out)
		if err := m.dev.upload(s.p, s.out[:nout*8], m.compute); err != nil {
			return fmt.Errorf("gradient: %w", err)
		}
	}
	m.markRows(b)
	if err := m.gradient(s); err != nil {
		return fmt.Errorf("gradient: %w", err)
	}
	m.pending += b.Rows
	if err := m.dev.record(s.done, m.compute); err != nil {
		return fmt.Errorf("gradient: %w", err)
	}
	return nil
}

// Update applies and clears the pending gradients. It does not wait for the device.
func (m *models) Update() error {
	if m.closed {
		return errClosed
	}
	if m.pending == 0 {
		return nil
	}
	s, err := m.send(nil, m.constants(), m.touched)
	if err != nil {
		return fmt.Errorf("update: %w", err)
	}
	if err := m.update(s); err != nil {
		return fmt.Errorf("update: %w", err)
	}
	if err := m.dev.record(s.done, m.compute); err != nil {
		return fmt.Errorf("update: %w", err)
	}
	m.applied()
	return nil
}

// Step is Forward, Gradient and Update of b in one trip to the device, without waiting for it: the
// returned wait blocks until the outputs (before the update) are in out. Batch i+1 may be stepped
// before batch i is waited for; its copy then overlaps batch i's kernels. Stepping a third batch
// delivers the outputs of the first, so that out of a step is always filled when its slot is reused.
func (m *models) Step(b *learner.Batch, out []float64) (wait func() error, err error) {
	if m.closed {
		return nil, errClosed
	}
	if err := b.Check(m.shape, out); err != nil {
		return nil, fmt.Errorf("step: %w", err)
	}
	if err := m.checkLabels(b); err != nil {
		return nil, fmt.Errorf("step: %w", err)
	}
	m.markRows(b)
	m.pending += b.Rows
	s, err := m.send(b, m.constants(), m.touched)
	if err != nil {
		return nil, fmt.Errorf("step: %w", err)
	}
	nout := m.shape.Models * b.Rows * m.shape.Outputs
	err = errors.Join(
		m.forward(s),
		m.dev.download(s.out[:nout*8], s.p, m.compute),
		m.gradient(s),
		m.update(s),
		m.dev.record(s.done, m.compute),
	)
	m.applied()
	if err != nil {
		return nil, fmt.Errorf("step: %w", err)
	}
	s.deliver = out[:nout]
	s.gen++
	gen := s.gen
	return func() error {
		if s.gen != gen || s.deliver == nil {
			return nil // delivered when the slot was reused
		}
		return m.deliver(s)
	}, nil
}

// Weights copies model k's weights into dst.
func (m *models) Weights(k int, dst []float64) error {
	return m.gather(m.w, k, dst)
}

// State copies model k's optimizer state: z (FTRL only), s and the weights w, each indexed as Weights.
func (m *models) State(k int, z, s, w []float64) error {
	return errors.Join(m.gather(m.z, k, z), m.gather(m.s, k, s), m.gather(m.w, k, w))
}

// SetState replaces model k's optimizer state, the inverse of State, and the count of examples applied.
func (m *models) SetState(k int, z, s, w []float64, seen int64) error {
	if m.pending > 0 {
		return errors.New("set state: gradients are pending")
	}
	m.seen = seen
	return errors.Join(m.scatter(z, k, m.z), m.scatter(s, k, m.s), m.scatter(w, k, m.w))
}

func (m *models) Close() error {
	if m.closed {
		return nil
	}
	m.closed = true
	err := m.drain()
	m.release()
	if m.onClose != nil {
		m.onClose()
	}
	return err
}

// release frees what newModels allocated; errors are ignored, as the memory is gone either way.
func (m *models) release() {
	for _, p := range []devPtr{m.z, m.s, m.w, m.g, m.scratch} {
		if p != 0 {
			m.dev.free(p)
		}
	}
	for _, s := range m.slots {
		if s == nil {
			continue
		}
		for _, p := range []devPtr{s.data, s.m, s.p} {
			if p != 0 {
				m.dev.free(p)
			}
		}
		m.dev.freeHost(s.staging)
		m.dev.freeHost(s.out)
	}
	m.dev.freeHost(m.host)
	m.z, m.s, m.w, m.g, m.scratch, m.host = 0, 0, 0, 0, 0, nil
	m.slots = [2]*slot{}
}

// drain waits until the compute stream has run everything queued.
func (m *models) drain() error {
	if err := m.dev.record(m.idle, m.compute); err != nil {
		return err
	}
	return m.dev.synchronize(m.idle)
}

// acquire returns the next slot once the device is done with it, delivering its outputs if a Step
// left them undelivered.
func (m *models) acquire() (*slot, error) {
	s := m.slots[m.next]
	m.next ^= 1
	if m.last == s {
		m.last = nil
	}
	if !s.used {
		s.used = true
		return s, nil
	}
	if s.deliver != nil {
		return s, m.deliver(s)
	}
	return s, m.dev.synchronize(s.done)
}

func (m *models) deliver(s *slot) error {
	if err := m.dev.synchronize(s.done); err != nil {
		return err
	}
	copy(s.deliver, floats(s.out, len(s.deliver)))
	s.deliver = nil
	return nil
}

// send packs b (nil for none), the update constants and the touched rows into a slot and queues their
// copy to the device, after which the compute stream may use them.
func (m *models) send(b *learner.Batch, hyper []float64, touched []int32) (*slot, error) {
	s, err := m.acquire()
	if err != nil {
		return nil, err
	}
	nt := 0
	if hyper != nil {
		nt = len(touched) + 1 // and the bias row
	}
	lay := newLayout(b, len(hyper), nt)
	if err := m.reserve(s, lay); err != nil {
		return nil, err
	}
	s.lay = lay
	st := s.staging
	copy(floats(st[lay.hyper:], len(hyper)), hyper)
	if b != nil {
		copy(floats(st[lay.labels:], b.Rows), b.Labels)
		if b.Width > 0 {
			copy(floats(st[lay.vals:], len(b.Dense)), b.Dense)
		} else {
			copy(floats(st[lay.vals:], len(b.Vals)), b.Vals)
			copy(int32s(st[lay.rowptr:], b.Rows+1), b.RowPtr)
			copy(int32s(st[lay.cols:], len(b.Cols)), b.Cols)
		}
	}
	if nt > 0 {
		t := int32s(st[lay.t:], nt)
		copy(t, touched)
		t[nt-1] = int32(m.shape.Dim)
	}
	return s, errors.Join(
		m.dev.upload(s.data, st[:lay.size], m.transfer),
		m.dev.record(s.uploaded, m.transfer),
		m.dev.wait(m.compute, s.uploaded),
	)
}

// reserve grows the slot's buffers to hold a batch of layout l.
func (m *models) reserve(s *slot, l layout) error {
	if len(s.staging) < l.size {
		if err := m.growHost(&s.staging, l.size); err != nil {
			return err
		}
	}
	if s.dataCap < l.size {
		if err := m.growDev(&s.data, &s.dataCap, l.size); err != nil {
			return err
		}
	}
	mp := l.rows * m.n * 8
	if s.mpCap < mp {
		c := s.mpCap
		if err := m.growDev(&s.m, &c, mp); err != nil {
			return err
		}
		if err := m.growDev(&s.p, &s.mpCap, mp); err != nil {
			return err
		}
	}
	if len(s.out) < mp {
		return m.growHost(&s.out, mp)
	}
	return nil
}

// grown is the capacity kept for a need of n bytes: the next power of two, so that a stream of
// growing batches reallocates a logarithmic number of times.
func grown(n int) int {
	c := 4096
	for c < n {
		c *= 2
	}
	return c
}

func (m *models) growDev(p *devPtr, capacity *int, need int) error {
	if *p != 0 {
		if err := m.dev.free(*p); err != nil {
			return err
		}
		*p, *capacity = 0, 0
	}
	c := grown(need)
	q, err := m.dev.alloc(c)
	if err != nil {
		return fmt.Errorf("allocate %d bytes on the device: %w", c, err)
	}
	*p, *capacity = q, c
	return nil
}

func (m *models) growHost(b *[]byte, need int) error {
	if err := m.dev.freeHost(*b); err != nil {
		return err
	}
	*b = nil
	c := grown(need)
	h, err := m.dev.allocHost(c)
	if err != nil {
		return fmt.Errorf("allocate %d bytes of page-locked memory: %w", c, err)
	}
	*b = h
	return nil
}

// fetch waits for slot s's outputs and copies them into out.
func (m *models) fetch(s *slot, out []float64) error {
	nout := m.shape.Models * s.lay.rows * m.shape.Outputs
	if err := m.dev.download(s.out[:nout*8], s.p, m.compute); err != nil {
		return err
	}
	if err := m.dev.record(s.done, m.compute); err != nil {
		return err
	}
	if err := m.dev.synchronize(s.done); err != nil {
		return err
	}
	copy(out, floats(s.out, nout))
	return nil
}

// checkLabels rejects what the kernels would misread: a class index out of range for softmax.
func (m *models) checkLabels(b *learner.Batch) error {
	if m.shape.Objective != learner.Softmax {
		return nil
	}
	for r, y := range b.Labels {
		if c := int(y); float64(c) != y || c < 0 || c >= m.shape.Outputs {
			return fmt.Errorf("row %d: class %v out of range", r, y)
		}
	}
	return nil
}

// markRows adds the input rows b touches to the pending set.
func (m *models) markRows(b *learner.Batch) {
	add := func(col int32) {
		if !m.mark[col] {
			m.mark[col] = true
			m.touched = append(m.touched, col)
		}
	}
	if b.Width > 0 {
		for col := range int32(b.Width) {
			add(col)
		}
		return
	}
	for _, col := range b.Cols {
		add(col)
	}
}

// constants returns the update constants of every model for the pending rows, five per model.
func (m *models) constants() []float64 {
	h := make([]float64, 0, 5*len(m.hyper))
	for _, hy := range m.hyper {
		c := learner.UpdateConstants(m.shape.Optimizer, hy, m.seen, m.pending)
		h = append(h, c[:]...)
	}
	return h
}

// applied clears the pending set after an update was queued.
func (m *models) applied() {
	for _, col := range m.touched {
		m.mark[col] = false
	}
	m.touched = m.touched[:0]
	m.seen += int64(m.pending)
	m.pending = 0
}

const threads = 256

// blocks is the grid of a grid-stride kernel over total items.
func blocks(total int) dim3 {
	return dim3{uint32(min(max((total+threads-1)/threads, 1), 1<<15)), 1, 1}
}

var block = dim3{threads, 1, 1}

// bias is the address of the bias row of a state array.
func (m *models) bias(p devPtr) devPtr { return p + devPtr(m.shape.Dim*m.n*8) }

// forward queues the margins and outputs of the batch in slot s.
func (m *models) forward(s *slot) error {
	l, data := s.lay, s.data
	var err error
	if l.width > 0 {
		grid := dim3{uint32((m.n + 63) / 64), uint32((l.rows + 63) / 64), 1}
		err = m.dev.launch("gemm", grid, block, m.compute,
			data+devPtr(l.vals), int64(l.width), int64(1), m.w, int64(m.n), s.m, int64(m.n), m.bias(m.w),
			int32(l.rows), int32(m.n), int32(l.width), int32(0))
	} else {
		err = m.dev.launch("sparse_forward", blocks(l.rows*m.n), block, m.compute,
			data+devPtr(l.rowptr), data+devPtr(l.cols), data+devPtr(l.vals), int32(l.rows),
			m.w, m.bias(m.w), int32(m.n), s.m)
	}
	if err != nil {
		return err
	}
	return m.dev.launch("link", blocks(l.rows*m.shape.Models), block, m.compute,
		s.m, int32(l.rows), int32(m.shape.Models), int32(m.shape.Outputs), int32(m.shape.Objective), s.p)
}

// gradient queues the loss gradients of the batch in slot s, from its outputs, into g.
func (m *models) gradient(s *slot) error {
	l, data := s.lay, s.data
	if err := m.dev.launch("dloss", blocks(l.rows*m.shape.Models), block, m.compute,
		s.p, data+devPtr(l.labels), int32(l.rows), int32(m.shape.Models), int32(m.shape.Outputs),
		int32(m.shape.Objective), m.shape.HuberDelta, s.m); err != nil {
		return err
	}
	var err error
	if l.width > 0 {
		grid := dim3{uint32((m.n + 63) / 64), uint32((l.width + 63) / 64), 1}
		grid.z = splitK(grid, l.rows)
		err = m.dev.launch("gemm", grid, block, m.compute,
			data+devPtr(l.vals), int64(1), int64(l.width), s.m, int64(m.n), m.g, int64(m.n), devPtr(0),
			int32(l.width), int32(m.n), int32(l.rows), int32(1))
	} else {
		err = m.dev.launch("sparse_gradient", blocks(l.rows*m.n), block, m.compute,
			data+devPtr(l.rowptr), data+devPtr(l.cols), data+devPtr(l.vals), int32(l.rows), s.m, int32(m.n), m.g)
	}
	if err != nil {
		return err
	}
	grid := dim3{uint32((m.n + 31) / 32), uint32(min(max((l.rows+63)/64, 1), 64)), 1}
	return m.dev.launch("bias_gradient", grid, block, m.compute, s.m, int32(l.rows), int32(m.n), m.bias(m.g))
}

// splitK is how many blocks share the sum over k of a product with grid's tiles: enough for about 256
// blocks in all, a GPU's worth of work, each summing at least 4 tiles of k.
func splitK(grid dim3, k int) uint32 {
	tiles := int(grid.x * grid.y)
	return uint32(max(1, min(256/tiles, (k+63)/64, 65535)))
}

// update queues the optimizer step over the touched rows packed in slot s.
func (m *models) update(s *slot) error {
	l := s.lay
	opt := int32(0)
	if m.shape.Optimizer == learner.OptimizerAdaGrad {
		opt = 1
	}
	return m.dev.launch("update", blocks(l.ntouched*m.n), block, m.compute,
		s.data+devPtr(l.t), int32(l.ntouched), int32(m.n), int32(m.shape.Outputs), int32(m.shape.Dim), opt,
		s.data+devPtr(l.hyper), m.z, m.s, m.w, m.g)
}

// gather copies model k's values of state array src into dst, (Dim+1)*Outputs values.
func (m *models) gather(src devPtr, k int, dst []float64) error {
	if err := m.checkModel(k, dst); err != nil {
		return err
	}
	size := len(dst) * 8
	if err := m.reserveScratch(size); err != nil {
		return err
	}
	err := errors.Join(
		m.dev.launch("gather", blocks(len(dst)), block, m.compute,
			src, int32(m.rows), int32(m.n), int32(m.shape.Outputs), int32(k), m.scratch),
		m.dev.download(m.host[:size], m.scratch, m.compute),
		m.drain(),
	)
	if err != nil {
		return err
	}
	copy(dst, floats(m.host, len(dst)))
	return nil
}

// scatter copies src into model k's values of state array dst.
func (m *models) scatter(src []float64, k int, dst devPtr) error {
	if err := m.checkModel(k, src); err != nil {
		return err
	}
	size := len(src) * 8
	if err := m.reserveScratch(size); err != nil {
		return err
	}
	if err := m.drain(); err != nil { // the host buffer may still be read by an earlier copy
		return err
	}
	copy(floats(m.host, len(src)), src)
	return errors.Join(
		m.dev.upload(m.scratch, m.host[:size], m.compute),
		m.dev.launch("scatter", blocks(len(src)), block, m.compute,
			m.scratch, int32(m.rows), int32(m.n), int32(m.shape.Outputs), int32(k), dst),
		m.drain(),
	)
}

func (m *models) checkModel(k int, v []float64) error {
	if m.closed {
		return errClosed
	}
	if k < 0 || k >= m.shape.Models || len(v) != m.rows*m.shape.Outputs {
		return fmt.Errorf("model %d into %d values", k, len(v))
	}
	return nil
}

func (m *models) reserveScratch(size int) error {
	if m.scratchCap < size {
		if err := m.drain(); err != nil {
			return err
		}
		if err := m.growDev(&m.scratch, &m.scratchCap, size); err != nil {
			return err
		}
	}
	if len(m.host) < size {
		if err := m.drain(); err != nil {
			return err
		}
		return m.growHost(&m.host, size)
	}
	return nil
}

// floats views b as n float64s; b is page-locked or Go memory aligned for them.
func floats(b []byte, n int) []float64 {
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*float64)(unsafe.Pointer(&b[0])), n)
}

// int32s views b as n int32s.
func int32s(b []byte, n int) []int32 {
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*int32)(unsafe.Pointer(&b[0])), n)
}
