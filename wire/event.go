package wire

import "time"

// Event is one thing that happened to an entity, as published on the events topic.
type Event struct {
	// ID identifies the event; predictions, outcomes and examples refer to it.
	ID string `json:"id"`
	// Entity is the key per-entity features are kept under; empty when the event has none.
	Entity string `json:"entity,omitempty"`
	// Time is the event time (RFC 3339 or unix milliseconds on the wire; now when absent).
	Time time.Time `json:"time"`
	// Fields holds the event's inputs: float64, string or bool values.
	Fields map[string]any `json:"fields"`
}

// Outcome is the label of an event that was scored earlier, published on the outcomes topic.
type Outcome struct {
	ID string `json:"id"`
	// Value is the label of binary (0/1) and regression models; booleans decode to 0/1.
	Value float64 `json:"label"`
	// Class is the label of multiclass models (a string label on the wire).
	Class string    `json:"class,omitempty"`
	Time  time.Time `json:"time"`
}
