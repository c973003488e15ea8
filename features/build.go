package features

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/streamlearn/streamlearn/ingest"
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
	live ZStats // nil: replay rec
	rec  []float64
	pos  int
	obs  ZStats // receives the values an applied event contributes; nil for lookups
}

func (z *zsource) next(name string) zParams {
	if z.live != nil {
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

func (z *zsource) observe(name string, x float64) {
	if z.obs != nil {
		z.obs.Add(name, x)
	}
}

// numericFields returns the names of ev's numeric fields, sorted, at most limit of them: the fields
// "*" aggregates expand to.
func numericFields(ev ingest.Event, limit int, buf []string) []string {
	names := buf[:0]
	for name, v := range ev.Fields {
		if _, ok := numberOf(v); ok {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	if len(names) > limit {
		names = names[:limit]
	}
	return names
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

// starNames caches the names of "*" aggregates per field: building them is the hot path's main allocation.
type starNames struct {
	m sync.Map // field -> []string, by index of plan.aggs
	n int64
	mu sync.Mutex
}

const maxCachedFields = 4096

func (p *plan) aggName(a *aggOut, field string) string {
	if a.field != AllFields {
		return a.name
	}
	if names, ok := p.names.m.Load(field); ok {
		return names.([]string)[a.index]
	}
	names := make([]string, len(p.aggs))
	for i := range p.aggs {
		names[i] = p.aggs[i].nameFor(field)
	}
	p.names.mu.Lock()
	if p.names.n < maxCachedFields {
		p.names.m.Store(field, names)
		p.names.n++
	}
	p.names.mu.Unlock()
	return names[a.index]
}

// build assembles the vector of ev from its fields and in: raw fields, aggregates, crosses, sorted.
func (p *plan) build(ev ingest.Event, numeric []string, in *inputs, z *zsource) Vector {
	v := make(Vector, 0, len(ev.Fields)+len(in.aggs)+len(p.crosses))
	for i := range p.fields {
		f := &p.fields[i]
		if raw, ok := ev.Fields[f.name]; ok {
			v = f.appendTo(v, raw, z)
		}
	}
	if p.cfg.AutoFields {
		for name, raw := range ev.Fields {
			if !p.declared[name] {
				v = appendAuto(v, name, raw, p.cfg.MaxCategoryBytes)
			}
		}
	}
	k := 0
	p.slots(numeric, func(a *aggOut, field string) {
		x := in.aggs[k]
		k++
		if math.IsNaN(x) {
			return
		}
		name := p.aggName(a, field)
		if len(a.chain) == 0 {
			v = append(v, Feature{Name: name, Value: x})
			return
		}
		if y, bucket, ok := a.chain.apply(name, x, z); ok {
			v = appendValue(v, name, y, bucket)
		}
	})
	v = p.cross(v)
	slices.SortFunc(v, func(a, b Feature) int { return strings.Compare(a.Name, b.Name) })
	return v
}

func appendValue(v Vector, name string, x float64, bucket string) Vector {
	if bucket != "" {
		return append(v, Feature{Name: name + "=" + bucket, Value: 1})
	}
	return append(v, Feature{Name: name, Value: x})
}

// appendAuto adds an undeclared field by its JSON type.
func appendAuto(v Vector, name string, raw any, maxCat int) Vector {
	switch x := raw.(type) {
	case bool:
		return append(v, Feature{Name: name, Value: b2f(x)})
	case string:
		return append(v, Feature{Name: name + "=" + category(x, maxCat), Value: 1})
	}
	if x, ok := numberOf(raw); ok {
		return append(v, Feature{Name: name, Value: x})
	}
	return v
}

func (f *fieldPlan) appendTo(v Vector, raw any, z *zsource) Vector {
	switch f.typ {
	case TypeAuto:
		return appendAuto(v, f.out, raw, f.maxCat)
	case TypeBoolean:
		switch x := raw.(type) {
		case bool:
			return append(v, Feature{Name: f.out, Value: b2f(x)})
		case string:
			if b, err := strconv.ParseBool(x); err == nil {
				return append(v, Feature{Name: f.out, Value: b2f(b)})
			}
		}
		if x, ok := numberOf(raw); ok {
			return append(v, Feature{Name: f.out, Value: b2f(x != 0)})
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
			return append(v, Feature{Name: f.out + "=#" + strconv.FormatUint(hash64(s)%f.buckets, 10), Value: 1})
		case EncodingVocabulary:
			if !f.vocab[s] {
				s = "__other__"
			}
		}
		return append(v, Feature{Name: f.out + "=" + category(s, f.maxCat), Value: 1})
	}
	return v
}

// cross appends the crosses of the features already in v: every pair of features matching the two
// names ("a" or "a=..."), named "<a feature>&<b feature>" with the product of their values.
func (p *plan) cross(v Vector) Vector {
	n := len(v)
	for _, c := range p.crosses {
		for i := 0; i < n; i++ {
			if !matches(v[i].Name, c[0]) {
				continue
			}
			for j := 0; j < n; j++ {
				if matches(v[j].Name, c[1]) {
					v = append(v, Feature{Name: v[i].Name + "&" + v[j].Name, Value: v[i].Value * v[j].Value})
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
	cut := limit - 17
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
