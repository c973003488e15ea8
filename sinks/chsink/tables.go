package chsink

import "time"

// Table names.
const (
	TablePredictions      = "predictions"
	TableOutcomes         = "outcomes"
	TableFeatureDrift     = "feature_drift"
	TableModelPerformance = "model_performance"
	TableDriftAlerts      = "drift_alerts"
	TableRetrainEvents    = "retrain_events"
	TableModelVersions    = "model_versions"
	TableSchemaMigrations = "schema_migrations"
)

// The partition of a row, as the table's PARTITION BY in migrations.go computes it.
func predictionPartition(r *PredictionRow) uint32     { return day(r.Time) }
func outcomePartition(r *OutcomeRow) uint32           { return day(r.Time) }
func featureDriftPartition(r *FeatureDriftRow) uint32 { return month(r.WindowStart) }
func performancePartition(r *PerformanceRow) uint32   { return month(r.WindowStart) }
func driftAlertPartition(r *DriftAlertRow) uint32     { return month(r.Time) }
func retrainEventPartition(r *RetrainEventRow) uint32 { return month(r.Time) }

// The columns each Add* method writes, in INSERT order. The DDL lives in migrations.go.

var predictionColumns = []column[PredictionRow]{
	col("id", func(r *PredictionRow) string { return r.ID }),
	col("entity", func(r *PredictionRow) string { return r.Entity }),
	col("model", func(r *PredictionRow) string { return r.Model }),
	col("version", func(r *PredictionRow) int64 { return r.Version }),
	col("score", func(r *PredictionRow) float64 { return r.Score }),
	col("route", func(r *PredictionRow) string { return r.Route }),
	col("time", func(r *PredictionRow) time.Time { return dateTime(r.Time) }),
	col("time_ms", func(r *PredictionRow) uint16 { return millis(r.Time) }),
	col("scored_at", func(r *PredictionRow) time.Time { return dateTime(r.ScoredAt) }),
	col("scored_at_ms", func(r *PredictionRow) uint16 { return millis(r.ScoredAt) }),
	col("row_version", func(r *PredictionRow) uint64 { return rowVersion(r.ScoredAt) }),
}

var outcomeColumns = []column[OutcomeRow]{
	col("id", func(r *OutcomeRow) string { return r.ID }),
	col("label", func(r *OutcomeRow) float64 { return r.Label }),
	col("class", func(r *OutcomeRow) string { return r.Class }),
	col("time", func(r *OutcomeRow) time.Time { return dateTime(r.Time) }),
	col("time_ms", func(r *OutcomeRow) uint16 { return millis(r.Time) }),
	col("received_at", func(r *OutcomeRow) time.Time { return dateTime(r.ReceivedAt) }),
	col("received_at_ms", func(r *OutcomeRow) uint16 { return millis(r.ReceivedAt) }),
	col("model", func(r *OutcomeRow) string { return r.Model }),
	col("version", func(r *OutcomeRow) int64 { return r.Version }),
	col("score", func(r *OutcomeRow) float64 { return r.Score }),
	col("joined", func(r *OutcomeRow) uint8 { return boolean(r.Joined) }),
	col("delay_seconds", func(r *OutcomeRow) float64 { return r.DelaySeconds }),
	col("row_version", func(r *OutcomeRow) uint64 { return rowVersion(r.ReceivedAt) }),
}

var featureDriftColumns = []column[FeatureDriftRow]{
	col("window_start", func(r *FeatureDriftRow) time.Time { return dateTime(r.WindowStart) }),
	col("window_end", func(r *FeatureDriftRow) time.Time { return dateTime(r.WindowEnd) }),
	col("model", func(r *FeatureDriftRow) string { return r.Model }),
	col("feature", func(r *FeatureDriftRow) string { return r.Feature }),
	col("kind", func(r *FeatureDriftRow) string { return r.Kind }),
	col("n", func(r *FeatureDriftRow) int64 { return r.N }),
	col("missing_rate", func(r *FeatureDriftRow) float64 { return r.MissingRate }),
	col("psi", func(r *FeatureDriftRow) float64 { return r.PSI }),
	col("ks", func(r *FeatureDriftRow) float64 { return r.KS }),
	col("ks_pvalue", func(r *FeatureDriftRow) float64 { return r.KSPValue }),
	col("js", func(r *FeatureDriftRow) float64 { return r.JS }),
	col("wasserstein", func(r *FeatureDriftRow) float64 { return r.Wasserstein }),
	col("chi2", func(r *FeatureDriftRow) float64 { return r.Chi2 }),
	col("chi2_pvalue", func(r *FeatureDriftRow) float64 { return r.Chi2PValue }),
	col("linf", func(r *FeatureDriftRow) float64 { return r.LInf }),
	col("reference_start", func(r *FeatureDriftRow) time.Time { return dateTime(r.ReferenceStart) }),
	col("drifted", func(r *FeatureDriftRow) uint8 { return boolean(r.Drifted) }),
	col("updated", func(r *FeatureDriftRow) time.Time { return dateTime(r.Updated) }),
	col("row_version", func(r *FeatureDriftRow) uint64 { return rowVersion(r.Updated) }),
}

