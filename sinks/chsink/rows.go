package chsink

import "time"

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

// FeatureDriftRow holds one feature's drift statistics over one window. Key: (Model, Feature,
// WindowStart); the latest Updated wins (Add stamps a zero Updated with the current time).
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

// PerformanceRow holds one model version's quality over one window. Key: (Model, Version, Segment,
// WindowStart); the latest Updated wins (Add stamps a zero Updated with the current time).
type PerformanceRow struct {
	WindowStart, WindowEnd time.Time
	Model                  string
	Version                int64
	Segment                string // "" means all traffic
	N, Positives           int64
	LabelCoverage          float64
	MeanDelaySeconds       float64
	AUC, LogLoss, Brier    float64
	ECE                    float64
	Precision, Recall      float64
	MAE, RMSE              float64
	Updated                time.Time
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
	Updated                  time.Time
}
