package learner

import "fmt"

// MarshalBinary encodes the trainer's full state as a checkpoint: magic "SLCK", version, spec as JSON,
// counters, the bias, then every touched slot's optimizer state (z, sqrt of n, w) and standardization statistics.
func (t *Online) MarshalBinary() ([]byte, error) {
	p, out := &t.p, t.p.out
	e := newEncoder(checkpointMagic, 1<<16)
	if err := e.spec(t.spec); err != nil {
		return nil, fmt.Errorf("marshal trainer: %w", err)
	}
	e.u64(uint64(t.seen))
	e.f64s([]float64{t.target.n, t.target.mean, t.target.m2})
	e.coords(p.c[p.bias():])

	var touched []uint32
	for slot := 0; slot < p.dim; slot++ {
		if p.touched(slot) {
			touched = append(touched, uint32(slot))
		}
	}
	e.u32(uint32(len(touched)))
	for _, slot := range touched {
		e.u32(slot)
		e.coords(p.c[int(slot)*out:][:out])
	}

	var stats []uint32
	for slot := range t.stats {
		if t.stats[slot].n != 0 {
			stats = append(stats, uint32(slot))
		}
	}
	e.u32(uint32(len(stats)))
	for _, slot := range stats {
		st := &t.stats[slot]
		e.u32(slot)
		e.f64s([]float64{st.n, st.mean, st.m2})
	}
	return e.b, nil
}

// UnmarshalTrainer resumes a trainer from a checkpoint written by MarshalBinary; learning continues
// bit-exactly as if the trainer had never stopped.
func UnmarshalTrainer(data []byte) (Trainer, error) {
	if len(data) >= 4 {
		switch string(data[:4]) {
		case familyCheckpointMagic:
			t, err := decodeFamily(data)
			if err != nil {
				return nil, fmt.Errorf("unmarshal trainer: %w", err)
			}
			return t, nil
		case autoCheckpointMagic:
			t, err := decodeAuto(data)
			if err != nil {
				return nil, fmt.Errorf("unmarshal trainer: %w", err)
			}
			return t, nil
		}
	}
	t, err := decodeCheckpoint(data)
	if err != nil {
		return nil, fmt.Errorf("unmarshal trainer: %w", err)
	}
	return t, nil
}

func decodeCheckpoint(data []byte) (*Online, error) {
	d, err := newDecoder(data, checkpointMagic)
	if err != nil {
		return nil, err
	}
	spec := d.spec()
	if d.err != nil {
		return nil, d.err
	}
	out := spec.outputs()
	seen := int64(d.u64())
	var target moments
	target.n, target.mean, target.m2 = d.f64(), d.f64(), d.f64()
	bias := make([]coord, out)
	d.coords(bias)
	rows := d.count(4 + 24*out)
	if d.err != nil {
		return nil, d.err
	}
	t, err := NewOnline(spec)
	if err != nil {
		return nil, err
	}
	t.seen, t.target = seen, target
	t.target.sane()
	p := &t.p
	copy(p.c[p.bias():], bias)
	for range rows {
		slot := d.u32()
		if d.err == nil && int(slot) >= p.dim {
			return nil, fmt.Errorf("slot %d out of range", slot)
		}
		if d.err != nil {
			break
		}
		d.coords(p.c[int(slot)*out:][:out])
		t.used.add(slot)
	}
	nstats := d.count(4 + 24)
	if d.err == nil && nstats > 0 && t.stats == nil {
		return nil, fmt.Errorf("statistics for a spec that does not standardize")
	}
	for range nstats {
		slot := d.u32()
		if d.err == nil && int(slot) >= p.dim {
			return nil, fmt.Errorf("slot %d out of range", slot)
		}
		if d.err != nil {
			break
		}
		st := &t.stats[slot]
		st.n, st.mean, st.m2 = d.f64(), d.f64(), d.f64()
		st.sane()
	}
	if err := d.finish(); err != nil {
		return nil, err
	}
	saneCoords(p.c)
	return t, nil
}

// saneCoords zeroes coordinates whose state is not finite (from a checkpoint written before updates
// were guarded), so that they learn afresh instead of poisoning every score.
func saneCoords(cs []coord) {
	for i, c := range cs {
		if !finiteState(c.z, c.s, c.w) {
			cs[i] = coord{}
		}
	}
}
