package correlator

import (
	"context"
	"math"

	"github.com/streamlearn/streamlearn/drift"
	"github.com/streamlearn/streamlearn/wire"
)

// retrainStepTriggered is the retrain_events step the correlator writes; the learner writes the
// later ones (training, shadow, promoted, rejected) under the same event id.
const retrainStepTriggered = "triggered"

// command is a retrain command for the control topic, encoded, with the model it is keyed by.
type command struct {
	model string
	value []byte
}

// raise turns alerts into drift_alerts and retrain_events rows and queues their retrain commands.
// Every field comes from the alert, so a replay writes the same rows and sends the same commands,
// which the tables and the learner deduplicate by alert id. It fails only when the writer does not
// take the rows (ctx ended while its buffer was full).
func (c *Correlator) raise(ctx context.Context, alerts []drift.Alert) error {
	for _, a := range alerts {
		c.log.Info("retrain triggered", "model", a.Model, "kind", a.Kind, "alert_id", a.ID, "reason", a.Reason)
		if err := c.writer.AddDriftAlerts(ctx, wire.DriftAlertRow{
			Time: a.Time, Model: a.Model, Kind: a.Kind, Reason: a.Reason, Value: a.Value, Threshold: a.Threshold,
			Features: a.Features, AlertID: a.ID,
		}); err != nil {
			return err
		}
		metric := math.NaN()
		if a.Kind == drift.AlertPerformance {
			metric = a.Value
		}
		if err := c.writer.AddRetrainEvents(ctx, wire.RetrainEventRow{
			Time: a.Time, Model: a.Model, Step: retrainStepTriggered, Reason: a.Kind + ": " + a.Reason,
			ChampionVersion: a.Version, ChampionMetric: metric, ChallengerMetric: math.NaN(), EventID: a.ID,
		}); err != nil {
			return err
		}
		if c.onAlert != nil {
			c.onAlert(a)
		}
		b, err := wire.Marshal(a.Command())
		if err != nil {
			c.log.Error("encode retrain command", "alert_id", a.ID, "err", err)
			continue
		}
		c.control = append(c.control, command{model: a.Model, value: b})
	}
	return nil
}
