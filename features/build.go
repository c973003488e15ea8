package features

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/streamlearn/streamlearn/wire"
)

// fieldPlan is a declared raw field compiled.
type fieldPlan struct {
	name, out string
	typ       string
	encoding  string
	buckets   uint64
	vocab     map[string]bool
	chain     chain
	maxCat    int
}

func compileField(f Field, maxCat int) fieldPlan {
	fp := fieldPlan{name: f.Name, out: f.OutputName(), typ: f.Type, encoding: f.Encoding,
		buckets: uint64(f.Buckets), chain: compileChain(f.Transforms), maxCat: maxCat}
	if fp.typ == "" {
		fp.typ = TypeAuto
	}
	if len(f.Vocabulary) > 0 {
		fp.vocab = make(map[string]bool, len(f.Vocabulary))
		for _, v := range f.Vocabulary {
			fp.vocab[v] = true
		}
	}
	return fp
}

// inputs are what an event's vector needs beyond the event itself: the aggregate values in slot
// order (NaN: absent) and the mean and standard deviation each standardize step used, in order.
// A redelivered event is answered from the inputs stored in its mark.
type inputs struct {
	aggs []float64
	z    []float64
}

// zsource hands out standardize parameters: from the shared statistics the first time an event is
// scored (recording them), from the recorded ones when it is answered again.
type zsource struct {
	live   ZStats
	replay bool // hand out rec instead
	rec    []float64
	pos    int
	obs    ZStats // receives the values an applied event contributes; nil for lookups
}

func (z *zsource) next(name string) zParams {
	if !z.replay {
		p := z.live[name].params()
		z.rec = append(z.rec, p.mean, p.std)
		return p
	}
	if z.pos+1 >= len(z.rec) {
		return zParams{}
	}
	p := zParams{mean: z.rec[z.pos], std: z.rec[z.pos+1]}
	z.pos += 2
	return p
}

// observe records x for name, bounded by the shared statistics the event is scored with.
func (z *zsource) observe(name string, x float64) {
	if z.obs != nil {
		z.obs.Add(name, z.live[name].bound(x))
	}
}

// slots calls fn for every aggregate output of an event, in the order inputs.aggs holds them.
func (p *plan) slots(numeric []string, fn func(a *aggOut, field string)) {
	for i := range p.aggs {
		a := &p.aggs[i]
		if a.field != AllFields {
			fn(a, a.field)
			continue
		}
		for _, f := range numeric {
			fn(a, f)
		}
	}
}

func (p *plan) aggName(a *aggOut, field string) string {
	if a.field != AllFields {
		return a.name
	}
	return p.names.starName(p, a, field)
}

// build assembles the vector of an event from its fields and in: raw fields, aggregates, crosses,
// sorted by name.
func (p *plan) build(vw *view, in *inputs, z *zsource) wire.Vector {
	v := make(wire.Vector, 0, len(vw.fields)+len(in.aggs)+len(p.crosses))
	for i := range p.fields {
		f := &p.fields[i]
		if raw, ok := vw.ev.Fields[f.name]; ok {
			v = f.appendTo(v, raw, z, &p.names)
		}
	}
	if p.cfg.AutoFields {
		for i := range vw.fields {
			if f := &vw.fields[i]; !p.declared[f.name] {
				v = appendAuto(v, f, p.cfg.MaxCategoryBytes, &p.names)
			}
		}
	}
	k := 0
	p.slots(vw.numeric, func(a *aggOut, field string) {
		x := in.aggs[k]
		k++
		if math.IsNaN(x) || math.IsInf(x, 0) { // absent, or past float64 (sums of ±1e308)
			return
		}
		name := p.aggName(a, field)
		if len(a.chain) == 0 {
			v = append(v, wire.Feature{Name: name, Value: x})
			return
		}
		if y, bucket, ok := a.chain.apply(name, x, z); ok {
			v = appendValue(v, name, y, bucket)
		}
	})
	v = p.cross(v)
	slices.SortFunc(v, func(a, b wire.Feature) int { return strings.Compare(a.Name, b.Name) })
	return v
}

