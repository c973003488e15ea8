package app

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/streamlearn/streamlearn/drift"
	"github.com/streamlearn/streamlearn/internal/alerting"
	"github.com/streamlearn/streamlearn/internal/secrets"
	"github.com/streamlearn/streamlearn/internal/telemetry"
	"github.com/streamlearn/streamlearn/learner/runner"
	"github.com/streamlearn/streamlearn/predictor"
)

// The alert names of the webhook's alerts (labels alertname).
const (
	// AlertDrift is a drift alert the correlator raised (one per drift_alerts row).
	AlertDrift = "StreamlearnDriftAlert"
	// AlertRetrain is one retrain, from its trigger to its decision: firing at the steps
	// triggered, training and shadow, resolved at promoted or rejected.
	AlertRetrain = "StreamlearnRetrain"
)

// retrainStepTriggered is the first step of a retrain, raised with its drift alert.
const retrainStepTriggered = "triggered"

// openWebhook starts the alert webhook when alerts.webhook_url is set, with its token file read.
func (m *Main) openWebhook() error {
	c := m.Config.Alerts
	if c.WebhookURL == "" {
		return nil
	}
	var token string
	if c.WebhookTokenFile != "" {
		var err error
		if token, err = secrets.ReadFile(c.WebhookTokenFile); err != nil {
			return fmt.Errorf("alerts.webhook_token_file: %w", err)
		}
	}
	w, err := alerting.New(alerting.Config{
		URL: c.WebhookURL, Token: token, Timeout: c.WebhookTimeout, MaxAttempts: c.WebhookMaxAttempts, QueueSize: c.WebhookQueue,
	}, m.Logger, m.Registry)
	if err != nil {
		return err
	}
	m.webhook = w
	return nil
}

// notifyDrift sends a drift alert, and the triggered step of the retrain it commands, to the
// webhook (if any). A correlator that replays after a restart raises an alert again: the same
// labels, so the same fingerprint, which receivers deduplicate.
func (m *Main) notifyDrift(a drift.Alert) {
	if m.webhook == nil {
		return
	}
	ann := map[string]string{
		"summary":     fmt.Sprintf("model %s: drift alert (%s)", a.Model, a.Kind),
		"description": a.Reason + "; a retrain command was sent (retrain_events in ClickHouse follows it).",
		"value":       formatFloat(a.Value),
		"threshold":   formatFloat(a.Threshold),
		"window_from": a.From.UTC().Format(time.RFC3339),
		"window_to":   a.To.UTC().Format(time.RFC3339),
	}
	if len(a.Features) > 0 {
		ann["features"] = strings.Join(a.Features, ",")
	}
	if a.Version > 0 {
		ann["champion_version"] = strconv.FormatInt(a.Version, 10)
	}
	m.webhook.Notify(alerting.Alert{
		Status:      alerting.StatusFiring,
		Labels:      map[string]string{"alertname": AlertDrift, "severity": "warning", "model": a.Model, "kind": a.Kind, "alert_id": a.ID},
		Annotations: ann, StartsAt: a.Time.UTC(),
	})
	m.webhook.Notify(retrainAlert(runner.RetrainEvent{
		Time: a.Time.UTC(), Model: a.Model, Step: retrainStepTriggered, Reason: a.Kind + ": " + a.Reason, AlertID: a.ID,
		ChampionVersion: a.Version, ChampionMetric: math.NaN(), ChallengerMetric: math.NaN(),
	}))
}

// notifyRetrain sends a step of a retrain to the webhook (if any).
func (m *Main) notifyRetrain(ev runner.RetrainEvent) {
	if m.webhook != nil {
		m.webhook.Notify(retrainAlert(ev))
	}
}

// retrainAlert is the webhook alert of a retrain's step: one alert per retrain (labelled by the
// drift alert's id), firing until the decision resolves it.
func retrainAlert(ev runner.RetrainEvent) alerting.Alert {
	a := alerting.Alert{
		Status: alerting.StatusFiring,
		Labels: map[string]string{"alertname": AlertRetrain, "severity": "info", "model": ev.Model, "alert_id": ev.AlertID},
		Annotations: map[string]string{
			"summary":     fmt.Sprintf("model %s: retrain %s", ev.Model, ev.Step),
			"description": ev.Reason,
			"step":        ev.Step,
		},
		StartsAt: ev.Time.UTC(),
	}
	decided := ev.Step == runner.StepPromoted || ev.Step == runner.StepRejected
	if decided {
		a.Status, a.EndsAt = alerting.StatusResolved, ev.Time.UTC()
	}
	if ev.ChampionVersion > 0 {
		a.Annotations["champion_version"] = strconv.FormatInt(ev.ChampionVersion, 10)
	}
	if ev.ChallengerVersion > 0 {
		a.Annotations["challenger_version"] = strconv.FormatInt(ev.ChallengerVersion, 10)
	}
	// The metrics compared (higher is better) are known at the decision only.
	if decided && !math.IsNaN(ev.ChampionMetric) && !math.IsInf(ev.ChampionMetric, 0) {
		a.Annotations["champion_metric"] = formatFloat(ev.ChampionMetric)
	}
	if decided && !math.IsNaN(ev.ChallengerMetric) && !math.IsInf(ev.ChallengerMetric, 0) {
		a.Annotations["challenger_metric"] = formatFloat(ev.ChallengerMetric)
	}
	return a
}

func formatFloat(x float64) string { return strconv.FormatFloat(x, 'g', 6, 64) }

// servedModels is what the freshness metrics read: the versions this process serves.
func (m *Main) servedModels() []telemetry.ServedModel {
	if m.models == nil {
		return nil
	}
	all := m.models.All()
	out := make([]telemetry.ServedModel, len(all))
	for i, s := range all {
		out[i] = servedModel(s)
	}
	return out
}

func servedModel(s *predictor.Served) telemetry.ServedModel {
	return telemetry.ServedModel{Model: s.Model, Version: s.Version, CreatedAt: s.CreatedAt, LoadedAt: s.LoadedAt, DataTo: s.DataTo}
}
