package predictor

import (
	"time"

	"github.com/streamlearn/streamlearn/learner"
	"github.com/streamlearn/streamlearn/wire"
)

func newPrediction(ev *wire.Event, s *Served, p learner.Prediction, route string, at time.Time) wire.Prediction {
	return wire.Prediction{
		ID: ev.ID, Entity: ev.Entity, Model: s.Model, Version: s.Version, Delta: s.DeltaSeq,
		Score: p.Score, Class: p.Class, Route: route, Time: ev.Time, ScoredAt: at,
	}
}
