package wire

import "time"

// Announcement is a record of the models topic: a model changed (published, promoted, rolled back),
// or its live version's weights moved (delta: Version is the delta's base; the delta itself is in
// the registry, learner.Delta).
type Announcement struct {
	Model   string    `json:"model"`
	Version int64     `json:"version"`
	Event   string    `json:"event"`
	Time    time.Time `json:"time"`
}

// The events of an Announcement.
const (
	EventPublished = "published"
	EventPromoted  = "promoted"
	EventRollback  = "rollback"
	EventDelta     = "delta"
)

// RetrainCommand is the JSON a retrain alert sends on the control topic:
//
//	{"command": "retrain", "model": "default", "kind": "feature_drift", "reason": "...",
//	 "alert_id": "default:feature_drift:20261122T100000Z",
//	 "from": "2026-11-22T09:00:00Z", "to": "2026-11-22T11:00:00Z", "time": "2026-11-22T11:00:00Z"}
//
// It may be delivered more than once; AlertID tells repeats apart.
type RetrainCommand struct {
	Command string    `json:"command"` // always "retrain"
	Model   string    `json:"model"`
	Kind    string    `json:"kind"`
	Reason  string    `json:"reason"`
	AlertID string    `json:"alert_id"`
	From    time.Time `json:"from"` // the examples to learn from: event times in [From, To)
	To      time.Time `json:"to"`
	Time    time.Time `json:"time"` // when the alert was raised (event time)
	// ChampionVersion is Alert.Version, when known.
	ChampionVersion int64 `json:"champion_version,omitempty"`
}

// CommandRetrain is RetrainCommand.Command.
const CommandRetrain = "retrain"
