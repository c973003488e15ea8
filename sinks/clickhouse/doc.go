// Package clickhouse writes streamlearn's tables to ClickHouse: predictions, outcomes, feature drift,
// model performance, drift alerts, retrain events and model versions.
//
// A Writer buffers rows in memory and writes them in batched INSERTs over the native protocol. It
// creates and migrates its database on Open. Every table is a ReplacingMergeTree keyed by the row's
// deterministic key, so re-sending a batch after a failure (at-least-once delivery) does not change
// what queries with FINAL return.
//
// The schema works on ClickHouse 18.16 and on modern servers, which rules out DateTime64, TTL, Map,
// LowCardinality, Bool and ADD COLUMN IF NOT EXISTS. Times are stored as DateTime('UTC') (seconds);
// where milliseconds matter a UInt16 column named <column>_ms holds the milliseconds within the second.
// Every table has a row_version UInt64 column, the epoch milliseconds of the row's version time (for
// example scored_at for predictions, updated for feature_drift); of the rows with the same key the
// one with the greatest row_version wins.
package clickhouse
