package learner

import (
	"errors"
	"math"
	"slices"
)

// Quantile sketches of numeric features, from which the trees place their split candidates.
//
// The sketch is KLL (Karnin, Lang and Liberty 2016), written here rather than taken from a library:
// the trees need it deterministic (a fixed alternation instead of random coins, so that a resumed
// checkpoint continues bit-exactly), encoded field by field in this package's checkpoint format
// and checked on decode like the rest of the state, and its items are values that were observed,
// so that a cut can be placed between two distinct values and a point mass (many values exactly 0,
// or 1) stays one value instead of a bucket around it as in a relative-error sketch (DDSketch). No
// Go quantile-sketch module was at hand offline to weigh against it.
const (
	sketchK         = 128  // capacity of the top level; rank error about 1.7/sketchK
	sketchMinLevel  = 8    // capacity of the lowest levels (as the reference implementation's)
	maxSketchLevels = 48   // 2^48 examples of one feature at least before a sketch is full
	maxSketchSlots  = 4096 // features sketched per model; others fall back to normal quantiles
)

var errBadSketch = errors.New("malformed sketch")

// kll is a quantile sketch of a stream of values: level h holds items that each stand for 2^h
// values. A level over its capacity is sorted and compacted: every other item (starting at the
// first or the second, alternately) moves up a level, the others are dropped, an odd one out stays.
// Capacities shrink by 2/3 per level down from the top to sketchMinLevel, so the sketch holds a few
// hundred items (378 after 100,000 values; at most maxSketchItems, about 700, after 2^40), and
// total weight is kept exactly.
type kll struct {
	levels [][]float64
	flips  uint64 // bit h: the offset of level h's next compaction
	// derived from levels: the items held, the most the levels may hold together, the weight
	items, room int
	w           float64
}

// capacities[d] is the capacity of the level d under the top: sketchK·(2/3)^d, at least sketchMinLevel.
var capacities = func() (c [maxSketchLevels]int) {
	c[0] = sketchK
	for d := 1; d < len(c); d++ {
		c[d] = max(c[d-1]*2/3, sketchMinLevel)
	}
	return c
}()

// maxSketchItems bounds the items of a sketch: the room of all its levels, and the one just added.
var maxSketchItems = func() int {
	n := 1
	for _, c := range capacities {
		n += c
	}
	return n
}()

// capacity is the most items level h of a sketch of H levels holds.
func capacity(h, H int) int { return capacities[H-1-h] }

// add folds in one value.
func (s *kll) add(x float64) {
	if len(s.levels) == 0 {
		s.levels = append(s.levels, nil)
		s.count()
	}
	s.levels[0] = append(s.levels[0], x)
	// Lazily, as KLL's reference implementation: only once the sketch holds more items than all its
	// levels together may, the lowest level at its capacity is compacted.
	s.w++
	if s.items++; s.items <= s.room {
		return
	}
	for h, lv := range s.levels {
		if len(lv) >= capacity(h, len(s.levels)) {
			s.compact(h)
			return
		}
	}
}

// compact moves half of level h's items up a level. Level 0 is sorted first; the levels above are
// kept sorted (the items moving up are merged in), so they need no sort of their own.
func (s *kll) compact(h int) {
	lv := s.levels[h]
	if h == 0 {
		slices.Sort(lv)
	}
	if h+1 >= maxSketchLevels { // full: the top level keeps every other item (weight is lost)
		for i := 0; 2*i < len(lv); i++ {
			lv[i] = lv[2*i]
		}
		s.levels[h] = lv[:(len(lv)+1)/2]
		s.count()
		return
	}
	if h+1 == len(s.levels) {
		s.levels = append(s.levels, nil)
		defer s.count()
	}
	keep := 0
	if len(lv)%2 == 1 { // the largest stays behind
		keep = 1
	}
	off := int(s.flips >> uint(h) & 1)
	s.flips ^= 1 << uint(h)
	m := (len(lv) - keep - off + 1) / 2 // items moving up: lv[off], lv[off+2], ...
	s.levels[h+1] = mergeUp(s.levels[h+1], lv, off, m)
	if keep == 1 {
		lv[0] = lv[len(lv)-1]
	}
	s.items -= len(lv) - keep - m
	s.levels[h] = lv[:keep]
}

