package chsink

import (
	"time"

	"github.com/streamlearn/streamlearn/wire"
)

// Table names.
const (
	TablePredictions      = "predictions"
	TableOutcomes         = "outcomes"
	TableFeatureDrift     = "feature_drift"
	TableModelPerformance = "model_performance"
	TableDriftAlerts      = "drift_alerts"
	TableRetrainEvents    = "retrain_events"
	TableModelVersions    = "model_versions"
	TableModelReports     = "model_reports"
	TableSchemaMigrations = "schema_migrations"
)

// The partition of a row, as the table's PARTITION BY in migrations.go computes it.
func predictionPartition(r *wire.PredictionRow) uint32     { return day(r.Time) }
func outcomePartition(r *wire.OutcomeRow) uint32           { return day(r.Time) }
func featureDriftPartition(r *wire.FeatureDriftRow) uint32 { return month(r.WindowStart) }
func performancePartition(r *wire.PerformanceRow) uint32   { return month(r.WindowStart) }
func driftAlertPartition(r *wire.DriftAlertRow) uint32     { return month(r.Time) }
func retrainEventPartition(r *wire.RetrainEventRow) uint32 { return month(r.Time) }

// The columns each Add* method writes, in INSERT order. The DDL lives in migrations.go.

var predictionColumns = []column[wire.PredictionRow]{
	col("id", func(r *wire.PredictionRow) string { return r.ID }),
	col("entity", func(r *wire.PredictionRow) string { return r.Entity }),
	col("model", func(r *wire.PredictionRow) string { return r.Model }),
	col("version", func(r *wire.PredictionRow) int64 { return r.Version }),
	col("score", func(r *wire.PredictionRow) float64 { return r.Score }),
	col("route", func(r *wire.PredictionRow) string { return r.Route }),
	col("time", func(r *wire.PredictionRow) time.Time { return dateTime(r.Time) }),
	col("time_ms", func(r *wire.PredictionRow) uint16 { return millis(r.Time) }),
	col("scored_at", func(r *wire.PredictionRow) time.Time { return dateTime(r.ScoredAt) }),
	col("scored_at_ms", func(r *wire.PredictionRow) uint16 { return millis(r.ScoredAt) }),
	col("row_version", func(r *wire.PredictionRow) uint64 { return rowVersion(r.ScoredAt) }),
}

var outcomeColumns = []column[wire.OutcomeRow]{
	col("id", func(r *wire.OutcomeRow) string { return r.ID }),
	col("label", func(r *wire.OutcomeRow) float64 { return r.Label }),
	col("class", func(r *wire.OutcomeRow) string { return r.Class }),
	col("time", func(r *wire.OutcomeRow) time.Time { return dateTime(r.Time) }),
	col("time_ms", func(r *wire.OutcomeRow) uint16 { return millis(r.Time) }),
	col("received_at", func(r *wire.OutcomeRow) time.Time { return dateTime(r.ReceivedAt) }),
	col("received_at_ms", func(r *wire.OutcomeRow) uint16 { return millis(r.ReceivedAt) }),
	col("model", func(r *wire.OutcomeRow) string { return r.Model }),
	col("version", func(r *wire.OutcomeRow) int64 { return r.Version }),
	col("score", func(r *wire.OutcomeRow) float64 { return r.Score }),
	col("joined", func(r *wire.OutcomeRow) uint8 { return boolean(r.Joined) }),
	col("delay_seconds", func(r *wire.OutcomeRow) float64 { return r.DelaySeconds }),
	col("row_version", func(r *wire.OutcomeRow) uint64 { return outcomeRowVersion(r) }),
}

// joinedOutcome is set in the row_version of joined outcome rows, so that an outcome's joined row
// replaces its un-joined one whatever the two records' timestamps say: the un-joined row carries
// the producer's timestamp of the outcome, which a skewed client clock can put after the example's.
const joinedOutcome = 1 << 62

func outcomeRowVersion(r *wire.OutcomeRow) uint64 {
	v := rowVersion(r.ReceivedAt)
	if r.Joined {
		v |= joinedOutcome
	}
	return v
}

