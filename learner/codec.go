package learner

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
)

// Both binary forms start with a 4-byte magic and a version byte, then little-endian fields.
const (
	snapshotMagic   = "SLSN"
	checkpointMagic = "SLCK"
	formatVersion   = 1
	// familySketchVersion is the version of a non-linear family's checkpoint from which the trees'
	// quantile sketches follow their state; version 1 is still read.
	familySketchVersion = 2
)

var errTruncated = errors.New("truncated")

// encoder appends fields to a byte slice.
type encoder struct{ b []byte }

func newEncoder(magic string, size int) *encoder {
	e := &encoder{b: make([]byte, 0, size)}
	e.b = append(e.b, magic...)
	e.b = append(e.b, versionOf(magic))
	return e
}

// versionOf is the format version written with magic.
func versionOf(magic string) byte {
	switch magic {
	case familyCheckpointMagic:
		return familySketchVersion
	case autoCheckpointMagic:
		return autoCheckpointReplayVersion
	}
	return formatVersion
}

func (e *encoder) u32(v uint32)  { e.b = binary.LittleEndian.AppendUint32(e.b, v) }
func (e *encoder) u64(v uint64)  { e.b = binary.LittleEndian.AppendUint64(e.b, v) }
func (e *encoder) f64(v float64) { e.u64(math.Float64bits(v)) }
func (e *encoder) f64s(v []float64) {
	for _, x := range v {
		e.f64(x)
	}
}

func (e *encoder) coords(cs []coord) {
	for _, c := range cs {
		e.f64(c.z)
		e.f64(c.s)
		e.f64(c.w)
	}
}

func (e *encoder) spec(s Spec) error {
	js, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("encode spec: %w", err)
	}
	e.u32(uint32(len(js)))
	e.b = append(e.b, js...)
	return nil
}

// decoder reads fields from a byte slice; the first error sticks and later reads return zeros.
type decoder struct {
	b       []byte
	err     error
	version byte
}

func newDecoder(data []byte, magic string) (*decoder, error) {
	if len(data) < len(magic)+1 || string(data[:len(magic)]) != magic {
		return nil, fmt.Errorf("bad magic, want %q", magic)
	}
	v := data[len(magic)]
	if v < formatVersion || v > versionOf(magic) {
		return nil, fmt.Errorf("unsupported version %d, want %d to %d", v, formatVersion, versionOf(magic))
	}
	return &decoder{b: data[len(magic)+1:], version: v}, nil
}

func (d *decoder) take(n int) []byte {
	if d.err != nil || n < 0 || n > len(d.b) {
		if d.err == nil {
			d.err = errTruncated
		}
		return nil
	}
	b := d.b[:n]
	d.b = d.b[n:]
	return b
}

func (d *decoder) u32() uint32 {
	if b := d.take(4); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

func (d *decoder) u64() uint64 {
	if b := d.take(8); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

func (d *decoder) f64() float64 { return math.Float64frombits(d.u64()) }

func (d *decoder) f64s(dst []float64) {
	for i := range dst {
		dst[i] = d.f64()
	}
}

func (d *decoder) coords(dst []coord) {
	for i := range dst {
		dst[i] = coord{z: d.f64(), s: d.f64(), w: d.f64()}
	}
}

// count reads a number of records of size bytes each, failing if the rest of the input cannot hold them.
func (d *decoder) count(size int) int {
	n := d.u32()
	if d.err == nil && uint64(n)*uint64(size) > uint64(len(d.b)) {
		d.err = fmt.Errorf("count %d exceeds the data", n)
		return 0
	}
	return int(n)
}

func (d *decoder) spec() Spec {
	var s Spec
	n := d.u32()
	js := d.take(int(n))
	if d.err != nil {
		return s
	}
	if err := json.Unmarshal(js, &s); err != nil {
		d.err = fmt.Errorf("spec: %w", err)
		return s
	}
	if err := s.Validate(); err != nil {
		d.err = fmt.Errorf("spec: %w", err)
	}
	return s
}

// finish reports the sticky error, or trailing bytes.
func (d *decoder) finish() error {
	if d.err == nil && len(d.b) > 0 {
		d.err = fmt.Errorf("%d trailing bytes", len(d.b))
	}
	return d.err
}
