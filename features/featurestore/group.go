package featurestore

import (
	"github.com/streamlearn/streamlearn/features"
	"github.com/streamlearn/streamlearn/wire"
)

// group is the events of one entity in a batch, and what reading and computing them produced.
type group struct {
	entity  string
	key     string
	idx     []int // positions in the batch, in order
	events  []wire.Event
	out     []wire.Vector // by position in events
	raw     string        // the value as read, "" for a new entity
	version string        // as read: 8 bytes, or "" for a new entity
	state   []byte
	update  features.Update
	obs     features.ZStats
}

// groupByEntity splits a batch by entity, keeping each entity's events in order; events without an
// entity are returned apart. The groups share a few allocations, whatever the batch.
func groupByEntity(prefix string, events []wire.Event) (groups []*group, stateless []int) {
	byEntity := make(map[string]int, len(events))
	counts := make([]int, 0, len(events))
	for i, ev := range events {
		if ev.Entity == "" {
			stateless = append(stateless, i)
			continue
		}
		if g, ok := byEntity[ev.Entity]; ok {
			counts[g]++
			continue
		}
		byEntity[ev.Entity] = len(counts)
		counts = append(counts, 1)
	}
	all := make([]group, len(counts))
	groups = make([]*group, len(counts))
	n := len(events) - len(stateless)
	idx, evs, out := make([]int, 0, n), make([]wire.Event, 0, n), make([]wire.Vector, n)
	for i := range all {
		groups[i] = &all[i]
	}
	at := 0
	for i, c := range counts {
		g := &all[i]
		g.idx, g.events, g.out = idx[at:at:at+c], evs[at:at:at+c], out[at:at+c:at+c]
		at += c
	}
	for i, ev := range events {
		if ev.Entity == "" {
			continue
		}
		g := &all[byEntity[ev.Entity]]
		if g.key == "" {
			g.entity, g.key = ev.Entity, prefix+"f{"+ev.Entity+"}"
		}
		g.idx = append(g.idx, i)
		g.events = append(g.events, ev)
	}
	return groups, stateless
}
