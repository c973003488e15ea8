package drift

import "math"

// ADWIN is the adaptive windowing change detector of Bifet and Gavaldà
// (2007, ADWIN2 with exponential histograms): it keeps a window of recent
// values whose length adapts, and drops its oldest part whenever the means
// of an older and a newer sub-window differ by more than a Hoeffding-style
// bound at confidence delta. Memory is O(M·log W) for a window of W values
// with M = 5 buckets per size. The zero value is not usable; use NewADWIN.
type ADWIN struct {
	delta    float64
	rows     [][]adwinBucket // rows[i]: buckets of 2^i values, oldest first
	width    int64
	total    float64
	variance float64 // sum of squared deviations from the mean
	time     int64
	changes  int64
}

type adwinBucket struct {
	sum      float64
	variance float64 // sum of squared deviations within the bucket
}

const (
	adwinMaxBuckets = 5  // M: buckets per row before two are merged
	adwinClock      = 32 // check for a change every this many values
	adwinMinWindow  = 5  // both sub-windows must be larger than this
)

// NewADWIN returns a detector with confidence delta (smaller: fewer false
// alarms, slower detection); delta ≤ 0 or ≥ 1 means the usual 0.002.
func NewADWIN(delta float64) *ADWIN {
	if !(delta > 0 && delta < 1) {
		delta = 0.002
	}
	return &ADWIN{delta: delta}
}

// Add adds a value (an error indicator 0/1 or a loss) and reports whether
// a change was detected, in which case the window now holds only the values
// since it. Non-finite values are ignored.
func (a *ADWIN) Add(x float64) (change bool) {
	if !finite(x) {
		return false
	}
	a.time++
	a.insert(x)
	if a.time%adwinClock != 0 || a.width <= adwinMinWindow {
		return false
	}
	for a.cut() {
		change = true
	}
	if change {
		a.changes++
	}
	return change
}

// Width returns the number of values in the window.
func (a *ADWIN) Width() int64 { return a.width }

// Mean returns the mean of the window (NaN when empty).
func (a *ADWIN) Mean() float64 {
	if a.width == 0 {
		return math.NaN()
	}
	return a.total / float64(a.width)
}

// Changes returns the number of changes detected so far.
func (a *ADWIN) Changes() int64 { return a.changes }

func (a *ADWIN) insert(x float64) {
	if a.width > 0 {
		w := float64(a.width)
		d := x - a.total/w
		a.variance += w * d * d / (w + 1)
	}
	a.width++
	a.total += x
	if len(a.rows) == 0 {
		a.rows = append(a.rows, nil)
	}
	a.rows[0] = append(a.rows[0], adwinBucket{sum: x})
	for i := 0; i < len(a.rows) && len(a.rows[i]) > adwinMaxBuckets; i++ {
		b0, b1 := a.rows[i][0], a.rows[i][1]
		n := float64(int64(1) << i)
		d := b0.sum/n - b1.sum/n
		merged := adwinBucket{sum: b0.sum + b1.sum, variance: b0.variance + b1.variance + n*n*d*d/(2*n)}
		a.rows[i] = append(a.rows[i][:0], a.rows[i][2:]...)
		if i+1 == len(a.rows) {
			a.rows = append(a.rows, nil)
		}
		a.rows[i+1] = append(a.rows[i+1], merged)
	}
}

// cut looks for a split of the window into an older part W0 and a newer
// part W1 with significantly different means; if it finds one it drops the
// oldest bucket and reports true.
func (a *ADWIN) cut() bool {
	var n0, u0 float64
	n1, u1 := float64(a.width), a.total
	for i := len(a.rows) - 1; i >= 0; i-- {
		size := float64(int64(1) << i)
		for k, b := range a.rows[i] {
			if i == 0 && k == len(a.rows[i])-1 {
				return false
			}
			n0 += size
			n1 -= size
			u0 += b.sum
			u1 -= b.sum
			if n0 > adwinMinWindow+1 && n1 > adwinMinWindow+1 && a.significant(n0, n1, u0/n0-u1/n1) {
				a.dropOldest()
				return true
			}
		}
	}
	return false
}

func (a *ADWIN) significant(n0, n1, diff float64) bool {
	n := float64(a.width)
	dd := math.Log(2 * math.Log(n) / a.delta)
	v := a.variance / n
	m := 1/(n0-adwinMinWindow+1) + 1/(n1-adwinMinWindow+1)
	eps := math.Sqrt(2*m*v*dd) + 2.0/3.0*dd*m
	return math.Abs(diff) > eps
}

func (a *ADWIN) dropOldest() {
	last := len(a.rows) - 1
	b := a.rows[last][0]
	a.rows[last] = a.rows[last][1:]
	if len(a.rows[last]) == 0 {
		a.rows = a.rows[:last]
	}
	n1 := float64(int64(1) << last)
	a.width -= int64(n1)
	a.total -= b.sum
	if a.width == 0 {
		a.total, a.variance = 0, 0
		return
	}
	w := float64(a.width)
	d := b.sum/n1 - a.total/w
	a.variance -= b.variance + n1*w*d*d/(n1+w)
	a.variance = math.Max(a.variance, 0)
}