var featureDriftColumns = []column[wire.FeatureDriftRow]{
	col("window_start", func(r *wire.FeatureDriftRow) time.Time { return dateTime(r.WindowStart) }),
	col("window_end", func(r *wire.FeatureDriftRow) time.Time { return dateTime(r.WindowEnd) }),
	col("model", func(r *wire.FeatureDriftRow) string { return r.Model }),
	col("feature", func(r *wire.FeatureDriftRow) string { return r.Feature }),
	col("kind", func(r *wire.FeatureDriftRow) string { return r.Kind }),
	col("n", func(r *wire.FeatureDriftRow) int64 { return r.N }),
	col("missing_rate", func(r *wire.FeatureDriftRow) float64 { return r.MissingRate }),
	col("psi", func(r *wire.FeatureDriftRow) float64 { return r.PSI }),
	col("ks", func(r *wire.FeatureDriftRow) float64 { return r.KS }),
	col("ks_pvalue", func(r *wire.FeatureDriftRow) float64 { return r.KSPValue }),
	col("js", func(r *wire.FeatureDriftRow) float64 { return r.JS }),
	col("wasserstein", func(r *wire.FeatureDriftRow) float64 { return r.Wasserstein }),
	col("chi2", func(r *wire.FeatureDriftRow) float64 { return r.Chi2 }),
	col("chi2_pvalue", func(r *wire.FeatureDriftRow) float64 { return r.Chi2PValue }),
	col("linf", func(r *wire.FeatureDriftRow) float64 { return r.LInf }),
	col("reference_start", func(r *wire.FeatureDriftRow) time.Time { return dateTime(r.ReferenceStart) }),
	col("drifted", func(r *wire.FeatureDriftRow) uint8 { return boolean(r.Drifted) }),
	col("updated", func(r *wire.FeatureDriftRow) time.Time { return dateTime(r.Updated) }),
	col("row_version", func(r *wire.FeatureDriftRow) uint64 { return rowVersion(r.Updated) }),
	col("bins", func(r *wire.FeatureDriftRow) []string { return nonNil(r.Bins) }),
	col("reference_shares", func(r *wire.FeatureDriftRow) []float64 { return nonNil(r.ReferenceShares) }),
	col("window_shares", func(r *wire.FeatureDriftRow) []float64 { return nonNil(r.WindowShares) }),
}

// nonNil returns s, or an empty slice for nil: the driver writes an Array column from non-nil slices.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

var performanceColumns = []column[wire.PerformanceRow]{
	col("window_start", func(r *wire.PerformanceRow) time.Time { return dateTime(r.WindowStart) }),
	col("window_end", func(r *wire.PerformanceRow) time.Time { return dateTime(r.WindowEnd) }),
	col("model", func(r *wire.PerformanceRow) string { return r.Model }),
	col("version", func(r *wire.PerformanceRow) int64 { return r.Version }),
	col("segment", func(r *wire.PerformanceRow) string { return r.Segment }),
	col("n", func(r *wire.PerformanceRow) int64 { return r.N }),
	col("positives", func(r *wire.PerformanceRow) int64 { return r.Positives }),
	col("label_coverage", func(r *wire.PerformanceRow) float64 { return r.LabelCoverage }),
	col("mean_delay_seconds", func(r *wire.PerformanceRow) float64 { return r.MeanDelaySeconds }),
	col("auc", func(r *wire.PerformanceRow) float64 { return r.AUC }),
	col("logloss", func(r *wire.PerformanceRow) float64 { return r.LogLoss }),
	col("brier", func(r *wire.PerformanceRow) float64 { return r.Brier }),
	col("ece", func(r *wire.PerformanceRow) float64 { return r.ECE }),
	col("precision", func(r *wire.PerformanceRow) float64 { return r.Precision }),
	col("recall", func(r *wire.PerformanceRow) float64 { return r.Recall }),
	col("mae", func(r *wire.PerformanceRow) float64 { return r.MAE }),
	col("rmse", func(r *wire.PerformanceRow) float64 { return r.RMSE }),
	col("updated", func(r *wire.PerformanceRow) time.Time { return dateTime(r.Updated) }),
	col("row_version", func(r *wire.PerformanceRow) uint64 { return rowVersion(r.Updated) }),
}

