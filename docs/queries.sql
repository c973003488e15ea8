-- Questions analysts ask of streamlearn's ClickHouse tables.
--
-- Run them in the streamlearn database (clickhouse-client --database streamlearn). They work on
-- ClickHouse 18.16 and on modern servers. Every table is a ReplacingMergeTree that may hold a row
-- more than once until a merge: FINAL reads each key once, which is what makes counts exact.
-- Times are DateTime('UTC'); "this week" means the last 7 days. A window's metrics are averaged
-- across windows weighted by n, its number of examples.
--
-- Each query is preceded by a "-- name: ..." line; sinks/chsink/queries_test.go runs them all.

-- name: drifted_features_this_week
-- Which features drifted in the last 7 days, worst first.
SELECT
    model,
    feature,
    any(kind) AS feature_kind,
    countIf(drifted = 1) AS drifted_windows,
    count() AS windows,
    max(psi) AS max_psi,
    max(ks) AS max_ks,
    min(ks_pvalue) AS min_ks_pvalue,
    max(js) AS max_js,
    max(missing_rate) AS max_missing_rate,
    minIf(window_start, drifted = 1) AS first_drifted,
    maxIf(window_end, drifted = 1) AS last_drifted
FROM feature_drift FINAL
WHERE window_start >= now() - INTERVAL 7 DAY
GROUP BY model, feature
HAVING drifted_windows > 0
ORDER BY drifted_windows DESC, max_psi DESC;

-- name: auc_around_retrains
-- How AUC moved with each promotion: the old champion's AUC over the 7 days before it against the
-- new champion's AUC over the 7 days after (all traffic, segment '').
SELECT
    model,
    promoted_at,
    reason,
    champion_version AS old_version,
    challenger_version AS new_version,
    champion_metric AS old_metric_at_decision,
    challenger_metric AS new_metric_at_decision,
    sumIf(auc * n, version = champion_version AND window_start >= promoted_at - INTERVAL 7 DAY AND window_start < promoted_at)
        / sumIf(n, version = champion_version AND window_start >= promoted_at - INTERVAL 7 DAY AND window_start < promoted_at) AS auc_before,
    sumIf(auc * n, version = challenger_version AND window_start >= promoted_at AND window_start < promoted_at + INTERVAL 7 DAY)
        / sumIf(n, version = challenger_version AND window_start >= promoted_at AND window_start < promoted_at + INTERVAL 7 DAY) AS auc_after,
    auc_after - auc_before AS auc_change
FROM
(
    SELECT model, time AS promoted_at, reason, champion_version, challenger_version, champion_metric, challenger_metric
    FROM retrain_events FINAL
    WHERE step = 'promoted'
)
ALL INNER JOIN
(
    SELECT model, version, window_start, auc, n
    FROM model_performance FINAL
    WHERE segment = ''
) USING model
GROUP BY model, promoted_at, reason, champion_version, challenger_version, champion_metric, challenger_metric
ORDER BY model, promoted_at;

-- name: versions_offline_vs_online
-- Each model version's AUC at training time against its AUC on live traffic (0 when it served none).
SELECT
    model,
    version,
    parent,
    status,
    created,
    examples AS training_examples,
    offline_auc,
    online_auc,
    online_auc - offline_auc AS auc_gap,
    online_examples
FROM
(
    SELECT model, version, parent, status, time AS created, examples, auc AS offline_auc
    FROM model_versions FINAL
)
ANY LEFT JOIN
(
    SELECT model, version, sum(auc * n) / sum(n) AS online_auc, sum(n) AS online_examples
    FROM model_performance FINAL
    WHERE segment = ''
    GROUP BY model, version
) USING (model, version)
ORDER BY model, version;

-- name: performance_by_segment
-- Quality per model version and segment over the last 7 days; segment '' is all traffic.
SELECT
    model,
    version,
    if(segment = '', '(all)', segment) AS segment_name,
    sum(n) AS examples,
    sum(positives) / sum(n) AS positive_rate,
    sum(auc * n) / sum(n) AS mean_auc,
    sum(logloss * n) / sum(n) AS mean_logloss,
    sum(brier * n) / sum(n) AS mean_brier,
    sum(ece * n) / sum(n) AS mean_ece,
    sum(label_coverage * n) / sum(n) AS mean_label_coverage
FROM model_performance FINAL
WHERE window_start >= now() - INTERVAL 7 DAY
GROUP BY model, version, segment
ORDER BY model, version, segment;

-- name: label_delay_and_coverage
-- Per day and model: how many predictions got a label, and how long labels took to arrive.
SELECT
    toDate(time) AS day,
    model,
    count() AS predicted,
    sum(has_label) AS labeled,
    labeled / predicted AS label_coverage,
    quantileIf(0.5)(delay_seconds, has_label = 1) AS delay_p50_seconds,
    quantileIf(0.9)(delay_seconds, has_label = 1) AS delay_p90_seconds,
    maxIf(delay_seconds, has_label = 1) AS delay_max_seconds
FROM
(
    SELECT id, model, time
    FROM predictions FINAL
    WHERE time >= now() - INTERVAL 7 DAY
)
ANY LEFT JOIN
(
    SELECT id, toUInt8(1) AS has_label, delay_seconds
    FROM outcomes FINAL
    WHERE joined = 1
) USING id
GROUP BY day, model
ORDER BY day, model;

-- name: prediction_volume_per_version
-- Predictions per hour, model version and route (champion, challenger, shadow) over the last day.
SELECT
    toStartOfHour(time) AS hour,
    model,
    version,
    route,
    count() AS predicted,
    avg(score) AS mean_score
FROM predictions FINAL
WHERE time >= now() - INTERVAL 1 DAY
GROUP BY hour, model, version, route
ORDER BY hour, model, version, route;

-- name: recent_drift_alerts
-- The latest drift alerts.
SELECT
    time,
    model,
    kind,
    reason,
    value,
    threshold,
    arrayStringConcat(features, ', ') AS feature_list,
    alert_id
FROM drift_alerts FINAL
WHERE time >= now() - INTERVAL 7 DAY
ORDER BY time DESC
LIMIT 100;

-- name: retrain_outcomes
-- Each retrain of the last 30 days: why it started, how it ended (its latest step) and how long it took.
SELECT
    model,
    event_id,
    anyIf(reason, step = 'triggered') AS trigger_reason,
    min(time) AS started,
    max(time) AS finished,
    toInt64(toUnixTimestamp(finished)) - toInt64(toUnixTimestamp(started)) AS duration_seconds,
    argMax(step, row_version) AS last_step,
    argMax(champion_version, row_version) AS champion,
    argMax(challenger_version, row_version) AS challenger
FROM retrain_events FINAL
WHERE time >= now() - INTERVAL 30 DAY
GROUP BY model, event_id
ORDER BY started;
