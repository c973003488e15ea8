// Package redis is the Redis adapter of the feature store (features.OnlineStore): one hash per
// entity, "<prefix>f{<entity>}", whose hash tag keeps it on one Redis Cluster slot. The hash holds
//
//	v         a version, bumped by every write
//	s         the entity's state: tiles of partial aggregates per window, in features' binary format
//	e:<id>    the redelivery mark of an applied event (the inputs it was served with)
//	l:<n>     the ids of the marks in bucket n of event time, to delete them with their bucket
//
// A batch costs two pipelined round trips per Redis node, whatever its size: one HMGET per entity
// reads the version, the state and the marks of the batch's event ids; the features package computes
// the vectors and the new states in Go; one EVALSHA per entity writes them back if the version is
// unchanged (compare-and-set), and an entity that another writer changed in between is read and
// computed again. The hash expires (PEXPIRE) after the longest window plus the allowed lateness of
// wall-clock idleness; tiles and marks that event time has passed are dropped on every write.
package redis
