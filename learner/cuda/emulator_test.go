// The CPU emulator of the device: emulator/main.cpp, built with g++ and run as a subprocess, executes
// the real kernels of kernels/learner.cu, so that tests check the kernels and the host code driving
// them without a GPU. emuDevice implements device over the emulator's protocol (see main.cpp).

package cuda

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// emuFlags are the compiler flags of the emulator; the build adds -I with the emulator's directory,
// from which main.cpp includes cuda_emu.h and ../kernels/learner.cu.
var emuFlags = []string{"-std=c++20", "-O2", "-pthread", "-Wno-unknown-pragmas"}

// emuTimeout is how long a request may take before the emulator is presumed hung (a kernel whose
// threads do not all reach __syncthreads, say) and killed.
const emuTimeout = 3 * time.Minute

// emuTotal is the memory that the emulated device reports.
const emuTotal = 1 << 34

// Requests of the protocol.
const (
	emuAlloc byte = 1 + iota
	emuFree
	emuUpload
	emuDownload
	emuZero
	emuLaunch
	emuQuit
)

// Tags of launch arguments.
const (
	emuTagPtr byte = iota
	emuTagI32
	emuTagI64
	emuTagF64
)

var errEmuClosed = errors.New("emulator: device closed")

// emuBuild is the emulator binary, built once per test binary.
var emuBuild struct {
	once sync.Once
	path string
	skip string // why the kernels cannot be emulated here
	err  error
}

// buildEmulator compiles the emulator into a directory of os.TempDir named after its sources, always
// afresh, and renames it into place so that concurrent test runs do not see half-written binaries.
func buildEmulator() {
	gxx, err := exec.LookPath("g++")
	if err != nil {
		emuBuild.skip = "g++ not found: the CUDA kernels cannot be emulated on the CPU"
		return
	}
	dir, err := filepath.Abs("emulator")
	if err != nil {
		emuBuild.err = err
		return
	}
	src := filepath.Join(dir, "main.cpp")
	h := sha256.New()
	fmt.Fprintln(h, gxx, emuFlags)
	for _, f := range []string{src, filepath.Join(dir, "cuda_emu.h"), filepath.Join(dir, "..", "kernels", "learner.cu")} {
		b, err := os.ReadFile(f)
		if err != nil {
			emuBuild.err = fmt.Errorf("emulator: %v", err)
			return
		}
		h.Write(b)
	}
	out := filepath.Join(os.TempDir(), "streamlearn-cuda-emu-"+hex.EncodeToString(h.Sum(nil))[:16])
	if err := os.MkdirAll(out, 0o755); err != nil {
		emuBuild.err = fmt.Errorf("emulator: %v", err)
		return
	}
	tmp, err := os.CreateTemp(out, "build-*")
	if err != nil {
		emuBuild.err = fmt.Errorf("emulator: %v", err)
		return
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	args := append(append([]string{}, emuFlags...), "-I", dir, "-o", tmp.Name(), src)
	if msg, err := exec.Command(gxx, args...).CombinedOutput(); err != nil {
		emuBuild.err = fmt.Errorf("emulator: g++ %v: %v\n%s", args, err, msg)
		return
	}
	emuBuild.path = filepath.Join(out, "emu")
	if err := os.Rename(tmp.Name(), emuBuild.path); err != nil {
		emuBuild.err = fmt.Errorf("emulator: %v", err)
	}
}

// startEmulator returns a device that runs the kernels on the CPU, closed at the end of the test. It
// skips the test where there is no g++.
func startEmulator(t testing.TB) device {
	t.Helper()
	emuBuild.once.Do(buildEmulator)
	if emuBuild.skip != "" {
		t.Skip(emuBuild.skip)
	}
	if emuBuild.err != nil {
		t.Fatal(emuBuild.err)
	}
	d, err := newEmuDevice(emuBuild.path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.close(); err != nil && !errors.Is(err, errEmuClosed) {
			t.Error(err)
		}
	})
	return d
}

// emuDevice is a device served by an emulator process. Every operation has completed when its call
// returns, so streams and events only need to be valid.
type emuDevice struct {
	mu      sync.Mutex
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	in      *bufio.Writer
	outFile *os.File // the read end of the emulator's stdout, for deadlines
	out     *bufio.Reader
	stderr  emuBuffer
	err     error // set once the emulator is unusable: closed, died or hung
	closed  bool
	waited  bool
	sizes   map[devPtr]uint64 // live allocations
	used    uint64
	streams stream // streams 1..streams exist; 0 is the default stream
	events  event  // events 1..events exist
}

