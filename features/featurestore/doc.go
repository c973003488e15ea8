// Package featurestore is the Redis adapter of the feature store (features.OnlineStore). An entity is one
// string, "<prefix>f{<entity>}" (the hash tag keeps it on one Redis Cluster slot): an 8-byte version,
// then the entity's state in the features package's binary format: tiles of partial aggregates per
// window and the redelivery marks of its recent events.
//
// A batch costs two pipelined round trips per Redis node, whatever its size: MGET reads the batch's
// entities (one per hash slot on a cluster, chunks of 500 keys on a single server); the features
// package computes the vectors and the new states in Go; one EVALSHA per slot or chunk writes each
// entity back if its version is unchanged (compare-and-set), and an entity that another writer
// changed in between is read and computed again. Every write sets the key's TTL to the longest
// window plus the allowed lateness, so idle entities expire; within the state, tiles and marks that
// event time has passed are dropped on every write. The statistics of standardize transforms, shared
// by all processes, are one hash, "<prefix>fz".
//
// With Options.NearCache, Lookup (live scoring) keeps the values it read in process memory, kept
// coherent by Redis's client tracking on one extra connection (nearcache.go); Apply never uses it.
//
// Store, the spine's event counter per entity ("<prefix>ent:{<entity>}"), stays until the predictor
// has moved to Online.
package featurestore
