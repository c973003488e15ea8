package drift

import (
	"cmp"
	"encoding/json"
	"math"
	"slices"
	"strconv"
)

type kind uint8

const (
	kindNumeric kind = iota + 1
	kindCategorical
)

// parseValue classifies a raw field value. ok is false for values that
// count as missing: nil, NaN, ±Inf and unsupported types.
func parseValue(v any) (k kind, x float64, s string, ok bool) {
	switch v := v.(type) {
	case float64:
		x = v
	case string:
		return kindCategorical, 0, v, true
	case bool:
		if v {
			return kindCategorical, 0, "true", true
		}
		return kindCategorical, 0, "false", true
	case float32:
		x = float64(v)
	case int:
		x = float64(v)
	case int64:
		x = float64(v)
	case int32:
		x = float64(v)
	case uint64:
		x = float64(v)
	case uint32:
		x = float64(v)
	case json.Number:
		f, err := v.Float64()
		if err != nil {
			return 0, 0, "", false
		}
		x = f
	default:
		return 0, 0, "", false
	}
	return kindNumeric, x, "", finite(x)
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// profile is the reference of one (model, feature): the first window that
// saw a usable value of it. Once that window closes, the profile holds what
// later windows are compared against and nothing else of the window.
type profile struct {
	name     string
	kind     kind
	refStart int64
	closed   bool

	refBins    []float64 // reference counts per bin or category (+ "__other__")
	refMissing float64
	refN       int64 // usable values in the reference window
	refEvents  int64 // events in the reference window

	edges     []float64 // numeric: inner quantile edges, bins are (e[i-1], e[i]]
	refSample []float64 // numeric: sorted sample of the reference

	refStd   float64
	catIndex map[string]int // categorical: kept categories
}

// featureAcc accumulates one feature in one window. Numeric features keep
// a sample and are binned from it when compared: bin edges are known only
// once the reference closes, which may be after a window got its values,
// and binning the sample keeps the result independent of that order.
type featureAcc struct {
	prof *profile
	n    int64 // usable values

	sample sample

	cats     map[string]int64
	overflow int64 // categorical values beyond MaxTrackedCategories
}

func newFeatureAcc(p *profile, cfg *MonitorConfig) *featureAcc {
	a := &featureAcc{prof: p}
	switch p.kind {
	case kindNumeric:
		a.sample = newSample(cfg.SampleSize)
	case kindCategorical:
		a.cats = make(map[string]int64)
	}
	return a
}

func (a *featureAcc) addNumber(x float64, pri uint64) {
	a.n++
	a.sample.add(x, pri)
}

func (a *featureAcc) addString(s string, maxTracked int) {
	a.n++
	if c, ok := a.cats[s]; ok {
		a.cats[s] = c + 1
	} else if len(a.cats) < maxTracked {
		a.cats[s] = 1
	} else {
		a.overflow++
	}
}

// binned returns the window's counts over the profile's bins: numeric
// windows are binned from their sample.
func (a *featureAcc) binned() []float64 {
	p := a.prof
	if p.kind == kindNumeric {
		c := make([]float64, len(p.edges)+1)
		for _, x := range a.sample.values() {
			c[binOf(p.edges, x)]++
		}
		return c
	}
	c := make([]float64, len(p.catIndex)+1)
	c[len(c)-1] = float64(a.overflow)
	for s, n := range a.cats {
		if i, ok := p.catIndex[s]; ok {
			c[i] += float64(n)
		} else {
			c[len(c)-1] += float64(n)
		}
	}
	return c
}

// close pins the profile from its reference window's accumulator.
func (p *profile) close(ref *featureAcc, events int64, cfg *MonitorConfig) {
	p.closed = true
	p.refMissing = missingRate(ref.n, events)
	p.refN, p.refEvents = ref.n, events
	switch p.kind {
	case kindNumeric:
		s := ref.sample.values()
		slices.Sort(s)
		p.refSample = s
		p.edges = quantileEdges(s, cfg.Bins)
		p.refBins = make([]float64, len(p.edges)+1)
		for _, x := range s {
			p.refBins[binOf(p.edges, x)]++
		}
		p.refStd = stdDev(s)
	case kindCategorical:
		type catCount struct {
			name string
			n    int64
		}
		all := make([]catCount, 0, len(ref.cats))
		for s, n := range ref.cats {
			all = append(all, catCount{s, n})
		}
		slices.SortFunc(all, func(a, b catCount) int {
			if c := cmp.Compare(b.n, a.n); c != 0 {
				return c
			}
			return cmp.Compare(a.name, b.name)
		})
		keep := min(len(all), cfg.MaxCategories)
		p.catIndex = make(map[string]int, keep)
		p.refBins = make([]float64, keep+1)
		for i, c := range all {
			if i < keep {
				p.catIndex[c.name] = i
				p.refBins[i] = float64(c.n)
			} else {
				p.refBins[keep] += float64(c.n)
			}
		}
		p.refBins[keep] += float64(ref.overflow)
	}
}

// binLabels names the profile's bins, in the order of refBins.
func (p *profile) binLabels() []string {
	if p.kind == kindNumeric {
		if len(p.edges) == 0 {
			return []string{"all"}
		}
		f := func(x float64) string { return strconv.FormatFloat(x, 'g', 4, 64) }
		labels := make([]string, 0, len(p.edges)+1)
		labels = append(labels, "≤ "+f(p.edges[0]))
		for i := 1; i < len(p.edges); i++ {
			labels = append(labels, "("+f(p.edges[i-1])+", "+f(p.edges[i])+"]")
		}
		return append(labels, "> "+f(p.edges[len(p.edges)-1]))
	}
	labels := make([]string, len(p.catIndex)+1)
	for name, i := range p.catIndex {
		labels[i] = name
	}
	labels[len(labels)-1] = OtherCategory
	return labels
}

// shares returns counts as fractions of their sum (zeros when the sum is 0).
func shares(counts []float64) []float64 {
	var sum float64
	for _, c := range counts {
		sum += c
	}
	out := make([]float64, len(counts))
	if sum > 0 {
		for i, c := range counts {
			out[i] = c / sum
		}
	}
	return out
}

// quantileEdges returns the distinct inner quantiles i/bins, i = 1..bins-1,
// of a sorted sample (linear interpolation, numpy's default).
func quantileEdges(sorted []float64, bins int) []float64 {
	var edges []float64
	if len(sorted) == 0 {
		return edges
	}
	for i := 1; i < bins; i++ {
		h := float64(len(sorted)-1) * float64(i) / float64(bins)
		lo := int(h)
		e := sorted[lo]
		if lo+1 < len(sorted) {
			e += (h - float64(lo)) * (sorted[lo+1] - sorted[lo])
		}
		if len(edges) == 0 || e > edges[len(edges)-1] {
			edges = append(edges, e)
		}
	}
	return edges
}

// binOf returns the index of the first edge ≥ x (len(edges) if none).
func binOf(edges []float64, x float64) int {
	lo, hi := 0, len(edges)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if edges[mid] < x {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

func missingRate(n, events int64) float64 {
	if events <= 0 {
		return 0
	}
	return 1 - float64(n)/float64(events)
}

// estimateRefCounts fills refN and refEvents of a profile restored from a
// snapshot that lacks them: the binned counts are the reference's values,
// or its sample of them, so the estimates never exceed the true counts.
func (p *profile) estimateRefCounts() {
	var n float64
	for _, c := range p.refBins {
		n += c
	}
	p.refN = int64(n)
	if p.refMissing < 1 {
		p.refEvents = int64(math.Round(n / (1 - p.refMissing)))
	}
}