var _ device = (*emuDevice)(nil)

// emuBuffer collects the emulator's stderr.
type emuBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *emuBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *emuBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func newEmuDevice(path string) (*emuDevice, error) {
	d := &emuDevice{cmd: exec.Command(path), sizes: map[devPtr]uint64{}}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	d.cmd.Stdout = w
	d.cmd.Stderr = &d.stderr
	if d.stdin, err = d.cmd.StdinPipe(); err != nil {
		r.Close()
		w.Close()
		return nil, err
	}
	err = d.cmd.Start()
	w.Close()
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("emulator: %v", err)
	}
	d.in = bufio.NewWriterSize(d.stdin, 1<<16)
	d.outFile = r
	d.out = bufio.NewReaderSize(r, 1<<16)
	return d, nil
}

// call sends request op with a body made of parts and returns the reply's body, read into into when
// it has exactly the reply's length. An error reply is returned as an error prefixed by what.
func (d *emuDevice) call(what string, op byte, into []byte, parts ...[]byte) ([]byte, error) {
	if d.err != nil {
		return nil, d.err
	}
	var hdr [9]byte
	hdr[0] = op
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	binary.LittleEndian.PutUint64(hdr[1:], uint64(n))
	d.in.Write(hdr[:])
	for _, p := range parts {
		d.in.Write(p)
	}
	if err := d.in.Flush(); err != nil {
		return nil, d.broken(what, err)
	}
	d.outFile.SetReadDeadline(time.Now().Add(emuTimeout))
	if _, err := io.ReadFull(d.out, hdr[:]); err != nil {
		return nil, d.broken(what, err)
	}
	n64 := binary.LittleEndian.Uint64(hdr[1:])
	reply := into
	if hdr[0] != 0 || uint64(len(into)) != n64 {
		reply = make([]byte, n64)
	}
	if _, err := io.ReadFull(d.out, reply); err != nil {
		return nil, d.broken(what, err)
	}
	if hdr[0] != 0 {
		return nil, fmt.Errorf("emulator: %s: %s", what, reply)
	}
	return reply, nil
}

// broken kills the emulator after a failed exchange and returns the error of it and all later calls.
func (d *emuDevice) broken(what string, err error) error {
	d.cmd.Process.Kill()
	werr := d.cmd.Wait()
	d.waited = true
	d.outFile.Close()
	d.err = fmt.Errorf("emulator: %s: no reply: %v (emulator: %v)", what, err, werr)
	if msg := d.stderr.String(); msg != "" {
		d.err = fmt.Errorf("%w; its stderr:\n%s", d.err, msg)
	}
	return d.err
}

func (d *emuDevice) alloc(bytes int) (devPtr, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if bytes <= 0 || uint64(bytes) > emuTotal-d.used {
		return 0, fmt.Errorf("emulator: alloc of %d bytes: out of memory or invalid (%d bytes in use)", bytes, d.used)
	}
	r, err := d.call("alloc", emuAlloc, nil, binary.LittleEndian.AppendUint64(nil, uint64(bytes)))
	if err != nil {
		return 0, err
	}
	p := devPtr(binary.LittleEndian.Uint64(r))
	d.sizes[p] = uint64(bytes)
	d.used += uint64(bytes)
	return p, nil
}

func (d *emuDevice) free(p devPtr) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, err := d.call(fmt.Sprintf("free %#x", p), emuFree, nil, binary.LittleEndian.AppendUint64(nil, uint64(p))); err != nil {
		return err
	}
	d.used -= d.sizes[p]
	delete(d.sizes, p)
	return nil
}

func (d *emuDevice) allocHost(bytes int) ([]byte, error) { return make([]byte, bytes), nil }

func (d *emuDevice) freeHost(b []byte) error { return nil }

func (d *emuDevice) upload(dst devPtr, src []byte, s stream) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.checkStream(s); err != nil {
		return err
	}
	_, err := d.call(fmt.Sprintf("upload of %d bytes to %#x", len(src), dst), emuUpload, nil,
		binary.LittleEndian.AppendUint64(nil, uint64(dst)), src)
	return err
}

