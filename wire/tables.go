package wire

import "time"

// The rows of the ClickHouse tables, written as they are: the tables are part of the contract
// analysts query (docs/queries.sql). The correlator (drift/correlator) fills the prediction,
// outcome, alert and retrain tables, the drift monitor (package drift) the feature drift and
// performance tables, and the registry the model versions.

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
// that is significant for the sample sizes (see drift.MonitorConfig.Alpha
// and MinWindowValues); the statistics are written whatever it says.
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
	// The binned distributions the statistics compare, for a reference-versus-window histogram:
	// Bins names each bin (numeric: "(a, b]" between the reference's quantile edges, "≤ a" and
	// "> b" at the ends; categorical: the reference's top categories, then "__other__"), and
	// ReferenceShares and WindowShares give the share of each side's values in it (each sums to
	// 1). All three are empty when the row carries no comparison (its reference is not closed, or
	// the window has no usable value); the reference window's own row carries its shares twice.
	Bins                          []string
	ReferenceShares, WindowShares []float64
}

// PerformanceRow is one row of the model_performance table: examples
// (predictions joined with their outcomes) of one model version, or of all
// versions (Version drift.AllVersions), in one window, over all traffic (Segment
// "") or one segment ("field=value"; all-versions rows only). Its key is
// (Model, Version, Segment, WindowStart).
//
// LabelCoverage is the share of the window's predictions that got an
// observed label: examples over predictions of the version, of all
// versions, or events of the segment (one prediction per event); NaN when
// the Monitor saw none. MeanDelaySeconds is the mean of outcome time −
// event time. Binary models: AUC is NaN while one class is missing;
// LogLoss, Brier, ECE, MAE and RMSE are NaN while N is 0; Precision and
// Recall count a score ≥ drift.MonitorConfig.Threshold as predicting 1 and are
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

// PredictionRow is one scored event. Key: (Model, ID); the latest ScoredAt wins.
type PredictionRow struct {
	ID, Entity, Model string
	Version           int64
	Score             float64
	Route             string // champion, challenger or shadow
	Time              time.Time
	ScoredAt          time.Time
}

// OutcomeRow is one observed outcome, joined to its prediction when Joined. Key: ID; the latest
// ReceivedAt wins.
type OutcomeRow struct {
	ID           string
	Label        float64
	Class        string
	Time         time.Time
	ReceivedAt   time.Time
	Model        string
	Version      int64
	Score        float64
	Joined       bool
	DelaySeconds float64
}

// DriftAlertRow is one drift alert. Key: AlertID; the latest Time wins.
type DriftAlertRow struct {
	Time             time.Time
	Model            string
	Kind             string
	Reason           string
	Value, Threshold float64
	Features         []string
	AlertID          string
}

// RetrainEventRow is one step of a retrain: triggered, training, shadow, promoted or rejected.
// Key: (Model, EventID, Step); the latest Time wins.
type RetrainEventRow struct {
	Time                               time.Time
	Model, Step, Reason                string
	ChampionVersion, ChallengerVersion int64
	ChampionMetric, ChallengerMetric   float64
	EventID                            string
}

// ModelVersionRow describes one model version. Key: (Model, Version); the latest Updated wins, so a
// status change is a new row with a later Updated (Add stamps a zero Updated with Time).
type ModelVersionRow struct {
	Time                     time.Time // when the version was created
	Model                    string
	Version, Parent          int64
	Spec                     string // JSON
	ExamplesFrom, ExamplesTo time.Time
	Examples                 int64
	AUC, LogLoss             float64
	Status                   string
	// Kind is why the snapshot is retained (scheduled, manual, promotion, retrain, import); Tags
	// name it; Binary is the binary that trained it; Offsets the examples-topic offsets (JSON).
	Kind    string
	Tags    []string
	Binary  string
	Offsets string
	Updated time.Time
}

// ModelReportRow is one figure of a snapshot's evaluation report. Key: (Model, Version, Section,
// Key). Sections: "progressive" and "held_out" (Key auc, logloss, brier; N examples), "calibration"
// (Key the bin's range, N examples, Value mean score, Aux mean label), "segment_auc" and
// "segment_logloss" (Key the segment), "weights" (Key the feature, Value its weight).
type ModelReportRow struct {
	Time         time.Time // the snapshot's
	Model        string
	Version      int64
	Section, Key string
	N            int64
	Value, Aux   float64
	Updated      time.Time
}