// mergeUp merges lv[off], lv[off+2], ... (m items, sorted) into the sorted dst, from the back.
func mergeUp(dst, lv []float64, off, m int) []float64 {
	i, j := len(dst)-1, m-1
	dst = slices.Grow(dst, m)[:len(dst)+m]
	for k := len(dst) - 1; j >= 0; k-- {
		if x := lv[off+2*j]; i < 0 || dst[i] <= x {
			dst[k] = x
			j--
		} else {
			dst[k] = dst[i]
			i--
		}
	}
	return dst
}

// count sets the items held, the room for them and the weight.
func (s *kll) count() {
	s.items, s.room, s.w = 0, 0, 0
	for h, lv := range s.levels {
		s.items, s.room = s.items+len(lv), s.room+capacity(h, len(s.levels))
		s.w += float64(len(lv)) * float64(uint64(1)<<uint(h))
	}
}

// weight is the number of values the sketch stands for.
func (s *kll) weight() float64 { return s.w }

// wpoint is a distinct value and the weight of the items at it.
type wpoint struct{ v, w float64 }

// points returns the sketch's distinct values, sorted, with their weights, in dst's memory.
func (s *kll) points(dst []wpoint) []wpoint {
	dst = dst[:0]
	for h, lv := range s.levels {
		w := float64(uint64(1) << uint(h))
		for _, v := range lv {
			dst = append(dst, wpoint{v, w})
		}
	}
	slices.SortFunc(dst, func(a, b wpoint) int {
		switch {
		case a.v < b.v:
			return -1
		case a.v > b.v:
			return 1
		}
		return 0
	})
	out := dst[:0]
	for _, p := range dst {
		if n := len(out); n > 0 && out[n-1].v == p.v {
			out[n-1].w += p.w
			continue
		}
		out = append(out, p)
	}
	return out
}

// quantileCuts appends to dst up to bins-1 thresholds that split points (sorted distinct values)
// into bins of about equal weight. A point heavier than a bin (a point mass: many values exactly 0,
// or 1) is a bin of its own, and the other points share the remaining bins: the share is found by
// setting the heavy points aside until none is left over. Every cut lies between two neighboring
// distinct values (see between); fewer than two distinct values give no cut.
func quantileCuts(dst []float64, pts []wpoint, bins int) []float64 {
	if len(pts) < 2 || bins < 2 {
		return dst
	}
	share := 0.0
	for _, p := range pts {
		share += p.w
	}
	share /= float64(bins)
	for range 8 {
		light, heavy := 0.0, 0
		for _, p := range pts {
			if p.w >= share {
				heavy++
			} else {
				light += p.w
			}
		}
		if heavy >= bins || light == 0 || light/float64(bins-heavy) == share {
			break
		}
		share = light / float64(bins-heavy)
	}
	// Cut after p if it or next is heavy, or where the weight since the last heavy point crosses
	// its next multiple of the share (nearer before next than after it).
	n, cum, base, k := len(dst), 0.0, 0.0, 1.0
	for i := 0; i < len(pts)-1 && len(dst)-n < bins-1; i++ {
		p, next := pts[i], pts[i+1]
		cum += p.w
		heavy := p.w >= share || next.w >= share
		if !heavy && cum+next.w/2 < base+k*share {
			continue
		}
		dst = append(dst, between(p, next))
		if k++; heavy {
			base, k = cum, 1
		}
	}
	return dst
}

// between is a threshold that sends a left and b right (a.v < b.v): a's value, or where b is the
// heavier the largest number under b's, so that the heavier keeps to its side whatever values
// between the two the sketch did not keep.
func between(a, b wpoint) float64 {
	if b.w > a.w {
		return math.Nextafter(b.v, math.Inf(-1))
	}
	return a.v
}

func (s *kll) encode(e *encoder) {
	e.u64(s.flips)
	e.u32(uint32(len(s.levels)))
	for _, lv := range s.levels {
		e.u32(uint32(len(lv)))
		e.f64s(lv)
	}
}

func (s *kll) decode(d *decoder) {
	s.flips = d.u64()
	n := d.bounded(maxSketchLevels)
	s.levels = make([][]float64, n)
	items := 0
	for h := range s.levels {
		m := d.bounded(uint32(maxSketchItems))
		if items += m; items > maxSketchItems {
			d.fail(errBadSketch)
		}
		if d.err != nil {
			return
		}
		s.levels[h] = make([]float64, m)
		d.f64s(s.levels[h])
		if !allFinite(s.levels[h]) || h > 0 && !slices.IsSorted(s.levels[h]) {
			d.fail(errBadSketch)
			return
		}
	}
	s.count()
}

