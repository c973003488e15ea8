package wire

import "time"

// Prediction is one record of the predictions topic, keyed by event id.
type Prediction struct {
	ID      string `json:"id"`
	Entity  string `json:"entity,omitempty"`
	Model   string `json:"model"`
	Version int64  `json:"version"`
	// Delta is the sequence number of the weight delta applied to Version when it scored (see
	// learner.delta_interval); 0 for the version as published.
	Delta    int64     `json:"delta,omitempty"`
	Score    float64   `json:"score"`
	Class    string    `json:"class,omitempty"`
	Route    string    `json:"route"`
	Time     time.Time `json:"time"`
	ScoredAt time.Time `json:"scored_at"`
}

// Routes a prediction can take.
const (
	RouteChampion   = "champion"
	RouteChallenger = "challenger"
	RouteShadow     = "shadow"
)
