package drift

import "time"

// Feature kinds in FeatureDriftRow.Kind.
const (
	KindNumeric     = "numeric"
	KindCategorical = "categorical"
	KindScore       = "score"
)

// Reserved names.
const (
	// ScoreFeature is the feature name of prediction-score drift rows.
	ScoreFeature = "__score__"
	// OtherCategory collects categories outside the reference's top
	// MaxCategories.
	OtherCategory = "__other__"
)

// FeatureDriftRow is one row of the feature_drift table: one feature of one
// model in one window, compared with the feature's reference window. Its
// key is (Model, Feature, WindowStart); Updated is the version for a
// ReplacingMergeTree.
//
// N counts the observations of the model in the window (events for
// features, predictions for the score); MissingRate is the fraction of them
// without a usable value (absent, nil, NaN, ±Inf or of the other kind).
// PSI, JS (Jensen-Shannon distance, natural log), LInf and Chi2 compare the
// binned distributions (numeric features: the window's sample of at most
// SampleSize values in quantile bins of the reference's sample; categorical
// ones: the counts of the top categories plus "__other__"). KS and
// Wasserstein compare the samples of numeric features and are
// NaN for categorical ones; Wasserstein is divided by the reference's
// standard deviation. Statistics are NaN when the window has no usable
// value or the reference is not closed yet (only for windows earlier than
// the reference). The reference window's own rows carry the identity
// values (0, p-value 1) and Drifted false. Drifted needs a large change
// that is significant for the sample sizes (see MonitorConfig.Alpha and
// MinWindowValues); the statistics are written whatever it says.
type FeatureDriftRow struct {
	WindowStart, WindowEnd time.Time
	Model, Feature, Kind   string
	N                      int64
	MissingRate            float64
	PSI                    float64
	KS, KSPValue           float64
	JS                     float64
	Wasserstein            float64
	Chi2, Chi2PValue       float64
	LInf                   float64
	ReferenceStart         time.Time
	Drifted                bool
	Updated                time.Time
}

// PerformanceRow is one row of the model_performance table: examples
// (predictions joined with their outcomes) of one model version, or of all
// versions (Version AllVersions), in one window, over all traffic (Segment
// "") or one segment ("field=value"; all-versions rows only). Its key is
// (Model, Version, Segment, WindowStart).
//
// LabelCoverage is the share of the window's predictions that got an
// observed label: examples over predictions of the version, of all
// versions, or events of the segment (one prediction per event); NaN when
// the Monitor saw none. MeanDelaySeconds is the mean of outcome time −
// event time. Binary models: AUC is NaN while one class is missing;
// LogLoss, Brier, ECE, MAE and RMSE are NaN while N is 0; Precision and
// Recall count a score ≥ MonitorConfig.Threshold as predicting 1 and are
// NaN without predicted (resp. actual) positives. Regression models: N,
// MAE and RMSE, the classification metrics NaN and Positives 0.
type PerformanceRow struct {
	WindowStart, WindowEnd time.Time
	Model                  string
	Version                int64
	Segment                string
	N, Positives           int64
	LabelCoverage          float64
	MeanDelaySeconds       float64
	AUC, LogLoss, Brier    float64
	ECE                    float64
	Precision, Recall      float64
	MAE, RMSE              float64
	Updated                time.Time
}
