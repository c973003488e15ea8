package learner

import "time"

// RetrainPolicy says how a retrain command is carried out.
type RetrainPolicy struct {
	// MinOutcomes is how many new examples the challenger and the champion are both scored on
	// (before learning each) before the challenger may take over (default 2000).
	MinOutcomes int `yaml:"min_outcomes"`
	// Margin is how much better the challenger must be: in logloss for binary models, in mean
	// squared error for the others (default 0.005).
	Margin float64 `yaml:"margin"`
	// MaxShadow bounds the shadow phase; a challenger that has not seen MinOutcomes by then is
	// rejected (default 1h).
	MaxShadow time.Duration `yaml:"max_shadow"`
}

// DefaultRetrainPolicy returns the defaults.
func DefaultRetrainPolicy() RetrainPolicy {
	return RetrainPolicy{MinOutcomes: 2000, Margin: 0.005, MaxShadow: time.Hour}
}
