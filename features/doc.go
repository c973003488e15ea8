// Package features turns events into the feature vectors that models score and learn from, and keeps
// the per-entity state those features need in an online store (Redis: see features/featurestore).
//
// # Features
//
// A Config declares them: raw fields (numbers, booleans 0/1, strings one-hot as "name=value", or
// hashed, or from a vocabulary), transforms of numbers (log, clip, bucketize, standardize),
// per-entity aggregates over sliding event-time windows (count, sum, mean, min, max, stddev, last,
// since_prev, distinct), and crosses of two features. With no config at all (DefaultConfig), every
// field is used as it comes and every entity gets count_1h, count_24h and, for each numeric field of
// its events, <field>_mean_1h and <field>_mean_24h. A wire.Vector is sorted by name; names are stable
// strings ("amount_mean_1h", "country=DE", "country=DE&device=ios") for a hashed linear model.
// Aggregates that have no value (the mean of an empty window) are left out of the vector.
//
// # Windows and tiles
//
// A window W is kept as TilesPerWindow tiles of g = W/TilesPerWindow each, aligned to the Unix epoch,
// holding partial aggregates (count, sum, sum of squares, min, max, latest value, latest time, a
// distinct-count sketch). An event at time t is scored with the W/g tiles that end with t's own
// tile, so the window reaches back between W−g and W from t. t's own tile counts only if it holds
// nothing later than t: an event that arrives after a later event of its tile sees the earlier tiles
// only, and an event that arrives in time sees every event before it, those of the same millisecond
// that arrived earlier included. These rules depend on the order of arrival and nothing else, so a
// replay of the same stream gives the same vectors, and every vector is the state as of just before
// its event: an event never sees itself or anything that arrived after it.
//
// # Lateness
//
// An entity's horizon is its latest applied event time minus AllowedLateness (default 10 minutes).
// An event before the horizon is too late: it is scored with what the store still holds (tiles the
// horizon can no longer reach are gone), it is not applied, and it is counted (Stats.Late, and the
// OnLate hook of the adapter). Every other event is applied, out of order or not, to the tiles it
// belongs to.
//
// # Redelivery
//
// An applied event leaves a mark in its entity's state: a 64-bit hash of its id, its time and the
// inputs its vector was built from (the aggregate values and the standardize parameters it used).
// A redelivered event (a consumer restart, a producer retry, a duplicate in the same batch) finds
// its mark: it is not applied again and gets the same vector again. Marks are kept in buckets of a
// quarter of the lateness of event time and dropped once the entity's horizon has passed their
// bucket; by then a redelivery is too late to be applied anyway, so dropping them never lets an event
// count twice. An entity holds at most MaxMarks marks (default 10,000; the newest bucket is never
// dropped early): past that its oldest buckets go early and the entity's horizon rises past them, so
// that it never counts an event twice either, at the price of a shorter lateness for that entity.
// Redelivery is recognized by id: events without a time get the time of their decoding, so a
// redelivery of such an event after its mark has gone could be applied again.
//
// # Standardize
//
// The standardize transform uses the running count, sum and sum of squares of the feature over
// every applied event, shared by all processes through the store and updated once per batch; a
// vector uses the statistics as of the start of its batch (recorded in the event's mark).
//
// # Storage
//
// The Engine owns these rules and the binary format of an entity's state; adapters (features/featurestore)
// read and write that state as one opaque value per entity, atomically. When the config changes, the
// tiles of windows whose tile length is unchanged are kept, others start empty; marks made under the
// old config still stop a redelivery from being applied twice, and the redelivery is scored with the
// current state.
package features