func appendValue(v wire.Vector, name string, x float64, bucket string) wire.Vector {
	if bucket != "" {
		return append(v, wire.Feature{Name: name + "=" + bucket, Value: 1})
	}
	return append(v, wire.Feature{Name: name, Value: x})
}

// appendAuto adds a field by its JSON type.
func appendAuto(v wire.Vector, f *fieldValue, maxCat int, n *names) wire.Vector {
	if f.numeric {
		return append(v, wire.Feature{Name: f.name, Value: f.x})
	}
	switch x := f.raw.(type) {
	case bool:
		return append(v, wire.Feature{Name: f.name, Value: b2f(x)})
	case string:
		return append(v, wire.Feature{Name: n.oneHot(f.name, x, maxCat), Value: 1})
	}
	return v
}

func (f *fieldPlan) appendTo(v wire.Vector, raw any, z *zsource, n *names) wire.Vector {
	switch f.typ {
	case TypeAuto:
		x, numeric := numberOf(raw)
		return appendAuto(v, &fieldValue{name: f.out, raw: raw, x: x, numeric: numeric}, f.maxCat, n)
	case TypeBoolean:
		switch x := raw.(type) {
		case bool:
			return append(v, wire.Feature{Name: f.out, Value: b2f(x)})
		case string:
			if b, err := strconv.ParseBool(x); err == nil {
				return append(v, wire.Feature{Name: f.out, Value: b2f(b)})
			}
		}
		if x, ok := numberOf(raw); ok {
			return append(v, wire.Feature{Name: f.out, Value: b2f(x != 0)})
		}
	case TypeNumeric:
		x, ok := numberOf(raw)
		if b, isBool := raw.(bool); isBool {
			x, ok = b2f(b), true
		}
		if !ok {
			return v
		}
		if y, bucket, ok := f.chain.apply(f.out, x, z); ok {
			return appendValue(v, f.out, y, bucket)
		}
	case TypeCategorical:
		s, ok := distinctKey(raw)
		if !ok {
			return v
		}
		switch f.encoding {
		case EncodingHash:
			return append(v, wire.Feature{Name: f.out + "=#" + strconv.FormatUint(hash64(s)%f.buckets, 10), Value: 1})
		case EncodingVocabulary:
			if !f.vocab[s] {
				s = "__other__"
			}
		}
		return append(v, wire.Feature{Name: n.oneHot(f.out, s, f.maxCat), Value: 1})
	}
	return v
}

// cross appends the crosses of the features already in v: every pair of features matching the two
// names ("a" or "a=..."), named "<a feature>&<b feature>" with the product of their values.
func (p *plan) cross(v wire.Vector) wire.Vector {
	n := len(v)
	for _, c := range p.crosses {
		for i := 0; i < n; i++ {
			if !matches(v[i].Name, c[0]) {
				continue
			}
			for j := 0; j < n; j++ {
				if matches(v[j].Name, c[1]) {
					v = append(v, wire.Feature{Name: v[i].Name + "&" + v[j].Name, Value: saturate(v[i].Value * v[j].Value)})
				}
			}
		}
	}
	return v
}

func matches(feature, name string) bool {
	return strings.HasPrefix(feature, name) && (len(feature) == len(name) || feature[len(name)] == '=')
}

// category bounds a categorical value in a feature name: a long value keeps its start and ends in
// a hash of the whole, so distinct values keep distinct names.
func category(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	cut := max(limit-17, 0)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "~" + strconv.FormatUint(hash64(s), 16)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// saturate bounds x to the finite range: an overflowed sum or product becomes the largest finite
// number of its sign, so that stored and served values stay finite.
func saturate(x float64) float64 {
	if math.IsInf(x, 0) {
		return math.Copysign(math.MaxFloat64, x)
	}
	return x
}
