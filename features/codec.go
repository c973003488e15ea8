package features

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
)

// The entity state is stored as one binary value: varints for times and counts, 8-byte floats for
// sums. Tile times are stored relative to their tile, so a tile costs a few bytes plus its sums. It
// ends in a CRC-32C of the rest, which catches corruption and also keeps Redis's Lua fast: Lua hashes
// a long string from a sample of its bytes, the last one included, and states that share their
// sampled bytes would otherwise pile up in one bucket of Lua's string table.
const stateFormat = 1

const (
	flagWM    = 1
	flagFloor = 2
)

// encodeState encodes st into a new buffer after header zero bytes; size is a guess of the length.
func encodeState(p *plan, st *entityState, header, size int) []byte {
	b := make([]byte, header, header+size)
	b = append(b, stateFormat)
	var flags uint64
	if st.hasWM {
		flags |= flagWM
	}
	if st.floor != minTime {
		flags |= flagFloor
	}
	b = binary.AppendUvarint(b, flags)
	if st.hasWM {
		b = binary.AppendVarint(b, st.wm)
	}
	if flags&flagFloor != 0 {
		b = binary.AppendVarint(b, st.floor)
	}
	b = binary.AppendUvarint(b, uint64(len(st.marks)))
	prev := int64(0)
	for _, m := range st.marks {
		b = binary.AppendVarint(b, m.bucket-prev)
		prev = m.bucket
		b = binary.AppendUvarint(b, uint64(len(m.marks)))
		for _, mk := range m.marks {
			b = binary.LittleEndian.AppendUint64(b, mk.id)
			b = binary.AppendUvarint(b, uint64(len(mk.value)))
			b = append(b, mk.value...)
		}
	}
	b = binary.AppendUvarint(b, uint64(len(st.fields)))
	for _, f := range st.fields {
		b = binary.AppendUvarint(b, uint64(len(f)))
		b = append(b, f...)
	}
	b = binary.AppendUvarint(b, uint64(len(p.series)))
	for si := range p.series {
		g := p.series[si].tile
		b = binary.AppendUvarint(b, uint64(g))
		ts := st.series[si]
		b = binary.AppendUvarint(b, uint64(len(ts)))
		prev := int64(0)
		for i := range ts {
			tl := &ts[i]
			start := tl.bucket * g
			b = binary.AppendVarint(b, tl.bucket-prev)
			prev = tl.bucket
			b = binary.AppendUvarint(b, uint64(tl.count))
			b = binary.AppendVarint(b, tl.maxT-start)
			b = binary.AppendUvarint(b, uint64(len(tl.fields)))
			for j := range tl.fields {
				b = encodeFieldStat(b, &tl.fields[j], start)
			}
		}
	}
	return binary.LittleEndian.AppendUint32(b, checksum(b[header:]))
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func checksum(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

func encodeFieldStat(b []byte, fs *fieldStat, start int64) []byte {
	b = binary.AppendUvarint(b, uint64(fs.idx))
	b = append(b, fs.mask)
	b = binary.AppendUvarint(b, uint64(fs.n))
	if fs.n > 0 {
		if fs.mask&statSum != 0 {
			b = appendFloat(b, fs.sum)
		}
		if fs.mask&statSumSq != 0 {
			b = appendFloat(b, fs.sumsq)
		}
		if fs.mask&statMin != 0 {
			b = appendFloat(b, fs.min)
		}
		if fs.mask&statMax != 0 {
			b = appendFloat(b, fs.max)
		}
		if fs.mask&statLast != 0 {
			b = binary.AppendVarint(b, fs.lastT-start)
			b = appendFloat(b, fs.lastV)
		}
	}
	if fs.mask&statDistinct != 0 {
		switch d := fs.distinct; {
		case d == nil:
			b = append(b, 0)
		case d.regs != nil:
			b = append(b, 2)
			b = append(b, d.regs...)
		default:
			b = append(b, 1)
			b = binary.AppendUvarint(b, uint64(len(d.exact)))
			for _, h := range d.exact {
				b = binary.LittleEndian.AppendUint64(b, h)
			}
		}
	}
	return b
}

func appendFloat(b []byte, f float64) []byte {
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(f))
}

var errCorrupt = errors.New("corrupt feature state")

type reader struct {
	b   []byte
	err error
}

func (r *reader) fail() {
	if r.err == nil {
		r.err = errCorrupt
	}
	r.b = nil
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

// count reads a length that each element of at least size bytes must fit in the rest of the input.
func (r *reader) count(size int) int {
	v := r.uvarint()
	if v > uint64(len(r.b)/size) {
		r.fail()
		return 0
	}
	return int(v)
}

func (r *reader) bytes(n int) []byte {
	if n < 0 || n > len(r.b) {
		r.fail()
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) byte1() byte {
	if b := r.bytes(1); b != nil {
		return b[0]
	}
	return 0
}

func (r *reader) float() float64 {
	if b := r.bytes(8); b != nil {
		return math.Float64frombits(binary.LittleEndian.Uint64(b))
	}
	return 0
}

// decodeState reads a stored state into memory from a; series whose tile length the plan no longer
// has are dropped.
func decodeState(p *plan, b []byte, a *arena) (*entityState, error) {
	st := a.state(p)
	if len(b) == 0 {
		return st, nil
	}
	if b[0] != stateFormat {
		return nil, fmt.Errorf("%w: format %d", errCorrupt, b[0])
	}
	if len(b) < 5 || binary.LittleEndian.Uint32(b[len(b)-4:]) != checksum(b[:len(b)-4]) {
		return nil, fmt.Errorf("%w: checksum", errCorrupt)
	}
	r := &reader{b: b[1 : len(b)-4]}
	flags := r.uvarint()
	if flags&flagWM != 0 {
		st.wm, st.hasWM = r.varint(), true
	}
	if flags&flagFloor != 0 {
		st.floor = r.varint()
	}
	n := r.count(2)
	st.marks = take(&a.marks, n, 1)
	prev := int64(0)
	for i := range st.marks {
		prev += r.varint()
		marks := take(&a.smarks, r.count(9), 1)
		for j := range marks {
			id := r.bytes(8)
			if id == nil {
				break
			}
			marks[j] = storedMark{id: binary.LittleEndian.Uint64(id), value: r.bytes(r.count(1))}
		}
		st.marks[i] = markBucket{bucket: prev, marks: marks}
	}
	n = r.count(1)
	st.fields = take(&a.names, n, 2)
	for i := range st.fields {
		st.fields[i] = p.interned.get(r.bytes(int(r.uvarint())))
	}
	ns := r.count(2)
	for range ns {
		g := int64(r.uvarint())
		si := p.seriesIndex(g)
		nt := r.count(4)
		var ts []tile
		if si >= 0 {
			ts = take(&a.tiles, nt, 1)
		}
		var scratch tile
		prev := int64(0)
		for i := range nt {
			tl := &scratch
			if si >= 0 {
				tl = &ts[i]
			}
			prev += r.varint()
			tl.bucket = prev
			start := prev * g
			tl.count = int64(r.uvarint())
			tl.maxT = start + r.varint()
			nf := r.count(3)
			tl.fields = take(&a.stats, nf, 1)
			for j := range tl.fields {
				decodeFieldStat(r, &tl.fields[j], start, len(st.fields))
			}
		}
		if si >= 0 {
			st.series[si] = ts
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	return st, nil
}

func decodeFieldStat(r *reader, fs *fieldStat, start int64, nfields int) {
	idx := r.uvarint()
	if idx >= uint64(nfields) {
		r.fail()
		return
	}
	fs.idx = int(idx)
	fs.mask = r.byte1()
	fs.n = int64(r.uvarint())
	if fs.n > 0 {
		if fs.mask&statSum != 0 {
			fs.sum = r.float()
		}
		if fs.mask&statSumSq != 0 {
			fs.sumsq = r.float()
		}
		if fs.mask&statMin != 0 {
			fs.min = r.float()
		}
		if fs.mask&statMax != 0 {
			fs.max = r.float()
		}
		if fs.mask&statLast != 0 {
			fs.lastT = start + r.varint()
			fs.lastV = r.float()
		}
	}
	if fs.mask&statDistinct != 0 {
		switch r.byte1() {
		case 0:
		case 1:
			n := r.count(8)
			d := &sketch{exact: make([]uint64, n)}
			for i := range d.exact {
				d.exact[i] = binary.LittleEndian.Uint64(r.bytes(8))
			}
			fs.distinct = d
		case 2:
			fs.distinct = &sketch{regs: append([]uint8(nil), r.bytes(hllM)...)}
		default:
			r.fail()
		}
	}
}
