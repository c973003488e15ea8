package learner

import (
	"fmt"
	"math"
)

// MarshalBinary encodes the snapshot: magic "SLSN", version, spec as JSON, then the sparse weights.
// A non-linear family's snapshot has its own form (magic "SLSF", family_trainer.go), and so has an
// auto blend (magic "SLSB", auto_blend.go).
func (s *Snapshot) MarshalBinary() ([]byte, error) {
	if s.blend != nil {
		return s.marshalBlend()
	}
	if s.fam != nil {
		return s.marshalFamily()
	}
	e := newEncoder(snapshotMagic, 64+len(s.slots)*(20+8*s.out))
	if err := e.spec(s.spec); err != nil {
		return nil, fmt.Errorf("marshal snapshot: %w", err)
	}
	e.u64(uint64(s.seen))
	e.f64s([]float64{s.target.n, s.target.mean, s.target.m2})
	e.f64s(s.bias)
	e.u32(uint32(len(s.slots)))
	for i, slot := range s.slots {
		e.u32(slot)
		e.f64(s.mean[i])
		e.f64(s.scale[i])
		e.f64s(s.w[i*s.out : (i+1)*s.out])
	}
	return e.b, nil
}

// UnmarshalSnapshot decodes a snapshot written by Snapshot.MarshalBinary.
func UnmarshalSnapshot(data []byte) (*Snapshot, error) {
	decode := decodeSnapshot
	if len(data) >= 4 {
		switch string(data[:4]) {
		case familySnapshotMagic:
			decode = decodeFamilySnapshot
		case blendSnapshotMagic:
			decode = decodeBlendSnapshot
		}
	}
	s, err := decode(data)
	if err != nil {
		return nil, fmt.Errorf("unmarshal snapshot: %w", err)
	}
	return s, nil
}

func decodeSnapshot(data []byte) (*Snapshot, error) {
	d, err := newDecoder(data, snapshotMagic)
	if err != nil {
		return nil, err
	}
	s := &Snapshot{spec: d.spec()}
	s.out = s.spec.outputs()
	s.seen = int64(d.u64())
	s.target.n, s.target.mean, s.target.m2 = d.f64(), d.f64(), d.f64()
	s.target.sane()
	s.bias = make([]float64, s.out)
	d.f64s(s.bias)
	rows := d.count(4 + 16 + 8*s.out)
	if d.err != nil {
		return nil, d.err
	}
	s.slots = make([]uint32, rows)
	s.mean, s.scale = make([]float64, rows), make([]float64, rows)
	s.w = make([]float64, rows*s.out)
	limit := uint32(1) << uint(s.spec.HashBits)
	for i := range rows {
		s.slots[i] = d.u32()
		if d.err == nil && s.slots[i] >= limit {
			return nil, fmt.Errorf("slot %d out of range", s.slots[i])
		}
		s.mean[i], s.scale[i] = d.f64(), d.f64()
		d.f64s(s.w[i*s.out : (i+1)*s.out])
	}
	if err := d.finish(); err != nil {
		return nil, err
	}
	for _, xs := range [][]float64{s.bias, s.w, s.mean, s.scale} {
		zeroNonFinite(xs)
	}
	for i, mean := range s.mean {
		if math.Abs(mean) > maxStat { // see moments.sane
			s.mean[i], s.scale[i] = 0, 0
		}
	}
	if !s.index() {
		return nil, fmt.Errorf("repeated slot")
	}
	return s, nil
}

// zeroNonFinite zeroes the numbers of xs that are not finite (from a snapshot taken before the
// learner's state was guarded): such a weight or statistic would make every score NaN.
func zeroNonFinite(xs []float64) {
	for i, x := range xs {
		if !finite(x) {
			xs[i] = 0
		}
	}
}
