package learner

import "time"

// Report is a snapshot's evaluation report.
type Report struct {
	// Progressive: every example scored before it was learned, over the learner's metrics window.
	Progressive Metrics `json:"progressive"`
	// HeldOut: the snapshot scored on the next examples after it, which it never learned.
	HeldOut *HeldOut `json:"held_out,omitempty"`
	// Calibration: held-out examples in ten score bins.
	Calibration []CalibrationBin `json:"calibration,omitempty"`
	// TopWeights: the features with the largest weights.
	TopWeights []FeatureWeight `json:"top_weights,omitempty"`
	// Segments: the held-out metrics per segment (the drift.segments fields' values).
	Segments []SegmentMetrics `json:"segments,omitempty"`
	// Gate: for a retrain snapshot, the promotion decision it came from.
	Gate *Gate `json:"gate,omitempty"`
}

// Gate is a promotion decision: the challenger and the champion scored on the same held-out
// outcomes (neither had learned them), the challenger promoted only when its metric (higher is
// better: minus the logloss, or minus the mean squared error) beats the champion's by Margin.
type Gate struct {
	Champion         int64   `json:"champion"`
	Challenger       int64   `json:"challenger"`
	N                int64   `json:"n"`
	ChampionMetric   float64 `json:"champion_metric"`
	ChallengerMetric float64 `json:"challenger_metric"`
	Margin           float64 `json:"margin"`
	Promoted         bool    `json:"promoted"`
}

// HeldOut are the metrics of a snapshot on the N examples that came after it.
type HeldOut struct {
	N       int64     `json:"n"`
	AUC     float64   `json:"auc"`
	LogLoss float64   `json:"logloss"`
	Brier   float64   `json:"brier"`
	From    time.Time `json:"from"`
	To      time.Time `json:"to"`
}

// CalibrationBin is one score bin of a calibration table: how many examples, their mean score and
// their mean label.
type CalibrationBin struct {
	Lo        float64 `json:"lo"`
	Hi        float64 `json:"hi"`
	N         int64   `json:"n"`
	MeanScore float64 `json:"mean_score"`
	MeanLabel float64 `json:"mean_label"`
}

// SegmentMetrics are held-out metrics over the examples of one segment ("country=DE").
type SegmentMetrics struct {
	Segment string  `json:"segment"`
	N       int64   `json:"n"`
	AUC     float64 `json:"auc"`
	LogLoss float64 `json:"logloss"`
}

// FeatureWeight is one feature's weight in a model.
type FeatureWeight struct {
	Feature string  `json:"feature"`
	Weight  float64 `json:"weight"`
}
