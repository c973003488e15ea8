package predictor

import (
	"time"

	"github.com/streamlearn/streamlearn/ingest"
	"github.com/streamlearn/streamlearn/learner"
)

// Prediction is one record of the predictions topic, keyed by event id.
type Prediction struct {
	ID       string    `json:"id"`
	Entity   string    `json:"entity,omitempty"`
	Model    string    `json:"model"`
	Version  int64     `json:"version"`
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

func newPrediction(ev *ingest.Event, s *Served, p learner.Prediction, route string, at time.Time) Prediction {
	return Prediction{
		ID: ev.ID, Entity: ev.Entity, Model: s.Model, Version: s.Version,
		Score: p.Score, Class: p.Class, Route: route, Time: ev.Time, ScoredAt: at,
	}
}
