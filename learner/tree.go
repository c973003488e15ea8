package learner

import (
	"math"
)

// Bounds that keep a tree's memory in check whatever the stream holds.
const (
	maxTreeNodes = 4096 // nodes per tree
	maxLeafObs   = 256  // features a leaf keeps split statistics for
	maxBins      = 64
)

// htConfig are the settings of one Hoeffding tree.
type htConfig struct {
	grace, delta, tau float64
	maxDepth, bins    int
	features          float64 // share of features a leaf considers (1 for a lone tree)
}

func htConfigOf(spec Spec, features float64) htConfig {
	t := spec.Tree
	return htConfig{grace: float64(t.GracePeriod), delta: t.Delta, tau: t.Tau, maxDepth: t.MaxDepth, bins: t.Bins, features: features}
}

// htObs is a leaf's split statistics for one feature: class weights per bin, the bins cut at thr.
// Thresholds are placed when the leaf first sees the feature (see cuts): for a numeric feature the
// split candidates of the model's quantile sketch of it; fresh marks cuts placed before the
// feature had any, placed again at the next split attempt.
type htObs struct {
	slot  uint32
	fresh bool
	thr   []float64
	cnt   []float64  // per bin: weight of class 0, of class 1
	tot   [2]float64 // the sums of cnt per class
}

// htNode is a leaf (left < 0) or a split on slot at thr: an input at most thr, or missing, goes left.
type htNode struct {
	slot        uint32
	thr         float64
	left, right int32
	depth       int32
	n           [2]float64 // class weights seen at the leaf
	since       float64    // weight since the last split attempt
	seed        uint64     // picks the leaf's features in a forest
	obs         []htObs
	index       slotTable // slot -> position in obs, made with the first observer
}

// lookup returns the position of slot's observer in n.obs, or -1.
func (n *htNode) lookup(slot uint32) int32 {
	if len(n.index.keys) == 0 {
		return -1
	}
	return n.index.get(slot)
}

// add indexes the observer about to be appended to n.obs for slot.
func (n *htNode) add(slot uint32) {
	if len(n.index.keys) == 0 {
		n.index = newSlotTable(maxLeafObs)
	}
	n.index.put(slot, int32(len(n.obs)))
}

// htree is a Hoeffding tree (Domingos and Hulten 2000) for binary labels: a leaf splits when the
// information gain of its best split beats the second best by the Hoeffding bound.
type htree struct {
	cfg   htConfig
	nodes []htNode
	r     rng
	q     *sketches // the model's sketches of its numeric features, nil when serving
}

func newHTree(cfg htConfig, seed uint64, q *sketches) *htree {
	t := &htree{cfg: cfg, r: rng{s: seed}, q: q}
	t.nodes = []htNode{t.leaf(0, [2]float64{})}
	return t
}

func (t *htree) leaf(depth int32, n [2]float64) htNode {
	return htNode{left: -1, right: -1, depth: depth, n: n, seed: t.r.next()}
}

// valueOf returns the raw value of slot in in, and whether it is there.
func valueOf(in *input, slot uint32) (float64, bool) {
	for i, s := range in.slots {
		if s == slot {
			return in.raw[i], true
		}
	}
	return 0, false
}

// route returns the leaf of in.
func route(in *input, leaf func(i int32) bool, split func(i int32) (uint32, float64, int32, int32)) int32 {
	i := int32(0)
	for !leaf(i) {
		slot, thr, l, r := split(i)
		if v, ok := valueOf(in, slot); ok && v > thr {
			i = r
		} else {
			i = l
		}
	}
	return i
}

func (t *htree) find(in *input) int32 {
	return route(in, func(i int32) bool { return t.nodes[i].left < 0 }, func(i int32) (uint32, float64, int32, int32) {
		n := &t.nodes[i]
		return n.slot, n.thr, n.left, n.right
	})
}

// leafProb is a leaf's P(label = 1), Laplace-smoothed.
func leafProb(n [2]float64) float64 { return (n[1] + 1) / (n[0] + n[1] + 2) }

// nbMin is the weight a leaf must have seen before it predicts by naive Bayes.
const nbMin = 10

