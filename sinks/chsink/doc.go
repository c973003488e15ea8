// Package clickhouse writes streamlearn's tables to ClickHouse: predictions, outcomes, feature drift,
// model performance, drift alerts, retrain events and model versions.
//
// A Writer buffers rows in memory and writes them in batched INSERTs over the native protocol. It
// creates and migrates its database on Open. Every table is a ReplacingMergeTree keyed by the row's
// deterministic key, so re-sending a batch after a failure (at-least-once delivery) does not change
// what queries with FINAL return.
//
// With Config.Cluster set, each table is a local table (<table>_local) on every host of the cluster
// and a Distributed table of the table's own name over them, sharded by a hash of the table's
// deduplication key, so that the versions of a row meet on one shard and FINAL through the
// Distributed table stays exact. Open migrates each host directly (cluster.go says why not ON
// CLUSTER) and the Writer inserts through the Distributed tables with insert_distributed_sync=1.
//
// The schema works on ClickHouse 18.16 and on modern servers, which rules out DateTime64, TTL, Map,
// LowCardinality, Bool and ADD COLUMN IF NOT EXISTS. Times are stored as DateTime('UTC') (seconds);
// where milliseconds matter a UInt16 column named <column>_ms holds the milliseconds within the second.
// Every table has a row_version UInt64 column, the epoch milliseconds of the row's version time (for
// example scored_at for predictions, updated for feature_drift); of the rows with the same key the
// one with the greatest row_version wins. In outcomes, a joined row's row_version also has bit 62
// set: it replaces the outcome's un-joined row even when the outcome's timestamp is later.
package chsink