var performanceColumns = []column[PerformanceRow]{
	col("window_start", func(r *PerformanceRow) time.Time { return dateTime(r.WindowStart) }),
	col("window_end", func(r *PerformanceRow) time.Time { return dateTime(r.WindowEnd) }),
	col("model", func(r *PerformanceRow) string { return r.Model }),
	col("version", func(r *PerformanceRow) int64 { return r.Version }),
	col("segment", func(r *PerformanceRow) string { return r.Segment }),
	col("n", func(r *PerformanceRow) int64 { return r.N }),
	col("positives", func(r *PerformanceRow) int64 { return r.Positives }),
	col("label_coverage", func(r *PerformanceRow) float64 { return r.LabelCoverage }),
	col("mean_delay_seconds", func(r *PerformanceRow) float64 { return r.MeanDelaySeconds }),
	col("auc", func(r *PerformanceRow) float64 { return r.AUC }),
	col("logloss", func(r *PerformanceRow) float64 { return r.LogLoss }),
	col("brier", func(r *PerformanceRow) float64 { return r.Brier }),
	col("ece", func(r *PerformanceRow) float64 { return r.ECE }),
	col("precision", func(r *PerformanceRow) float64 { return r.Precision }),
	col("recall", func(r *PerformanceRow) float64 { return r.Recall }),
	col("mae", func(r *PerformanceRow) float64 { return r.MAE }),
	col("rmse", func(r *PerformanceRow) float64 { return r.RMSE }),
	col("updated", func(r *PerformanceRow) time.Time { return dateTime(r.Updated) }),
	col("row_version", func(r *PerformanceRow) uint64 { return rowVersion(r.Updated) }),
}

var driftAlertColumns = []column[DriftAlertRow]{
	col("time", func(r *DriftAlertRow) time.Time { return dateTime(r.Time) }),
	col("time_ms", func(r *DriftAlertRow) uint16 { return millis(r.Time) }),
	col("model", func(r *DriftAlertRow) string { return r.Model }),
	col("kind", func(r *DriftAlertRow) string { return r.Kind }),
	col("reason", func(r *DriftAlertRow) string { return r.Reason }),
	col("value", func(r *DriftAlertRow) float64 { return r.Value }),
	col("threshold", func(r *DriftAlertRow) float64 { return r.Threshold }),
	col("features", func(r *DriftAlertRow) []string {
		if r.Features == nil {
			return []string{}
		}
		return r.Features
	}),
	col("alert_id", func(r *DriftAlertRow) string { return r.AlertID }),
	col("row_version", func(r *DriftAlertRow) uint64 { return rowVersion(r.Time) }),
}

var retrainEventColumns = []column[RetrainEventRow]{
	col("time", func(r *RetrainEventRow) time.Time { return dateTime(r.Time) }),
	col("time_ms", func(r *RetrainEventRow) uint16 { return millis(r.Time) }),
	col("model", func(r *RetrainEventRow) string { return r.Model }),
	col("step", func(r *RetrainEventRow) string { return r.Step }),
	col("reason", func(r *RetrainEventRow) string { return r.Reason }),
	col("champion_version", func(r *RetrainEventRow) int64 { return r.ChampionVersion }),
	col("challenger_version", func(r *RetrainEventRow) int64 { return r.ChallengerVersion }),
	col("champion_metric", func(r *RetrainEventRow) float64 { return r.ChampionMetric }),
	col("challenger_metric", func(r *RetrainEventRow) float64 { return r.ChallengerMetric }),
	col("event_id", func(r *RetrainEventRow) string { return r.EventID }),
	col("row_version", func(r *RetrainEventRow) uint64 { return rowVersion(r.Time) }),
}

var modelVersionColumns = []column[ModelVersionRow]{
	col("time", func(r *ModelVersionRow) time.Time { return dateTime(r.Time) }),
	col("model", func(r *ModelVersionRow) string { return r.Model }),
	col("version", func(r *ModelVersionRow) int64 { return r.Version }),
	col("parent", func(r *ModelVersionRow) int64 { return r.Parent }),
	col("spec", func(r *ModelVersionRow) string { return r.Spec }),
	col("examples_from", func(r *ModelVersionRow) time.Time { return dateTime(r.ExamplesFrom) }),
	col("examples_to", func(r *ModelVersionRow) time.Time { return dateTime(r.ExamplesTo) }),
	col("examples", func(r *ModelVersionRow) int64 { return r.Examples }),
	col("auc", func(r *ModelVersionRow) float64 { return r.AUC }),
	col("logloss", func(r *ModelVersionRow) float64 { return r.LogLoss }),
	col("status", func(r *ModelVersionRow) string { return r.Status }),
	col("updated", func(r *ModelVersionRow) time.Time { return dateTime(r.Updated) }),
	col("row_version", func(r *ModelVersionRow) uint64 { return rowVersion(r.Updated) }),
}
