package app

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/streamlearn/streamlearn/features"
)

// registerStoreStats exposes the feature store's counters as Prometheus counters.
func (m *Main) registerStoreStats(store features.OnlineStore) {
	counter := func(name, help string, get func(features.Stats) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return float64(get(store.Stats())) })
	}
	m.Registry.MustRegister(
		counter("streamlearn_features_applied_total", "Events applied to their entity's aggregates.", func(s features.Stats) uint64 { return s.Applied }),
		counter("streamlearn_features_duplicates_total", "Redelivered events answered from their marks (applied once).", func(s features.Stats) uint64 { return s.Duplicates }),
		counter("streamlearn_features_corrupt_states_total", "Entity states that could not be read and were started afresh.", func(s features.Stats) uint64 { return s.Corrupt }),
		counter("streamlearn_features_fields_dropped_total", "Event fields not aggregated: their entity already tracked the most fields.", func(s features.Stats) uint64 { return s.FieldsDropped }),
		counter("streamlearn_features_conflicts_total", "Batches re-read because another writer changed an entity.", func(s features.Stats) uint64 { return s.Conflicts }),
		counter("streamlearn_features_cache_hits_total", "Live lookups of entity values answered from the in-process cache.", func(s features.Stats) uint64 { return s.Cache.Hits }),
		counter("streamlearn_features_cache_misses_total", "Live lookups of entity values read from Redis.", func(s features.Stats) uint64 { return s.Cache.Misses }),
		counter("streamlearn_features_cache_invalidations_total", "Keys Redis reported changed to the in-process cache.", func(s features.Stats) uint64 { return s.Cache.Invalidations }),
		counter("streamlearn_features_cache_resets_total", "Times the whole in-process cache was dropped (its tracking connection made or lost).", func(s features.Stats) uint64 { return s.Cache.Resets }),
	)
}
