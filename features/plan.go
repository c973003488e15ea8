package features

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"slices"
	"sort"
	"time"
)

// Statistics a tile keeps for a field, as a bit mask. The count of values is always kept.
const (
	statSum uint8 = 1 << iota
	statSumSq
	statMin
	statMax
	statLast
	statDistinct
)

func statsOf(function string) uint8 {
	switch function {
	case FuncSum, FuncMean:
		return statSum
	case FuncStddev:
		return statSum | statSumSq
	case FuncMin:
		return statMin
	case FuncMax:
		return statMax
	case FuncLast:
		return statLast
	case FuncDistinct:
		return statDistinct
	}
	return 0
}

// series is one tile series: the tiles of every aggregate over one window length.
type series struct {
	window Window
	tile   int64 // tile length, ms
	n      int64 // tiles per window
	star   uint8 // statistics kept for every numeric field ("*" aggregates)
	fields map[string]uint8
}

// aggOut is one aggregate over one window.
type aggOut struct {
	function string
	field    string // "" for count and since_prev, AllFields for "*"
	series   int
	name     string // the feature name; for "*" built per field
	window   string
	chain    chain
	index    int // in plan.aggs
}

func (a *aggOut) nameFor(field string) string {
	if a.field != AllFields {
		return a.name
	}
	return field + "_" + a.function + "_" + a.window
}

// plan is a validated Config compiled for the hot path.
type plan struct {
	cfg          Config
	series       []series
	aggs         []aggOut
	fields       []fieldPlan
	declared     map[string]bool // event fields that Fields lists
	tracked      map[string]bool // event fields named by aggregates
	hasStar      bool
	lateness     int64 // ms
	markBucket   int64 // ms: redelivery marks are kept and dropped in buckets of event time this long
	longest      time.Duration
	fingerprint  uint32
	crosses      [][2]string
	standardized bool
	names        names
	interned     interner
}

func compile(cfg Config) (*plan, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := &plan{
		cfg:      cfg,
		declared: map[string]bool{},
		tracked:  map[string]bool{},
		lateness: cfg.AllowedLateness.Milliseconds(),
	}
	p.markBucket = max(p.lateness/4, 1000)
	var windows []Window
	for _, a := range cfg.Aggregates {
		for _, w := range a.Windows {
			if !slices.Contains(windows, w) {
				windows = append(windows, w)
			}
		}
	}
	sort.Slice(windows, func(i, j int) bool { return windows[i] < windows[j] })
	for _, w := range windows {
		n := int64(cfg.TilesPerWindow)
		p.series = append(p.series, series{window: w, tile: w.Duration().Milliseconds() / n, n: n, fields: map[string]uint8{}})
		p.longest = max(p.longest, w.Duration())
	}
	for _, a := range cfg.Aggregates {
		ch := compileChain(a.Transforms)
		for _, w := range a.Windows {
			si := slices.Index(windows, w)
			s := &p.series[si]
			switch a.Field {
			case "":
			case AllFields:
				s.star |= statsOf(a.Function)
				p.hasStar = true
			default:
				s.fields[a.Field] |= statsOf(a.Function)
				p.tracked[a.Field] = true
			}
			p.aggs = append(p.aggs, aggOut{
				function: a.Function, field: a.Field, series: si, window: w.String(),
				name: a.OutputName(a.Field, w), chain: ch, index: len(p.aggs),
			})
			p.standardized = p.standardized || ch.standardizes()
		}
	}
	for _, f := range cfg.Fields {
		fp := compileField(f, cfg.MaxCategoryBytes)
		p.fields = append(p.fields, fp)
		p.declared[f.Name] = true
		p.standardized = p.standardized || fp.chain.standardizes()
	}
	for _, c := range cfg.Crosses {
		p.crosses = append(p.crosses, [2]string{c[0], c[1]})
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("fingerprint features config: %w", err)
	}
	h := fnv.New32a()
	h.Write(b)
	p.fingerprint = h.Sum32()
	return p, nil
}

// seriesIndex returns the plan series with the given tile length, or -1.
func (p *plan) seriesIndex(tile int64) int {
	for i := range p.series {
		if p.series[i].tile == tile {
			return i
		}
	}
	return -1
}

// statsFor returns what series s keeps for field name; numeric tells whether the value is a number.
func (s *series) statsFor(name string, numeric bool) uint8 {
	m := s.fields[name]
	if numeric {
		m |= s.star
	}
	return m
}
