package drift

import "math"

// ReliabilityBin is one bin of a reliability diagram.
type ReliabilityBin struct {
	Lo, Hi       float64 // score range: (Lo, Hi], the first bin also holds Lo
	N            int64   // examples in the bin
	MeanScore    float64 // mean predicted probability; 0 when N is 0
	FracPositive float64 // fraction of positive labels; 0 when N is 0
}

// ECE returns the expected calibration error over bins equal-width bins on
// [0, 1], Σ_b (n_b/N)·|FracPositive_b − MeanScore_b|, and the reliability
// diagram (every bin, empty ones included). Binning matches
// sklearn.calibration.calibration_curve(strategy="uniform"): a score on an
// inner edge belongs to the lower bin, scores below 0 fall in the first bin
// and above 1 in the last. It returns NaN and nil when bins < 1, the
// lengths differ, the slices are empty or a value is NaN.
func ECE(scores, labels []float64, bins int) (ece float64, reliability []ReliabilityBin) {
	if bins < 1 || len(scores) != len(labels) || len(scores) == 0 {
		return math.NaN(), nil
	}
	c := newCalibration(bins)
	for i, s := range scores {
		if math.IsNaN(s) || math.IsNaN(labels[i]) {
			return math.NaN(), nil
		}
		c.add(s, labels[i])
	}
	return c.ece(), c.reliability()
}

// calibration accumulates per-bin sums so that ECE can be kept on an
// endless stream in O(bins) memory.
type calibration struct {
	n        []int64
	sumScore []float64
	sumLabel []float64
}

func newCalibration(bins int) *calibration {
	return &calibration{
		n:        make([]int64, bins),
		sumScore: make([]float64, bins),
		sumLabel: make([]float64, bins),
	}
}

func (c *calibration) add(score, label float64) {
	b := c.bin(score)
	c.n[b]++
	c.sumScore[b] += score
	c.sumLabel[b] += label
}

// bin counts the inner edges strictly below score. Edges are computed as
// i·(1/bins) because that is how numpy.linspace builds them, so scores that
// sit on an edge land in the same bin as in sklearn.
func (c *calibration) bin(score float64) int {
	bins := len(c.n)
	step := 1 / float64(bins)
	b := int(score * float64(bins))
	b = min(max(b, 0), bins-1)
	for b > 0 && score <= float64(b)*step {
		b--
	}
	for b < bins-1 && score > float64(b+1)*step {
		b++
	}
	return b
}

func (c *calibration) ece() float64 {
	var total int64
	for _, n := range c.n {
		total += n
	}
	if total == 0 {
		return math.NaN()
	}
	var ece float64
	for b, n := range c.n {
		if n == 0 {
			continue
		}
		gap := math.Abs(c.sumLabel[b]/float64(n) - c.sumScore[b]/float64(n))
		ece += float64(n) / float64(total) * gap
	}
	return ece
}

func (c *calibration) reliability() []ReliabilityBin {
	bins := len(c.n)
	step := 1 / float64(bins)
	out := make([]ReliabilityBin, bins)
	for b, n := range c.n {
		r := ReliabilityBin{Lo: float64(b) * step, Hi: float64(b+1) * step, N: n}
		if b == bins-1 {
			r.Hi = 1
		}
		if n > 0 {
			r.MeanScore = c.sumScore[b] / float64(n)
			r.FracPositive = c.sumLabel[b] / float64(n)
		}
		out[b] = r
	}
	return out
}
