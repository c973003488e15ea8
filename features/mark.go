package features

import (
	"encoding/binary"
	"fmt"
	"math"
	"sort"
)

// A mark records that an event was applied, with the inputs it was served with, so a redelivery
// changes nothing and is answered with the same vector. Marks live in the entity's state, in buckets
// of event time; a bucket's marks are dropped together once the entity's horizon has passed the
// bucket's end: by then a redelivery is too late to be applied anyway.
const markFormat = 1

type mark struct {
	t           int64
	fingerprint uint32
	in          inputs
}

// encodeMark encodes a mark into memory from a: the state it goes into copies it.
func encodeMark(fingerprint uint32, t int64, in *inputs, a *arena) []byte {
	b := take(&a.bytes, 0, 1+4+2*binary.MaxVarintLen64+len(in.aggs)*(1+binary.MaxVarintLen64)+binary.MaxVarintLen64+8*len(in.z))
	b = append(b, markFormat)
	b = binary.LittleEndian.AppendUint32(b, fingerprint)
	b = binary.AppendVarint(b, t)
	b = binary.AppendUvarint(b, uint64(len(in.aggs)))
	for _, x := range in.aggs {
		switch {
		case math.IsNaN(x):
			b = append(b, 0)
		case x == math.Trunc(x) && math.Abs(x) < 1<<53:
			b = append(b, 1)
			b = binary.AppendVarint(b, int64(x))
		default:
			b = append(b, 2)
			b = appendFloat(b, x)
		}
	}
	b = binary.AppendUvarint(b, uint64(len(in.z)))
	for _, x := range in.z {
		b = appendFloat(b, x)
	}
	return b
}

func decodeMark(b []byte) (mark, error) {
	var m mark
	if len(b) < 5 || b[0] != markFormat {
		return m, fmt.Errorf("%w: mark", errCorrupt)
	}
	m.fingerprint = binary.LittleEndian.Uint32(b[1:5])
	r := &reader{b: b[5:]}
	m.t = r.varint()
	m.in.aggs = make([]float64, r.count(1))
	for i := range m.in.aggs {
		switch r.byte1() {
		case 0:
			m.in.aggs[i] = math.NaN()
		case 1:
			m.in.aggs[i] = float64(r.varint())
		case 2:
			m.in.aggs[i] = r.float()
		default:
			r.fail()
		}
	}
	m.in.z = make([]float64, r.count(8))
	for i := range m.in.z {
		m.in.z[i] = r.float()
	}
	return m, r.err
}

// storedMark is a mark in the entity's state: the hash of the event id (64 bits: ids of any length
// cost the same, and a collision among one entity's marks is about as likely as 2^-64 per pair) and
// the encoded mark.
type storedMark struct {
	id    uint64
	value []byte
}

func (st *entityState) findMark(id uint64) ([]byte, bool) {
	for i := len(st.marks) - 1; i >= 0; i-- {
		for _, m := range st.marks[i].marks {
			if m.id == id {
				return m.value, true
			}
		}
	}
	return nil, false
}

// addMark adds a mark to its bucket.
func (st *entityState) addMark(bucket int64, id uint64, value []byte) {
	i := sort.Search(len(st.marks), func(i int) bool { return st.marks[i].bucket >= bucket })
	if i == len(st.marks) || st.marks[i].bucket != bucket {
		st.marks = append(st.marks, markBucket{})
		copy(st.marks[i+1:], st.marks[i:])
		st.marks[i] = markBucket{bucket: bucket, marks: take(&st.arena.smarks, 0, 4)}
	}
	st.marks[i].marks = append(st.marks[i].marks, storedMark{id: id, value: value})
}

// dropMarks removes the mark buckets that ended before the horizon and, while the entity holds more
// than MaxMarks marks, the oldest others but the newest, raising the floor past each so that their
// events stay too late.
func (st *entityState) dropMarks(p *plan) {
	h := st.horizon(p)
	i := 0
	for i < len(st.marks) && st.marks[i].bucket < floorDiv(h, p.markBucket) {
		i++
	}
	total := 0
	for _, m := range st.marks[i:] {
		total += len(m.marks)
	}
	for total > p.cfg.MaxMarks && i < len(st.marks)-1 {
		m := st.marks[i]
		total -= len(m.marks)
		st.floor = max(st.floor, (m.bucket+1)*p.markBucket)
		i++
	}
	st.marks = st.marks[i:]
}
