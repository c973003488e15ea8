package features

import (
	"time"

	"github.com/streamlearn/streamlearn/wire"
)

// Stats counts what a feature store did since it started; expose them as Prometheus counters.
type Stats struct {
	// Applied is the number of events applied to their entity's aggregates.
	Applied uint64
	// Duplicates is the number of redelivered events answered from their marks (applied once).
	Duplicates uint64
	// Late is the number of deliveries of events older than the allowed lateness: scored with what
	// the store holds, not applied.
	Late uint64
	// Corrupt is the number of entity states that could not be read and were started afresh.
	Corrupt uint64
	// FieldsDropped is the number of event fields not aggregated because their entity already tracked
	// max_tracked_fields fields.
	FieldsDropped uint64
	// Conflicts is the number of entity writes retried because another writer changed the entity.
	Conflicts uint64
	// Cache counts the in-process cache of the values that live lookups read.
	Cache CacheStats
}

// CacheStats counts a feature store's in-process cache of entity values (see featurestore).
type CacheStats struct {
	// Hits and Misses count the entity and statistics values looked up in the cache.
	Hits, Misses uint64
	// Invalidations counts the keys Redis said had changed.
	Invalidations uint64
	// Resets counts the times the whole cache was dropped: its tracking connection was lost, or made.
	Resets uint64
}

// Stats returns the engine's counters (Conflicts is the adapter's to fill in).
func (e *Engine) Stats() Stats {
	return Stats{Applied: e.applied.Load(), Duplicates: e.duplicates.Load(), Late: e.late.Load(),
		Corrupt: e.corrupt.Load(), FieldsDropped: e.dropped.Load()}
}

type lateEvent struct {
	ev     wire.Event
	behind time.Duration
}

// Commit counts what an ApplyEntity call did, once its Update is stored (or needed no storing): an
// adapter that has to compute an entity again after a write conflict commits only the last Update.
func (e *Engine) Commit(u *Update) {
	e.applied.Add(u.applied)
	e.duplicates.Add(u.duplicates)
	e.dropped.Add(u.dropped)
	e.late.Add(uint64(len(u.late)))
	if e.opt.OnLate != nil {
		for _, l := range u.late {
			e.opt.OnLate(l.ev, l.behind)
		}
	}
}
