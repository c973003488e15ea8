package learner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"
)

// Delta is how a linear model's serving weights changed since a published version, its base: the
// rows (slot, weights, standardization) that differ from the base's, as absolute values, plus the
// bias and the counters. A delta is cumulative: it holds every change since the base, so the
// newest delta of a base is all a predictor needs (missing earlier ones loses nothing), and
// applying one twice changes nothing. It applies only to the exact base version's weights
// (Snapshot.Apply).
type Delta struct {
	Model string `json:"model"`
	// Base is the published version the delta applies to; Seq numbers the deltas of one base from 1.
	Base int64 `json:"base"`
	Seq  int64 `json:"seq"`
	// CreatedAt is when the delta was taken; To and ArrivedTo are the event time and the arrival on
	// the examples topic of the newest example it learned (as in Version), for freshness.
	CreatedAt time.Time `json:"created_at"`
	To        time.Time `json:"to,omitzero"`
	ArrivedTo time.Time `json:"arrived_to,omitzero"`
	// Examples is the number of examples learned in total.
	Examples int64 `json:"examples"`

	seen   int64
	target moments
	out    int
	bias   []float64
	slots  []uint32 // ascending
	w      []float64
	mean   []float64
	scale  []float64
}

// DeltaStore keeps each model's newest delta next to its live version.
type DeltaStore interface {
	// PublishDelta stores d as its model's delta, replacing the previous one; with a fence, only
	// while the fence holds the model's lease (ErrFenced-style refusal otherwise).
	PublishDelta(ctx context.Context, d *Delta, fence string) error
	// Delta returns the model's newest delta, nil when it has none.
	Delta(ctx context.Context, model string) (*Delta, error)
}

// ErrNoDelta is returned by NewDelta for snapshots that have no delta between them: a non-linear
// family (which publishes whole versions only) or two different specs.
var ErrNoDelta = errors.New("no delta between these snapshots")

// DefaultDeltaMaxRows bounds a delta's rows unless the learner is told otherwise: 65,536 rows of a
// single-output model are about 1.8 MB.
const DefaultDeltaMaxRows = 1 << 16

// Rows is the number of slots the delta changes.
func (d *Delta) Rows() int { return len(d.slots) }

// NewDelta returns the change from base to cur, two snapshots of one linear model (the metadata
// is left for the caller to fill in).
func NewDelta(base, cur *Snapshot) (*Delta, error) {
	if !base.linear() || !cur.linear() || base.out != cur.out || !sameSpec(base.spec, cur.spec) {
		return nil, ErrNoDelta
	}
	d := &Delta{seen: cur.seen, target: cur.target, out: cur.out, bias: append([]float64(nil), cur.bias...)}
	out := cur.out
	// room for every row of cur, which most deltas of a busy model come near
	rows := len(cur.slots)
	d.slots, d.w = make([]uint32, 0, rows), make([]float64, 0, rows*out)
	d.mean, d.scale = make([]float64, 0, rows), make([]float64, 0, rows)
	add := func(s *Snapshot, i int, zero bool) {
		d.slots = append(d.slots, s.slots[i])
		if zero {
			d.w = append(d.w, make([]float64, out)...)
			d.mean, d.scale = append(d.mean, 0), append(d.scale, 0)
			return
		}
		d.w = append(d.w, s.w[i*out:(i+1)*out]...)
		d.mean, d.scale = append(d.mean, s.mean[i]), append(d.scale, s.scale[i])
	}
	i, j := 0, 0
	for i < len(base.slots) || j < len(cur.slots) {
		switch {
		case j == len(cur.slots) || (i < len(base.slots) && base.slots[i] < cur.slots[j]):
			add(base, i, true) // the weight went back to zero
			i++
		case i == len(base.slots) || cur.slots[j] < base.slots[i]:
			add(cur, j, false)
			j++
		default:
			if !sameRow(base, i, cur, j) {
				add(cur, j, false)
			}
			i++
			j++
		}
	}
	return d, nil
}

// linear reports whether s holds a linear model's weights: not a non-linear family's model, nor an
// auto trainer's blend of members (whose snapshot has no weights of its own).
func (s *Snapshot) linear() bool { return s != nil && s.fam == nil && s.blend == nil }

func sameSpec(a, b Spec) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}

func sameRow(a *Snapshot, i int, b *Snapshot, j int) bool {
	eq := func(x, y float64) bool { return math.Float64bits(x) == math.Float64bits(y) }
	if !eq(a.mean[i], b.mean[j]) || !eq(a.scale[i], b.scale[j]) {
		return false
	}
	for o := range a.out {
		if !eq(a.w[i*a.out+o], b.w[j*b.out+o]) {
			return false
		}
	}
	return true
}

