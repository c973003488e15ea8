package cuda

import (
	"errors"
	"math/rand/v2"
	"sync"
	"time"
)

// asyncDevice runs the copies and kernels of a synchronous device (the emulator) as a GPU does: on
// one worker per stream, in order within a stream and interleaved across streams, each after a random
// delay, with copies reading and writing host memory when they run rather than when they are queued.
// Events order the streams and the host as the driver's do (a wait or synchronize covers the work
// recorded before it was called). Host code that reuses a buffer before the device is done with it,
// or reads results before they are there, gets wrong numbers here, which the in-order emulator hides.
type asyncDevice struct {
	inner device

	mu      sync.Mutex
	streams map[stream]*asyncStream
	events  map[event]*asyncEvent
	next    uintptr
	err     error // the first failure of queued work
	rng     *rand.Rand
	closed  bool
}

type asyncStream struct {
	ops  chan func()
	idle sync.WaitGroup // queued and not yet run
}

// asyncEvent counts records (made by the host when it calls record) and completions (when the
// stream reaches them).
type asyncEvent struct {
	mu                  sync.Mutex
	cond                *sync.Cond
	recorded, completed uint64
}

func newAsyncDevice(inner device, seed uint64) *asyncDevice {
	return &asyncDevice{inner: inner, streams: map[stream]*asyncStream{}, events: map[event]*asyncEvent{},
		next: 1000, rng: rand.New(rand.NewPCG(seed, 99))}
}

var _ device = (*asyncDevice)(nil)

func (d *asyncDevice) newStream() (stream, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.next++
	s, as := stream(d.next), &asyncStream{ops: make(chan func(), 1024)}
	d.streams[s] = as
	go func() {
		for op := range as.ops {
			op()
			as.idle.Done()
		}
	}()
	return s, nil
}

func (d *asyncDevice) newEvent() (event, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.next++
	e := &asyncEvent{}
	e.cond = sync.NewCond(&e.mu)
	d.events[event(d.next)] = e
	return event(d.next), nil
}

// enqueue queues op on stream s after a random delay of up to 300 us.
func (d *asyncDevice) enqueue(s stream, op func() error) error {
	d.mu.Lock()
	as := d.streams[s]
	delay := time.Duration(d.rng.IntN(300)) * time.Microsecond
	d.mu.Unlock()
	if as == nil {
		return errors.New("async device: unknown stream")
	}
	as.idle.Add(1)
	as.ops <- func() {
		time.Sleep(delay)
		if err := op(); err != nil {
			d.mu.Lock()
			d.err = errors.Join(d.err, err)
			d.mu.Unlock()
		}
	}
	return nil
}

func (d *asyncDevice) event(e event) (*asyncEvent, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if ev := d.events[e]; ev != nil {
		return ev, nil
	}
	return nil, errors.New("async device: unknown event")
}

func (d *asyncDevice) upload(dst devPtr, src []byte, s stream) error {
	return d.enqueue(s, func() error { return d.inner.upload(dst, src, 0) })
}

func (d *asyncDevice) download(dst []byte, src devPtr, s stream) error {
	return d.enqueue(s, func() error { return d.inner.download(dst, src, 0) })
}

func (d *asyncDevice) zero(dst devPtr, bytes int, s stream) error {
	return d.enqueue(s, func() error { return d.inner.zero(dst, bytes, 0) })
}

func (d *asyncDevice) launch(name string, grid, block dim3, s stream, args ...any) error {
	args = append([]any(nil), args...)
	return d.enqueue(s, func() error { return d.inner.launch(name, grid, block, 0, args...) })
}

func (d *asyncDevice) record(e event, s stream) error {
	ev, err := d.event(e)
	if err != nil {
		return err
	}
	ev.mu.Lock()
	ev.recorded++
	n := ev.recorded
	ev.mu.Unlock()
	return d.enqueue(s, func() error {
		ev.mu.Lock()
		ev.completed = max(ev.completed, n)
		ev.cond.Broadcast()
		ev.mu.Unlock()
		return nil
	})
}

// wait makes s wait for the last record of e made before this call.
func (d *asyncDevice) wait(s stream, e event) error {
	ev, err := d.event(e)
	if err != nil {
		return err
	}
	ev.mu.Lock()
	n := ev.recorded
	ev.mu.Unlock()
	return d.enqueue(s, func() error { ev.waitFor(n); return nil })
}

func (ev *asyncEvent) waitFor(n uint64) {
	ev.mu.Lock()
	for ev.completed < n {
		ev.cond.Wait()
	}
	ev.mu.Unlock()
}

func (d *asyncDevice) synchronize(e event) error {
	ev, err := d.event(e)
	if err != nil {
		return err
	}
	ev.mu.Lock()
	n := ev.recorded
	ev.mu.Unlock()
	ev.waitFor(n)
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.err
}

// drain waits until every stream has run what was queued: freeing memory does, on a GPU.
func (d *asyncDevice) drain() {
	d.mu.Lock()
	streams := make([]*asyncStream, 0, len(d.streams))
	for _, s := range d.streams {
		streams = append(streams, s)
	}
	d.mu.Unlock()
	for _, s := range streams {
		s.idle.Wait()
	}
}

func (d *asyncDevice) alloc(bytes int) (devPtr, error) { return d.inner.alloc(bytes) }

func (d *asyncDevice) free(p devPtr) error {
	d.drain()
	return d.inner.free(p)
}

func (d *asyncDevice) allocHost(bytes int) ([]byte, error) { return d.inner.allocHost(bytes) }

func (d *asyncDevice) freeHost(b []byte) error {
	d.drain()
	return d.inner.freeHost(b)
}

func (d *asyncDevice) memInfo() (free, total uint64, err error) { return d.inner.memInfo() }

// stop ends the workers once they have run everything queued, leaving the inner device open.
func (d *asyncDevice) stop() error {
	d.drain()
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.closed {
		d.closed = true
		for _, s := range d.streams {
			close(s.ops)
		}
	}
	return d.err
}

func (d *asyncDevice) close() error {
	return errors.Join(d.stop(), d.inner.close())
}
