// Package wire is streamlearn's contract: every record that crosses a Kafka topic or the HTTP API,
// and every row of the ClickHouse tables analysts query, in one place, with its JSON field names. Producers, consumers and analysts read these shapes;
// changing a field name here changes the public contract.
//
// Topics and their records:
//
//	events       Event (key: entity, when present)
//	outcomes     Outcome (key: event id)
//	predictions  Prediction (key: event id)
//	examples     Example (key: event id); Pending is the scored half waiting for its outcome
//	models       Announcement (key: model)
//	control      RetrainCommand (key: model)
//	events.dlq   the original bytes, with the Header* headers
//
// ClickHouse tables and their rows (tables.go): predictions PredictionRow, outcomes OutcomeRow,
// feature_drift FeatureDriftRow, model_performance PerformanceRow, drift_alerts DriftAlertRow,
// retrain_events RetrainEventRow, model_versions ModelVersionRow, model_reports ModelReportRow.
//
// wire imports no stage: every stage imports wire.
package wire
