package features

import (
	"slices"
	"strings"
	"sync"

	"github.com/streamlearn/streamlearn/wire"
)

// view is an event's fields read once: sorted by name, numbers recognized.
type view struct {
	ev      wire.Event
	fields  []fieldValue
	numeric []string // what "*" aggregates expand to: the numeric fields' names, at most MaxTrackedFields
}

type fieldValue struct {
	name    string
	raw     any
	x       float64
	numeric bool
}

func (p *plan) read(ev wire.Event, v *view) {
	v.ev = ev
	v.fields, v.numeric = v.fields[:0], v.numeric[:0]
	for name, raw := range ev.Fields {
		x, ok := numberOf(raw)
		v.fields = append(v.fields, fieldValue{name: name, raw: raw, x: x, numeric: ok})
	}
	slices.SortFunc(v.fields, func(a, b fieldValue) int { return strings.Compare(a.name, b.name) })
	for _, f := range v.fields {
		if f.numeric && len(v.numeric) < p.cfg.MaxTrackedFields {
			v.numeric = append(v.numeric, f.name)
		}
	}
}

// names caches the feature names the hot path would otherwise build for every event: "*"
// aggregate names per field and one-hot names per field and value. It stops growing at a bound, so
// a stream of ever new values costs allocations, not memory.
type names struct {
	mu   sync.RWMutex
	star map[string][]string // field -> name by index of plan.aggs
	cat  map[[2]string]string
}

const maxCachedNames = 1 << 16

func (n *names) starName(p *plan, a *aggOut, field string) string {
	n.mu.RLock()
	names, ok := n.star[field]
	n.mu.RUnlock()
	if !ok {
		names = make([]string, len(p.aggs))
		for i := range p.aggs {
			names[i] = p.aggs[i].nameFor(field)
		}
		n.mu.Lock()
		if n.star == nil {
			n.star = map[string][]string{}
		}
		if len(n.star) < maxCachedNames {
			n.star[field] = names
		}
		n.mu.Unlock()
	}
	return names[a.index]
}

// oneHot returns "<name>=<value>", the value bounded to limit bytes.
func (n *names) oneHot(name, value string, limit int) string {
	key := [2]string{name, value}
	n.mu.RLock()
	s, ok := n.cat[key]
	n.mu.RUnlock()
	if ok {
		return s
	}
	s = name + "=" + category(value, limit)
	if len(value) > limit {
		return s
	}
	n.mu.Lock()
	if n.cat == nil {
		n.cat = map[[2]string]string{}
	}
	if len(n.cat) < maxCachedNames {
		n.cat[key] = s
	}
	n.mu.Unlock()
	return s
}
