// Package predictor serves live scores: on the stream (every valid event gets one prediction record
// for the route it takes) and over HTTP. It routes traffic between a champion and challengers,
// scores shadow models on the side, and swaps model versions atomically, so a request is scored by
// exactly one version of each model from start to end.
package predictor

import (
	"maps"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/streamlearn/streamlearn/learner"
)

// Served is one loaded model version, immutable once built.
type Served struct {
	Model    string
	Version  int64
	Snapshot *learner.Snapshot
	LoadedAt time.Time
	// CreatedAt is when the version was published and DataTo the event time of the newest example
	// it learned, from the registry (zero for version 0, or when the registry did not say).
	CreatedAt time.Time
	DataTo    time.Time
	// ArrivedTo is when the newest example it learned reached the examples topic (zero: unknown).
	ArrivedTo time.Time
	// DeltaSeq is the number of the weight delta applied to the version (learner.Delta; 0: none,
	// the version's weights as published). With a delta, Snapshot holds the version's weights
	// moved by it, CreatedAt, DataTo and ArrivedTo are the delta's, and Base is the version as
	// loaded, without deltas.
	DeltaSeq int64
	Base     *Served
}

// loaded returns the version as loaded, without deltas: what a delta applies to.
func (s *Served) loaded() *Served {
	if s.Base != nil {
		return s.Base
	}
	return s
}

// Models holds the serving version of each model name. Readers take one immutable map with a
// single atomic load, so a request that reads several models sees them as of one moment; writers
// copy the map. A caller that got a *Served keeps scoring with it even after a swap.
type Models struct {
	mu  sync.Mutex // serializes writers
	cur atomic.Pointer[map[string]*Served]
}

// NewModels returns an empty holder.
func NewModels() *Models {
	m := &Models{}
	m.cur.Store(&map[string]*Served{})
	return m
}

func (m *Models) load() map[string]*Served { return *m.cur.Load() }

// Get returns the serving version of a model, or nil.
func (m *Models) Get(name string) *Served { return m.load()[name] }

// Swap makes s the serving version of its model and returns the one it replaced (nil if none).
func (m *Models) Swap(s *Served) *Served {
	m.mu.Lock()
	defer m.mu.Unlock()
	old := m.load()
	next := maps.Clone(old)
	next[s.Model] = s
	m.cur.Store(&next)
	return old[s.Model]
}

// All returns the serving versions, by model name.
func (m *Models) All() []*Served {
	all := m.load()
	out := make([]*Served, 0, len(all))
	for _, s := range all {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Model < out[j].Model })
	return out
}
