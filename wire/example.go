package wire

import "time"

// Pending is a scored event waiting for its outcome: everything needed to learn from it later,
// including the exact features it was scored with (so learning never sees later state).
type Pending struct {
	ID       string    `json:"id"`
	Entity   string    `json:"entity,omitempty"`
	Time     time.Time `json:"time"`
	Features Vector    `json:"features"`
	Model    string    `json:"model"`
	Version  int64     `json:"version"`
	Score    float64   `json:"score"`
	ScoredAt time.Time `json:"scored_at"`
}

// Example is a scored event joined with its outcome: one record of the examples topic, the
// replayable training log.
type Example struct {
	Pending
	Label       float64   `json:"label"`
	Class       string    `json:"class,omitempty"`
	OutcomeTime time.Time `json:"outcome_time"`
	// Implicit is true when the label was not observed but assumed after the join horizon.
	Implicit bool `json:"implicit,omitempty"`
}