func (d *emuDevice) download(dst []byte, src devPtr, s stream) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.checkStream(s); err != nil {
		return err
	}
	body := binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(nil, uint64(src)), uint64(len(dst)))
	r, err := d.call(fmt.Sprintf("download of %d bytes from %#x", len(dst), src), emuDownload, dst, body)
	if err == nil && len(r) != len(dst) {
		return fmt.Errorf("emulator: download: %d bytes back, want %d", len(r), len(dst))
	}
	return err
}

func (d *emuDevice) zero(dst devPtr, bytes int, s stream) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.checkStream(s); err != nil {
		return err
	}
	if bytes < 0 {
		return fmt.Errorf("emulator: zero of %d bytes", bytes)
	}
	body := binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(nil, uint64(dst)), uint64(bytes))
	_, err := d.call(fmt.Sprintf("zero of %d bytes at %#x", bytes, dst), emuZero, nil, body)
	return err
}

func (d *emuDevice) launch(name string, grid, block dim3, s stream, args ...any) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.checkStream(s); err != nil {
		return err
	}
	if len(name) > math.MaxUint16 || len(args) > math.MaxUint16 {
		return fmt.Errorf("emulator: launch %.40s: name or argument list too long", name)
	}
	b := binary.LittleEndian.AppendUint16(nil, uint16(len(name)))
	b = append(b, name...)
	for _, v := range []uint32{grid.x, grid.y, grid.z, block.x, block.y, block.z} {
		b = binary.LittleEndian.AppendUint32(b, v)
	}
	b = binary.LittleEndian.AppendUint16(b, uint16(len(args)))
	for i, a := range args {
		var tag byte
		var bits uint64
		switch v := a.(type) {
		case devPtr:
			tag, bits = emuTagPtr, uint64(v)
		case int32:
			tag, bits = emuTagI32, uint64(int64(v))
		case int:
			if v < math.MinInt32 || v > math.MaxInt32 {
				return fmt.Errorf("emulator: launch %s: argument %d: int %d overflows int32", name, i, v)
			}
			tag, bits = emuTagI32, uint64(int64(v))
		case int64:
			tag, bits = emuTagI64, uint64(v)
		case float64:
			tag, bits = emuTagF64, math.Float64bits(v)
		default:
			return fmt.Errorf("emulator: launch %s: argument %d has type %T, want devPtr, int32, int64 or float64", name, i, a)
		}
		b = append(b, tag)
		b = binary.LittleEndian.AppendUint64(b, bits)
	}
	_, err := d.call("launch "+name, emuLaunch, nil, b)
	return err
}

func (d *emuDevice) checkStream(s stream) error {
	if s > d.streams {
		return fmt.Errorf("emulator: stream %d does not exist", s)
	}
	return nil
}

func (d *emuDevice) checkEvent(e event) error {
	if e == 0 || e > d.events {
		return fmt.Errorf("emulator: event %d does not exist", e)
	}
	return nil
}

func (d *emuDevice) newStream() (stream, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.streams++
	return d.streams, nil
}

func (d *emuDevice) newEvent() (event, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.events++
	return d.events, nil
}

func (d *emuDevice) record(e event, s stream) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return errors.Join(d.checkEvent(e), d.checkStream(s))
}

func (d *emuDevice) wait(s stream, e event) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return errors.Join(d.checkStream(s), d.checkEvent(e))
}

func (d *emuDevice) synchronize(e event) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.checkEvent(e)
}

func (d *emuDevice) memInfo() (free, total uint64, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.err != nil {
		return 0, 0, d.err
	}
	return emuTotal - d.used, emuTotal, nil
}

// close stops the emulator. An emulator that died or hung was reported by the call that found it.
func (d *emuDevice) close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return errEmuClosed
	}
	d.closed = true
	var err error
	if d.err == nil {
		_, err = d.call("quit", emuQuit, nil)
	}
	d.stdin.Close()
	if !d.waited {
		if werr := d.cmd.Wait(); err == nil && werr != nil {
			err = fmt.Errorf("emulator: quit: %v %s", werr, d.stderr.String())
		}
		d.outFile.Close()
	}
	d.err = errEmuClosed
	return err
}
