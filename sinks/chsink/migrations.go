package chsink

// migrations is the schema history, oldest first. Never edit an applied migration: append one.
// Every step must be idempotent, because two processes may migrate at once and a crash may leave a
// migration half applied (or applied on some hosts of a cluster only); ClickHouse 18.16 has CREATE
// TABLE IF NOT EXISTS but not ADD COLUMN IF NOT EXISTS, so new columns go through addColumn, which
// checks system.columns.
//
// Partition keys must be functions of the row's key columns or of columns that never change for a
// key, since ReplacingMergeTree only replaces rows within a partition; in cluster mode a table's
// shardBy must be a function of its ORDER BY key for the same reason, across shards.
var migrations = []migration{
	{version: 1, name: "create tables", steps: []step{
		createTable{name: "predictions", shardBy: "cityHash64(id)", body: `(
	id String,
	entity String,
	model String,
	version Int64,
	score Float64,
	route String,
	time DateTime('UTC'),
	time_ms UInt16,
	scored_at DateTime('UTC'),
	scored_at_ms UInt16,
	row_version UInt64
) ENGINE = ReplacingMergeTree(row_version) PARTITION BY toYYYYMMDD(time) ORDER BY (model, id)`},
		createTable{name: "outcomes", shardBy: "cityHash64(id)", body: `(
	id String,
	label Float64,
	class String,
	time DateTime('UTC'),
	time_ms UInt16,
	received_at DateTime('UTC'),
	received_at_ms UInt16,
	model String,
	version Int64,
	score Float64,
	joined UInt8,
	delay_seconds Float64,
	row_version UInt64
) ENGINE = ReplacingMergeTree(row_version) PARTITION BY toYYYYMMDD(time) ORDER BY id`},
		createTable{name: "feature_drift", shardBy: "cityHash64(model, feature)", body: `(
	window_start DateTime('UTC'),
	window_end DateTime('UTC'),
	model String,
	feature String,
	kind String,
	n Int64,
	missing_rate Float64,
	psi Float64,
	ks Float64,
	ks_pvalue Float64,
	js Float64,
	wasserstein Float64,
	chi2 Float64,
	chi2_pvalue Float64,
	linf Float64,
	reference_start DateTime('UTC'),
	drifted UInt8,
	updated DateTime('UTC'),
	row_version UInt64
) ENGINE = ReplacingMergeTree(row_version) PARTITION BY toYYYYMM(window_start) ORDER BY (model, feature, window_start)`},
		createTable{name: "model_performance", shardBy: "cityHash64(model, version)", body: `(
	window_start DateTime('UTC'),
	window_end DateTime('UTC'),
	model String,
	version Int64,
	segment String,
	n Int64,
	positives Int64,
	label_coverage Float64,
	mean_delay_seconds Float64,
	auc Float64,
	logloss Float64,
	brier Float64,
	ece Float64,
	precision Float64,
	recall Float64,
	mae Float64,
	rmse Float64,
	updated DateTime('UTC'),
	row_version UInt64
) ENGINE = ReplacingMergeTree(row_version) PARTITION BY toYYYYMM(window_start) ORDER BY (model, version, segment, window_start)`},
		createTable{name: "drift_alerts", shardBy: "cityHash64(alert_id)", body: `(
	time DateTime('UTC'),
	time_ms UInt16,
	model String,
	kind String,
	reason String,
	value Float64,
	threshold Float64,
	features Array(String),
	alert_id String,
	row_version UInt64
) ENGINE = ReplacingMergeTree(row_version) PARTITION BY toYYYYMM(time) ORDER BY alert_id`},
		createTable{name: "retrain_events", shardBy: "cityHash64(model, event_id)", body: `(
	time DateTime('UTC'),
	time_ms UInt16,
	model String,
	step String,
	reason String,
	champion_version Int64,
	challenger_version Int64,
	champion_metric Float64,
	challenger_metric Float64,
	event_id String,
	row_version UInt64
) ENGINE = ReplacingMergeTree(row_version) PARTITION BY toYYYYMM(time) ORDER BY (model, event_id, step)`},
		// No partition key: status updates of a version must replace each other whatever their times.
		createTable{name: "model_versions", shardBy: "cityHash64(model, version)", body: `(
	time DateTime('UTC'),
	model String,
	version Int64,
	parent Int64,
	spec String,
	examples_from DateTime('UTC'),
	examples_to DateTime('UTC'),
	examples Int64,
	auc Float64,
	logloss Float64,
	status String,
	updated DateTime('UTC'),
	row_version UInt64
) ENGINE = ReplacingMergeTree(row_version) ORDER BY (model, version)`},
	}},
	{version: 2, name: "feature_drift histograms", steps: []step{
		addColumn{table: "feature_drift", column: "bins", typ: "Array(String)"},
		addColumn{table: "feature_drift", column: "reference_shares", typ: "Array(Float64)"},
		addColumn{table: "feature_drift", column: "window_shares", typ: "Array(Float64)"},
	}},
	// Snapshots: model_versions lists retained snapshots (not every publish), with their kind, tags,
	// binary and offsets; model_reports holds each snapshot's evaluation report, one figure a row.
	{version: 3, name: "snapshots and reports", steps: []step{
		addColumn{table: "model_versions", column: "kind", typ: "String"},
		addColumn{table: "model_versions", column: "tags", typ: "Array(String)"},
		addColumn{table: "model_versions", column: "binary", typ: "String"},
		addColumn{table: "model_versions", column: "offsets", typ: "String"},
		createTable{name: "model_reports", shardBy: "cityHash64(model, version)", body: `(
	time DateTime('UTC'),
	model String,
	version Int64,
	section String,
	key String,
	n Int64,
	value Float64,
	aux Float64,
	updated DateTime('UTC'),
	row_version UInt64
) ENGINE = ReplacingMergeTree(row_version) ORDER BY (model, version, section, key)`},
	}},
}
