package features

import (
	"encoding/binary"
	"fmt"
	"math"
	"sort"
)

// A mark records that an event was applied, with the inputs it was served with, so a redelivery
// changes nothing and is answered with the same vector. Marks are kept per entity in buckets of
// event time and dropped a bucket at a time once the entity's horizon has passed the bucket's end:
// by then a redelivery is too late to be applied anyway.
const markFormat = 1

type mark struct {
	t           int64
	fingerprint uint32
	in          inputs
}

func encodeMark(fingerprint uint32, t int64, in *inputs) []byte {
	b := make([]byte, 0, 16+9*len(in.aggs)+8*len(in.z))
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

func (st *entityState) addMark(bucket int64) {
	i := sort.Search(len(st.marks), func(i int) bool { return st.marks[i].bucket >= bucket })
	if i < len(st.marks) && st.marks[i].bucket == bucket {
		st.marks[i].count++
		return
	}
	st.marks = append(st.marks, markBucket{})
	copy(st.marks[i+1:], st.marks[i:])
	st.marks[i] = markBucket{bucket: bucket, count: 1}
}

// dropMarks removes the mark buckets that ended before the horizon and, while the entity holds more
// than MaxMarks marks, the oldest others but the newest, raising the floor past each so that their
// events stay too late. It returns the buckets to delete.
func (st *entityState) dropMarks(p *plan) []int64 {
	var dead []int64
	h := st.horizon(p)
	i := 0
	for i < len(st.marks) && st.marks[i].bucket < floorDiv(h, p.markBucket) {
		dead = append(dead, st.marks[i].bucket)
		i++
	}
	total := int64(0)
	for _, m := range st.marks[i:] {
		total += m.count
	}
	for total > int64(p.cfg.MaxMarks) && i < len(st.marks)-1 {
		m := st.marks[i]
		total -= m.count
		dead = append(dead, m.bucket)
		st.floor = max(st.floor, (m.bucket+1)*p.markBucket)
		i++
	}
	st.marks = st.marks[i:]
	return dead
}
