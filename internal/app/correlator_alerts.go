package app

import (
	"context"
	"encoding/json"
	"fmt"
	"math"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamlearn/streamlearn/drift"
	"github.com/streamlearn/streamlearn/sinks/clickhouse"
)

// retrainStepTriggered is the retrain_events step the correlator writes; the learner writes the
// later ones (training, shadow, promoted, rejected) under the same event id.
const retrainStepTriggered = "triggered"

// raise turns alerts into drift_alerts and retrain_events rows and queues their retrain commands.
// Every field comes from the alert, so a replay writes the same rows and sends the same commands,
// which the tables and the learner deduplicate by alert id. It fails only when the writer does not
// take the rows (ctx ended while its buffer was full).
func (c *correlator) raise(ctx context.Context, alerts []drift.Alert) error {
	for _, a := range alerts {
		c.log.Info("retrain triggered", "model", a.Model, "kind", a.Kind, "alert_id", a.ID, "reason", a.Reason)
		if err := c.writer.AddDriftAlerts(ctx, clickhouse.DriftAlertRow{
			Time: a.Time, Model: a.Model, Kind: a.Kind, Reason: a.Reason, Value: a.Value, Threshold: a.Threshold,
			Features: a.Features, AlertID: a.ID,
		}); err != nil {
			return err
		}
		metric := math.NaN()
		if a.Kind == drift.AlertPerformance {
			metric = a.Value
		}
		if err := c.writer.AddRetrainEvents(ctx, clickhouse.RetrainEventRow{
			Time: a.Time, Model: a.Model, Step: retrainStepTriggered, Reason: a.Kind + ": " + a.Reason,
			ChampionVersion: a.Version, ChampionMetric: metric, ChallengerMetric: math.NaN(), EventID: a.ID,
		}); err != nil {
			return err
		}
		b, err := json.Marshal(a.Command())
		if err != nil {
			c.log.Error("encode retrain command", "alert_id", a.ID, "err", err)
			continue
		}
		// Keyed by model: a model's commands stay in order on one partition.
		c.control = append(c.control, &kgo.Record{Topic: c.topics.Control, Key: []byte(a.Model), Value: b})
	}
	return nil
}

// sendControl produces the queued retrain commands and waits for Kafka to acknowledge them.
func (c *correlator) sendControl(ctx context.Context) error {
	if len(c.control) == 0 {
		return nil
	}
	res := c.producer.ProduceSync(ctx, c.control...)
	var failed []*kgo.Record
	var first error
	for _, r := range res {
		if r.Err != nil {
			failed = append(failed, r.Record)
			if first == nil {
				first = r.Err
			}
		}
	}
	c.control = failed
	if first != nil {
		return fmt.Errorf("produce to %s: %w", c.topics.Control, first)
	}
	return nil
}