// prob is P(label = 1) at the leaf of in: naive Bayes over the leaf's binned feature statistics
// (the features of in that the leaf keeps), from the Laplace-smoothed class weights, as River's
// naive Bayes leaves; the class weights alone while the leaf is young.
func (t *htree) prob(in *input) float64 {
	n := &t.nodes[t.find(in)]
	if n.n[0]+n.n[1] < nbMin || len(n.obs) == 0 {
		return leafProb(n.n)
	}
	// The likelihood ratios are multiplied, and the product's log taken only when it nears the
	// ends of the float range: one logarithm per example instead of two per feature.
	m, prod := math.Log((n.n[1]+1)/(n.n[0]+1)), 1.0
	for i, slot := range in.slots {
		j := n.lookup(slot)
		if j < 0 || n.obs[j].fresh {
			continue
		}
		o := &n.obs[j]
		b := binOf(o.thr, in.raw[i])
		bins := float64(len(o.thr) + 1)
		prod *= (o.cnt[2*b+1] + 1) * (o.tot[0] + bins) / ((o.cnt[2*b] + 1) * (o.tot[1] + bins))
		if prod > 1e100 || prod < 1e-100 {
			m += math.Log(prod)
			prod = 1
		}
	}
	return sigmoid(clampAbs(m+math.Log(prod), 30))
}

// considers reports whether a leaf with seed looks at slot (a random share of the features in a forest).
func (t *htree) considers(seed uint64, slot uint32) bool {
	if t.cfg.features >= 1 {
		return true
	}
	return float64(splitmix(seed^uint64(slot))>>11)/(1<<53) < t.cfg.features
}

// learn adds one example of label y (0 or 1) with weight w.
func (t *htree) learn(in *input, y float64, w float64) {
	li := t.find(in)
	n := &t.nodes[li]
	c := 0
	if y >= 0.5 {
		c = 1
	}
	n.n[c] += w
	n.since += w
	for i, slot := range in.slots {
		if !t.considers(n.seed, slot) {
			continue
		}
		o := t.observer(n, slot, in, i)
		if o == nil {
			continue
		}
		b := binOf(o.thr, in.raw[i])
		o.cnt[2*b+c] += w
		o.tot[c] += w
	}
	if n.since >= t.cfg.grace {
		n.since = 0
		t.attempt(li, in)
	}
}

// binOf is the bin of v: the first cut it is at most, else the last bin.
func binOf(thr []float64, v float64) int {
	for j, c := range thr {
		if v <= c {
			return j
		}
	}
	return len(thr)
}

// observer returns the leaf's statistics for the feature at position i of in, made on first sight.
func (t *htree) observer(n *htNode, slot uint32, in *input, i int) *htObs {
	if j := n.lookup(slot); j >= 0 {
		return &n.obs[j]
	}
	if len(n.obs) >= maxLeafObs {
		return nil
	}
	o := htObs{slot: slot}
	t.cuts(&o, in, i)
	n.add(slot)
	n.obs = append(n.obs, o)
	return &n.obs[len(n.obs)-1]
}

// cuts places o's thresholds for the feature at position i of in (and clears its counts): one
// at 0.5 for a one-hot feature, else numericCuts, or until those exist one cut at the value seen,
// marked fresh (placed again at the next split attempt).
func (t *htree) cuts(o *htObs, in *input, i int) {
	o.thr, o.fresh = o.thr[:0], false
	switch {
	case !in.numeric[i]:
		o.thr = append(o.thr, 0.5)
	case !t.numericCuts(o, in):
		o.thr, o.fresh = append(o.thr[:0], in.raw[i]), true
	}
	o.cnt, o.tot = make([]float64, 2*(len(o.thr)+1)), [2]float64{}
}

// replace places a fresh observer's thresholds again once its feature has split candidates.
func (t *htree) replace(o *htObs, in *input) {
	v := o.thr[0]
	if o.thr = o.thr[:0]; !t.numericCuts(o, in) {
		o.thr = append(o.thr, v)
		return
	}
	o.fresh = false
	o.cnt, o.tot = make([]float64, 2*(len(o.thr)+1)), [2]float64{}
}

// numericCuts appends a numeric feature's thresholds to o.thr: the split candidates of its quantile
// sketch (the model's, over all the examples seen: measured as good as candidates from the part of
// the sketch within the leaf's interval of the feature, and cheaper) or, where it has none, the
// normal quantiles of its running mean and deviation. It reports false (appending nothing) while
// the feature has none yet.
func (t *htree) numericCuts(o *htObs, in *input) bool {
	if t.q == nil || !t.q.sketched(o.slot) {
		return t.normalCuts(o, in.stats)
	}
	c, ok := t.q.candidates(o.slot)
	o.thr = append(o.thr, c...)
	return ok
}