// sketches are the quantile sketches of a model's numeric features (the first maxSketchSlots it
// sees), each with the split candidates drawn from it: placed when the sketch first holds 2·bins
// values and again each time it has grown by an eighth, so that they follow the feature without
// sorting the sketch for every new leaf. The candidates are part of the state (a checkpoint
// carries them), since they depend on when they were placed.
type sketches struct {
	bins  int
	index slotTable // slot -> position in sk; made with the first sketch
	slots []uint32
	sk    []kll
	cuts  [][]float64 // per sketch: its split candidates, nil until placed
	at    []float64   // per sketch: its weight when they were placed
	pts   []wpoint    // scratch
}

func newSketches(bins int) *sketches { return &sketches{bins: bins} }

// lookup returns the position of slot's sketch, or -1.
func (q *sketches) lookup(slot uint32) int32 {
	if len(q.index.keys) == 0 {
		return -1
	}
	return q.index.get(slot)
}

// sketched reports whether slot has a sketch (or would get one): if not, the trees place its
// candidates at normal quantiles.
func (q *sketches) sketched(slot uint32) bool {
	return q.lookup(slot) >= 0 || len(q.sk) < maxSketchSlots
}

// observe folds the numeric values of in into their sketches and places candidates where due.
func (q *sketches) observe(in *input) {
	for i, slot := range in.slots {
		if !in.numeric[i] {
			continue
		}
		j := q.lookup(slot)
		if j < 0 {
			if len(q.sk) >= maxSketchSlots {
				continue
			}
			j = q.add(slot)
		}
		s := &q.sk[j]
		s.add(in.raw[i])
		if w := s.weight(); w >= float64(2*q.bins) && (q.at[j] == 0 || w >= q.at[j]*9/8) {
			q.pts = s.points(q.pts)
			q.cuts[j], q.at[j] = quantileCuts(q.cuts[j][:0], q.pts, q.bins), w
		}
	}
}

func (q *sketches) add(slot uint32) int32 {
	if len(q.index.keys) == 0 {
		q.index = newSlotTable(maxSketchSlots)
	}
	j := int32(len(q.sk))
	q.index.put(slot, j)
	q.slots, q.sk = append(q.slots, slot), append(q.sk, kll{})
	q.cuts, q.at = append(q.cuts, nil), append(q.at, 0)
	return j
}

// candidates returns slot's split candidates, and false while it has none (too few values seen,
// or fewer than two distinct ones).
func (q *sketches) candidates(slot uint32) ([]float64, bool) {
	j := q.lookup(slot)
	if j < 0 || len(q.cuts[j]) == 0 {
		return nil, false
	}
	return q.cuts[j], true
}

func (q *sketches) encode(e *encoder) {
	e.u32(uint32(len(q.sk)))
	for j := range q.sk {
		e.u32(q.slots[j])
		q.sk[j].encode(e)
		e.f64(q.at[j])
		e.u32(uint32(len(q.cuts[j])))
		e.f64s(q.cuts[j])
	}
}

func (q *sketches) decode(d *decoder) {
	n := d.bounded(maxSketchSlots)
	for range n {
		slot := d.u32()
		if d.err != nil {
			return
		}
		if q.lookup(slot) >= 0 {
			d.fail(errRepeatedSlot)
			return
		}
		j := q.add(slot)
		q.sk[j].decode(d)
		q.at[j] = d.f64()
		m := d.bounded(maxBins)
		if d.err != nil {
			return
		}
		if m > 0 {
			q.cuts[j] = make([]float64, m)
			d.f64s(q.cuts[j])
		}
		if !finite(q.at[j]) || !allFinite(q.cuts[j]) {
			d.fail(errBadSketch)
			return
		}
	}
}

func allFinite(xs []float64) bool {
	for _, x := range xs {
		if !finite(x) {
			return false
		}
	}
	return true
}

// decodeSketches reads a model's sketches, the last part of its checkpoint from format version 2
// on; a model resumed from an older checkpoint starts with none.
func decodeSketches(d *decoder, q *sketches) {
	if d.version >= familySketchVersion {
		q.decode(d)
	}
}
