// Package predictor serves live scores: on the stream (every valid event gets one prediction record)
// and over HTTP. It holds the serving version of each model and swaps versions atomically, so a
// request is scored by exactly one version from start to end.
package predictor

import (
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
}

// Models holds the serving version of each model name. Get and Swap are safe for concurrent use; a
// caller that got a *Served keeps scoring with it even after a swap.
type Models struct {
	mu     sync.RWMutex
	byName map[string]*atomic.Pointer[Served]
}

// NewModels returns an empty holder.
func NewModels() *Models { return &Models{byName: map[string]*atomic.Pointer[Served]{}} }

// Get returns the serving version of a model, or nil.
func (m *Models) Get(name string) *Served {
	m.mu.RLock()
	p := m.byName[name]
	m.mu.RUnlock()
	if p == nil {
		return nil
	}
	return p.Load()
}

// Swap makes s the serving version of its model and returns the one it replaced (nil if none).
func (m *Models) Swap(s *Served) *Served {
	m.mu.RLock()
	p := m.byName[s.Model]
	m.mu.RUnlock()
	if p == nil {
		m.mu.Lock()
		if p = m.byName[s.Model]; p == nil {
			p = new(atomic.Pointer[Served])
			m.byName[s.Model] = p
		}
		m.mu.Unlock()
	}
	return p.Swap(s)
}

// All returns the serving versions, by model name.
func (m *Models) All() []*Served {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]*Served, 0, len(m.byName))
	for _, p := range m.byName {
		if s := p.Load(); s != nil {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Model < out[j].Model })
	return out
}
