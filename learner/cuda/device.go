package cuda

// devPtr is an address in device memory.
type devPtr uint64

// dim3 is a grid or block size.
type dim3 struct{ x, y, z uint32 }

// stream is an opaque queue of device work; work on one stream runs in order.
type stream uintptr

// event marks a point in a stream.
type event uintptr

// device is what the models need of a GPU: memory, copies, kernel launches and ordering. The CUDA
// driver implements it (driverDevice); the tests also run the same models, kernels included, on a
// CPU emulator of it, which checks the arithmetic and the host code without a GPU.
//
// Copies and launches are asynchronous: they are queued on a stream and the host memory a copy reads
// or writes must stay untouched until the stream has passed that point (synchronize, or an event).
type device interface {
	// alloc returns bytes of device memory, not initialized.
	alloc(bytes int) (devPtr, error)
	free(p devPtr) error
	// allocHost returns page-locked host memory, which copies can use without staging.
	allocHost(bytes int) ([]byte, error)
	freeHost(b []byte) error
	upload(dst devPtr, src []byte, s stream) error
	download(dst []byte, src devPtr, s stream) error
	zero(dst devPtr, bytes int, s stream) error
	// launch queues kernel name with args: devPtr, int32, int64 or float64 values, in the order of
	// the kernel's parameters.
	launch(name string, grid, block dim3, s stream, args ...any) error
	newStream() (stream, error)
	newEvent() (event, error)
	// record marks the current end of s with e; wait makes s wait for the last record of e.
	record(e event, s stream) error
	wait(s stream, e event) error
	// synchronize blocks until everything recorded before e has run.
	synchronize(e event) error
	// memInfo returns the device's free and total memory.
	memInfo() (free, total uint64, err error)
	close() error
}