// normalCuts places o's thresholds at the normal quantiles of the feature's running mean and
// deviation, and reports false while it has shown no spread.
func (t *htree) normalCuts(o *htObs, stats []moments) bool {
	if stats == nil || !(stats[o.slot].scale > 0) || stats[o.slot].n < float64(2*t.cfg.bins) {
		return false
	}
	st := &stats[o.slot]
	for j := 1; j < t.cfg.bins; j++ {
		z := math.Sqrt2 * math.Erfinv(2*float64(j)/float64(t.cfg.bins)-1)
		o.thr = append(o.thr, st.mean+z/st.scale)
	}
	return true
}

// entropy is the binary entropy (bits) of class weights n.
func entropy(n [2]float64) float64 {
	t := n[0] + n[1]
	if t <= 0 {
		return 0
	}
	return weightedEntropy(n) / t
}

// weightedEntropy is t times the entropy (bits) of class weights n of total t: (t ln t - sum c ln c)
// / ln 2, three logarithms where the entropy's own form takes two divisions and two log2s.
func weightedEntropy(n [2]float64) float64 {
	t := n[0] + n[1]
	if t <= 0 {
		return 0
	}
	h := t * math.Log(t)
	for _, c := range n {
		if c > 0 {
			h -= c * math.Log(c)
		}
	}
	return max(h, 0) / math.Ln2
}

// candidate is the best split of one feature.
type candidate struct {
	gain float64
	thr  float64
	l, r [2]float64
	obs  int
}

// best returns the best cut of o at a leaf with class weights n.
func bestCut(o *htObs, n [2]float64) candidate {
	best := candidate{gain: math.Inf(-1)}
	present := o.tot
	l := [2]float64{max(n[0]-present[0], 0), max(n[1]-present[1], 0)} // missing goes left
	total, h := n[0]+n[1], entropy(n)
	for j, thr := range o.thr {
		l[0] += o.cnt[2*j]
		l[1] += o.cnt[2*j+1]
		r := [2]float64{max(n[0]-l[0], 0), max(n[1]-l[1], 0)}
		wl, wr := l[0]+l[1], r[0]+r[1]
		if wl < 0.01*total || wr < 0.01*total {
			continue
		}
		g := h - (weightedEntropy(l)+weightedEntropy(r))/total
		if g > best.gain {
			best = candidate{gain: g, thr: thr, l: l, r: r}
		}
	}
	return best
}

// attempt splits leaf li when the Hoeffding bound says its best split is the best.
func (t *htree) attempt(li int32, in *input) {
	n := &t.nodes[li]
	if int(n.depth) >= t.cfg.maxDepth || len(t.nodes)+2 > maxTreeNodes || n.n[0] == 0 || n.n[1] == 0 {
		return
	}
	first, second := candidate{gain: math.Inf(-1), obs: -1}, 0.0
	for j := range n.obs {
		o := &n.obs[j]
		if o.fresh {
			t.replace(o, in)
			continue
		}
		c := bestCut(o, n.n)
		c.obs = j
		switch {
		case c.gain > first.gain:
			second = max(second, first.gain)
			first = c
		case c.gain > second:
			second = c.gain
		}
	}
	total := n.n[0] + n.n[1]
	eps := math.Sqrt(math.Log(1/t.cfg.delta) / (2 * total))
	if first.obs < 0 || !(first.gain > 0) || !(first.gain-second > eps || eps < t.cfg.tau) {
		return
	}
	slot, depth := n.obs[first.obs].slot, n.depth+1
	left, right := t.leaf(depth, first.l), t.leaf(depth, first.r)
	n = &t.nodes[li]
	n.slot, n.thr, n.obs, n.index = slot, first.thr, nil, slotTable{}
	n.left, n.right = int32(len(t.nodes)), int32(len(t.nodes)+1)
	t.nodes = append(t.nodes, left, right)
}

// clone returns a deep copy of t, the serving copy of a tree: it scores with the same code.
func (t *htree) clone() *htree {
	c := &htree{cfg: t.cfg, r: t.r, nodes: make([]htNode, len(t.nodes))} // without sketches: serving
	for i, n := range t.nodes {
		n.obs = append([]htObs(nil), n.obs...)
		for j := range n.obs {
			n.obs[j].thr = append([]float64(nil), n.obs[j].thr...)
			n.obs[j].cnt = append([]float64(nil), n.obs[j].cnt...)
		}
		n.index.keys = append([]uint32(nil), n.index.keys...)
		n.index.rows = append([]int32(nil), n.index.rows...)
		c.nodes[i] = n
	}
	return c
}

