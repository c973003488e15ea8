package drift

import (
	"fmt"
	"time"

	"github.com/streamlearn/streamlearn/wire"
)

// Alert kinds in Alert.Kind.
const (
	AlertFeatureDrift = "feature_drift"
	AlertPerformance  = "performance"
	AlertConceptDrift = "concept_drift"
)

// Alert is a decision of the trigger policy to retrain a model: a row of
// the drift_alerts table and a retrain command. Every field is a function
// of the windows that raised it, so replaying the same history raises the
// same alerts with the same ids.
type Alert struct {
	// ID is "<model>:<kind>:<window start>", the start of the window that
	// raised it (UTC, 20060102T150405Z).
	ID    string
	Model string
	Kind  string // AlertFeatureDrift, AlertPerformance or AlertConceptDrift
	// Reason says what breached, for people.
	Reason string
	// Time is the end of the window that raised the alert (event time).
	Time time.Time
	// From and To span the windows that breached in a row: the examples a
	// retrain should learn from.
	From, To time.Time
	// Value and Threshold are the breaching measurement of the last window
	// and its bound: the share of drifted features, the AUC (RMSE for
	// regression), or the error rate for concept drift (Threshold: the
	// baseline's error rate, NaN when unknown).
	Value, Threshold float64
	// Features are the drifted features of the last window (feature drift).
	Features []string
	// Version is the latest version of the model that scored in the last
	// window (performance and concept drift; 0 for feature drift).
	Version int64
}

func alertID(model, kind string, windowStart time.Time) string {
	return fmt.Sprintf("%s:%s:%s", model, kind, windowStart.UTC().Format("20060102T150405Z"))
}

// Command returns the retrain command of the alert.
func (a Alert) Command() wire.RetrainCommand {
	return wire.RetrainCommand{
		Command: wire.CommandRetrain, Model: a.Model, Kind: a.Kind, Reason: a.Reason, AlertID: a.ID,
		From: a.From.UTC(), To: a.To.UTC(), Time: a.Time.UTC(), ChampionVersion: a.Version,
	}
}