var driftAlertColumns = []column[wire.DriftAlertRow]{
	col("time", func(r *wire.DriftAlertRow) time.Time { return dateTime(r.Time) }),
	col("time_ms", func(r *wire.DriftAlertRow) uint16 { return millis(r.Time) }),
	col("model", func(r *wire.DriftAlertRow) string { return r.Model }),
	col("kind", func(r *wire.DriftAlertRow) string { return r.Kind }),
	col("reason", func(r *wire.DriftAlertRow) string { return r.Reason }),
	col("value", func(r *wire.DriftAlertRow) float64 { return r.Value }),
	col("threshold", func(r *wire.DriftAlertRow) float64 { return r.Threshold }),
	col("features", func(r *wire.DriftAlertRow) []string {
		if r.Features == nil {
			return []string{}
		}
		return r.Features
	}),
	col("alert_id", func(r *wire.DriftAlertRow) string { return r.AlertID }),
	col("row_version", func(r *wire.DriftAlertRow) uint64 { return rowVersion(r.Time) }),
}

var retrainEventColumns = []column[wire.RetrainEventRow]{
	col("time", func(r *wire.RetrainEventRow) time.Time { return dateTime(r.Time) }),
	col("time_ms", func(r *wire.RetrainEventRow) uint16 { return millis(r.Time) }),
	col("model", func(r *wire.RetrainEventRow) string { return r.Model }),
	col("step", func(r *wire.RetrainEventRow) string { return r.Step }),
	col("reason", func(r *wire.RetrainEventRow) string { return r.Reason }),
	col("champion_version", func(r *wire.RetrainEventRow) int64 { return r.ChampionVersion }),
	col("challenger_version", func(r *wire.RetrainEventRow) int64 { return r.ChallengerVersion }),
	col("champion_metric", func(r *wire.RetrainEventRow) float64 { return r.ChampionMetric }),
	col("challenger_metric", func(r *wire.RetrainEventRow) float64 { return r.ChallengerMetric }),
	col("event_id", func(r *wire.RetrainEventRow) string { return r.EventID }),
	col("row_version", func(r *wire.RetrainEventRow) uint64 { return rowVersion(r.Time) }),
}

var modelVersionColumns = []column[wire.ModelVersionRow]{
	col("time", func(r *wire.ModelVersionRow) time.Time { return dateTime(r.Time) }),
	col("model", func(r *wire.ModelVersionRow) string { return r.Model }),
	col("version", func(r *wire.ModelVersionRow) int64 { return r.Version }),
	col("parent", func(r *wire.ModelVersionRow) int64 { return r.Parent }),
	col("spec", func(r *wire.ModelVersionRow) string { return r.Spec }),
	col("examples_from", func(r *wire.ModelVersionRow) time.Time { return dateTime(r.ExamplesFrom) }),
	col("examples_to", func(r *wire.ModelVersionRow) time.Time { return dateTime(r.ExamplesTo) }),
	col("examples", func(r *wire.ModelVersionRow) int64 { return r.Examples }),
	col("auc", func(r *wire.ModelVersionRow) float64 { return r.AUC }),
	col("logloss", func(r *wire.ModelVersionRow) float64 { return r.LogLoss }),
	col("status", func(r *wire.ModelVersionRow) string { return r.Status }),
	col("kind", func(r *wire.ModelVersionRow) string { return r.Kind }),
	col("tags", func(r *wire.ModelVersionRow) []string { return nonNil(r.Tags) }),
	col("binary", func(r *wire.ModelVersionRow) string { return r.Binary }),
	col("offsets", func(r *wire.ModelVersionRow) string { return r.Offsets }),
	col("updated", func(r *wire.ModelVersionRow) time.Time { return dateTime(r.Updated) }),
	col("row_version", func(r *wire.ModelVersionRow) uint64 { return rowVersion(r.Updated) }),
}

var modelReportColumns = []column[wire.ModelReportRow]{
	col("time", func(r *wire.ModelReportRow) time.Time { return dateTime(r.Time) }),
	col("model", func(r *wire.ModelReportRow) string { return r.Model }),
	col("version", func(r *wire.ModelReportRow) int64 { return r.Version }),
	col("section", func(r *wire.ModelReportRow) string { return r.Section }),
	col("key", func(r *wire.ModelReportRow) string { return r.Key }),
	col("n", func(r *wire.ModelReportRow) int64 { return r.N }),
	col("value", func(r *wire.ModelReportRow) float64 { return r.Value }),
	col("aux", func(r *wire.ModelReportRow) float64 { return r.Aux }),
	col("updated", func(r *wire.ModelReportRow) time.Time { return dateTime(r.Updated) }),
	col("row_version", func(r *wire.ModelReportRow) uint64 { return rowVersion(r.Updated) }),
}