// childOK reports whether child is a valid child of node i among n: leaves have -1 on both sides,
// splits point forward, so every path ends.
func childOK(i int, l, r int32, n int) bool {
	if l < 0 || r < 0 {
		return l == -1 && r == -1
	}
	return int(l) > i && int(r) > i && int(l) < n && int(r) < n
}

func (t *htree) encode(e *encoder) {
	e.u64(t.r.s)
	e.u32(uint32(len(t.nodes)))
	for i := range t.nodes {
		n := &t.nodes[i]
		e.u32(n.slot)
		e.f64(n.thr)
		e.u32(uint32(n.left))
		e.u32(uint32(n.right))
		e.u32(uint32(n.depth))
		e.f64s([]float64{n.n[0], n.n[1], n.since})
		e.u64(n.seed)
		e.u32(uint32(len(n.obs)))
		for _, o := range n.obs {
			e.u32(o.slot)
			fresh := uint32(0)
			if o.fresh {
				fresh = 1
			}
			e.u32(fresh)
			e.u32(uint32(len(o.thr)))
			e.f64s(o.thr)
			e.f64s(o.cnt)
		}
	}
}

func (t *htree) decode(d *decoder) {
	t.r.s = d.u64()
	n := d.count(4 + 8 + 4 + 4 + 4 + 24 + 8 + 4)
	if d.err == nil && (n == 0 || n > maxTreeNodes) {
		d.fail(errBadTree)
	}
	t.nodes = t.nodes[:0]
	for i := range n {
		var nd htNode
		nd.slot, nd.thr, nd.left, nd.right = d.u32(), d.f64(), int32(d.u32()), int32(d.u32())
		nd.depth = int32(d.u32())
		nd.n[0], nd.n[1], nd.since = d.f64(), d.f64(), d.f64()
		nd.seed = d.u64()
		nobs := d.bounded(maxLeafObs)
		if d.err != nil {
			return
		}
		if !childOK(i, nd.left, nd.right, n) || nd.depth < 0 || !finiteState(nd.thr, nd.n[0], nd.n[1]) || !finite(nd.since) {
			d.fail(errBadTree)
			return
		}
		for range nobs {
			o := htObs{slot: d.u32(), fresh: d.u32() == 1}
			nthr := d.bounded(maxBins)
			o.thr = make([]float64, nthr)
			d.f64s(o.thr)
			o.cnt = make([]float64, 2*(nthr+1))
			d.f64s(o.cnt)
			if d.err != nil {
				return
			}
			zeroNonFinite(o.thr)
			zeroNonFinite(o.cnt)
			for k := 0; k < len(o.cnt); k += 2 {
				o.tot[0] += o.cnt[k]
				o.tot[1] += o.cnt[k+1]
			}
			if nd.lookup(o.slot) >= 0 {
				d.fail(errRepeatedSlot)
				return
			}
			nd.add(o.slot)
			nd.obs = append(nd.obs, o)
		}
		t.nodes = append(t.nodes, nd)
	}
}

// pageHinkley detects a rise in the mean of a stream of errors (Page 1954): the per-tree drift
// detector of the tree and the forest. Its whole state is four numbers, so checkpoints carry it.
type pageHinkley struct{ n, mean, sum, min float64 }

// Page-Hinkley's tolerance, threshold and the examples it waits for, as River's defaults.
const (
	phDelta  = 0.005
	phLambda = 50
	phMinN   = 30
)

// warning reports a rise of half the drift threshold: the forest starts a background tree.
func (p *pageHinkley) warning() bool { return p.n >= phMinN && p.sum-p.min > phLambda/2 }

// add folds in one error and reports a drift (then starts afresh).
func (p *pageHinkley) add(x float64) bool {
	p.n++
	p.mean += (x - p.mean) / p.n
	p.sum += x - p.mean - phDelta
	p.min = min(p.min, p.sum)
	if p.n >= phMinN && p.sum-p.min > phLambda {
		*p = pageHinkley{}
		return true
	}
	return false
}

func (p *pageHinkley) encode(e *encoder) { e.f64s([]float64{p.n, p.mean, p.sum, p.min}) }