// Apply returns a new snapshot: s with d's changes. s must be the weights of d's base version, and
// is not changed (requests that hold it keep scoring with it). A row whose weights are all zero
// after the delta is left out, as in a snapshot taken from the trainer, so the result predicts
// exactly as the trainer's snapshot the delta was taken from.
func (s *Snapshot) Apply(d *Delta) (*Snapshot, error) {
	if !s.linear() || d.out != s.out || len(d.bias) != s.out {
		return nil, fmt.Errorf("apply delta of %s: not a delta of this model's family and outputs", d.Model)
	}
	limit := uint64(1) << uint(s.spec.HashBits)
	for k, slot := range d.slots {
		if uint64(slot) >= limit || (k > 0 && slot <= d.slots[k-1]) {
			return nil, fmt.Errorf("apply delta of %s: slot %d out of range or out of order", d.Model, slot)
		}
	}
	out := s.out
	n := &Snapshot{spec: s.spec, hasher: s.hasher, mask: s.mask, out: out, seen: d.seen, target: d.target,
		bias:  append([]float64(nil), d.bias...),
		slots: make([]uint32, 0, len(s.slots)+len(d.slots)), w: make([]float64, 0, (len(s.slots)+len(d.slots))*out),
		mean: make([]float64, 0, len(s.slots)+len(d.slots)), scale: make([]float64, 0, len(s.slots)+len(d.slots))}
	keep := func(slot uint32, w []float64, mean, scale float64) {
		for _, x := range w {
			if x != 0 {
				n.slots, n.w = append(n.slots, slot), append(n.w, w...)
				n.mean, n.scale = append(n.mean, mean), append(n.scale, scale)
				return
			}
		}
	}
	i, j := 0, 0
	for i < len(s.slots) || j < len(d.slots) {
		switch {
		case j == len(d.slots) || (i < len(s.slots) && s.slots[i] < d.slots[j]):
			keep(s.slots[i], s.w[i*out:(i+1)*out], s.mean[i], s.scale[i])
			i++
		default:
			if i < len(s.slots) && s.slots[i] == d.slots[j] {
				i++
			}
			keep(d.slots[j], d.w[j*out:(j+1)*out], d.mean[j], d.scale[j])
			j++
		}
	}
	for _, xs := range [][]float64{n.bias, n.w, n.mean, n.scale} {
		zeroNonFinite(xs)
	}
	n.table = newSlotTable(len(n.slots))
	for r, slot := range n.slots {
		n.table.put(slot, int32(r))
	}
	return n, nil
}

const deltaMagic = "SLDL"

// MarshalBinary encodes the delta: magic "SLDL", version, the metadata as JSON, then the weights.
func (d *Delta) MarshalBinary() ([]byte, error) {
	if len(d.bias) != d.out || len(d.w) != len(d.slots)*d.out || len(d.mean) != len(d.slots) || len(d.scale) != len(d.slots) {
		return nil, fmt.Errorf("marshal delta of %s: %d outputs, %d biases, %d rows of %d weights", d.Model, d.out, len(d.bias), len(d.slots), len(d.w))
	}
	meta, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("marshal delta: %w", err)
	}
	e := newEncoder(deltaMagic, 64+len(meta)+len(d.slots)*(20+8*d.out))
	e.u32(uint32(len(meta)))
	e.b = append(e.b, meta...)
	e.u64(uint64(d.seen))
	e.f64s([]float64{d.target.n, d.target.mean, d.target.m2})
	e.u32(uint32(d.out))
	e.f64s(d.bias)
	e.u32(uint32(len(d.slots)))
	for i, slot := range d.slots {
		e.u32(slot)
		e.f64(d.mean[i])
		e.f64(d.scale[i])
		e.f64s(d.w[i*d.out : (i+1)*d.out])
	}
	return e.b, nil
}

// maxDeltaOutputs bounds the outputs a decoded delta may claim (a multiclass model's classes).
const maxDeltaOutputs = 1 << 12

// UnmarshalDelta decodes a delta written by Delta.MarshalBinary.
func UnmarshalDelta(data []byte) (*Delta, error) {
	dec, err := newDecoder(data, deltaMagic)
	if err != nil {
		return nil, fmt.Errorf("unmarshal delta: %w", err)
	}
	d := &Delta{}
	meta := dec.take(int(dec.u32()))
	if dec.err == nil {
		if err := json.Unmarshal(meta, d); err != nil {
			return nil, fmt.Errorf("unmarshal delta: %w", err)
		}
	}
	d.seen = int64(dec.u64())
	d.target.n, d.target.mean, d.target.m2 = dec.f64(), dec.f64(), dec.f64()
	d.target.sane()
	d.out = int(dec.u32())
	if dec.err == nil && (d.out < 1 || d.out > maxDeltaOutputs) {
		return nil, fmt.Errorf("unmarshal delta: %d outputs", d.out)
	}
	d.bias = make([]float64, d.out)
	dec.f64s(d.bias)
	rows := dec.count(4 + 16 + 8*d.out)
	d.slots, d.mean, d.scale = make([]uint32, rows), make([]float64, rows), make([]float64, rows)
	d.w = make([]float64, rows*d.out)
	for i := range rows {
		d.slots[i] = dec.u32()
		d.mean[i], d.scale[i] = dec.f64(), dec.f64()
		dec.f64s(d.w[i*d.out : (i+1)*d.out])
	}
	if err := dec.finish(); err != nil {
		return nil, fmt.Errorf("unmarshal delta: %w", err)
	}
	for i, mean := range d.mean {
		if math.Abs(mean) > maxStat || !finite(mean) { // see moments.sane
			d.mean[i], d.scale[i] = 0, 0
		}
	}
	return d, nil
}