func (p *pageHinkley) decode(d *decoder) {
	p.n, p.mean, p.sum, p.min = d.f64(), d.f64(), d.f64(), d.f64()
	if !finiteState(p.n, p.mean, p.sum) || !finite(p.min) {
		*p = pageHinkley{}
	}
}

// treeModel is the "tree" family: a Hoeffding adaptive tree, in a simple form. Every node keeps a
// Page-Hinkley detector fed the tree's absolute error on the examples that pass through it; when
// the detector of a split fires, the subtree under it is regrown from a fresh leaf (the root's
// regrows the whole tree), so a change in one region of the inputs costs only that region's
// structure. (Bifet and Gavaldà's HAT grows an alternate subtree and swaps it in when it is more
// accurate; this one replaces at once.)
type treeModel struct {
	cfg    htConfig
	seed   uint64
	t      *htree
	ph     []pageHinkley // per node of t
	drifts int64
	path   []int32
	q      *sketches
}

func newTreeModel(spec Spec) *treeModel {
	cfg := htConfigOf(spec, 1)
	q := newSketches(cfg.bins)
	return &treeModel{cfg: cfg, seed: spec.Tree.Seed, t: newHTree(cfg, spec.Tree.Seed, q), ph: make([]pageHinkley, 1), q: q}
}

func (m *treeModel) margin(in *input) float64 { return logit(m.t.prob(in)) }

func (m *treeModel) learn(in *input, y float64) {
	err := math.Abs(y - m.t.prob(in))
	m.path = m.path[:0]
	for i := int32(0); ; {
		m.path = append(m.path, i)
		n := &m.t.nodes[i]
		if n.left < 0 {
			break
		}
		if v, ok := valueOf(in, n.slot); ok && v > n.thr {
			i = n.right
		} else {
			i = n.left
		}
	}
	for _, i := range m.path {
		if m.ph[i].add(err) {
			m.drifts++
			m.regrow(i)
			break
		}
	}
	m.t.learn(in, y, 1)
	m.q.observe(in)
	for len(m.ph) < len(m.t.nodes) {
		m.ph = append(m.ph, pageHinkley{})
	}
}

// regrow replaces the subtree under node i with a fresh leaf and drops the nodes it held, keeping
// the others in preorder (children after their parent) with their detectors.
func (m *treeModel) regrow(i int32) {
	t := m.t
	t.nodes[i] = t.leaf(t.nodes[i].depth, [2]float64{})
	m.ph[i] = pageHinkley{}
	nodes, ph := make([]htNode, 0, len(t.nodes)), make([]pageHinkley, 0, len(t.nodes))
	var walk func(j int32) int32
	walk = func(j int32) int32 {
		at := int32(len(nodes))
		nodes, ph = append(nodes, t.nodes[j]), append(ph, m.ph[j])
		if n := t.nodes[j]; n.left >= 0 {
			l := walk(n.left)
			r := walk(n.right)
			nodes[at].left, nodes[at].right = l, r
		}
		return at
	}
	walk(0)
	t.nodes, m.ph = nodes, ph
}

func (m *treeModel) skipped() int64 { return 0 }

func (m *treeModel) encode(e *encoder) {
	e.u64(uint64(m.drifts))
	m.t.encode(e)
	for i := range m.ph {
		m.ph[i].encode(e)
	}
	m.q.encode(e)
}

func (m *treeModel) decode(d *decoder) {
	m.drifts = int64(d.u64())
	m.t.decode(d)
	m.ph = make([]pageHinkley, len(m.t.nodes))
	for i := range m.ph {
		m.ph[i].decode(d)
	}
	decodeSketches(d, m.q)
}

// treeFamilyScorer serves the tree family.
type treeFamilyScorer struct{ t *htree }

func (m *treeModel) scorer([]moments) familyScorer { return &treeFamilyScorer{t: m.t.clone()} }

// inputs: trees split on raw values.
func (s *treeFamilyScorer) inputs(in *input) { in.x = append(in.x[:0], in.raw...) }

func (s *treeFamilyScorer) margin(in *input) float64 { return logit(s.t.prob(in)) }

func (s *treeFamilyScorer) encode(e *encoder) { s.t.encode(e) }

func decodeTreeScorer(spec Spec, d *decoder) familyScorer {
	t := newHTree(htConfigOf(spec, 1), 0, nil)
	t.decode(d)
	return &treeFamilyScorer{t: t}
}
