package app

import (
	"math"
	"testing"
	"time"

	"github.com/streamlearn/streamlearn/internal/alerting"
	"github.com/streamlearn/streamlearn/learner/runner"
)

// TestRetrainAlert: a retrain is one alert (labelled by its drift alert's id) that fires through
// its steps and is resolved by the decision, which alone carries the metrics compared.
func TestRetrainAlert(t *testing.T) {
	at := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		ev         runner.RetrainEvent
		status     string
		ended      bool
		annotation map[string]string
	}{
		{runner.RetrainEvent{Time: at, Model: "m", Step: runner.StepTraining, AlertID: "m:feature_drift:x", ChampionVersion: 4, Reason: "replaying"},
			alerting.StatusFiring, false, map[string]string{"step": "training", "champion_version": "4", "description": "replaying"}},
		{runner.RetrainEvent{Time: at, Model: "m", Step: runner.StepShadow, AlertID: "m:feature_drift:x", ChampionVersion: 4, ChallengerVersion: 5},
			alerting.StatusFiring, false, map[string]string{"step": "shadow", "challenger_version": "5"}},
		{runner.RetrainEvent{Time: at, Model: "m", Step: runner.StepPromoted, AlertID: "m:feature_drift:x", ChampionVersion: 4, ChallengerVersion: 5, ChampionMetric: -0.5, ChallengerMetric: -0.25},
			alerting.StatusResolved, true, map[string]string{"step": "promoted", "champion_metric": "-0.5", "challenger_metric": "-0.25"}},
		{runner.RetrainEvent{Time: at, Model: "m", Step: runner.StepRejected, AlertID: "m:feature_drift:x", ChampionMetric: math.NaN(), ChallengerMetric: math.Inf(-1)},
			alerting.StatusResolved, true, map[string]string{"step": "rejected"}},
	}
	var fingerprint string
	for _, tt := range tests {
		a := retrainAlert(tt.ev)
		if a.Status != tt.status || a.EndsAt.IsZero() == tt.ended || !a.StartsAt.Equal(at) {
			t.Errorf("%s: status %s, ends %v; want %s, ended %v", tt.ev.Step, a.Status, a.EndsAt, tt.status, tt.ended)
		}
		for k, v := range tt.annotation {
			if a.Annotations[k] != v {
				t.Errorf("%s: annotation %s = %q, want %q", tt.ev.Step, k, a.Annotations[k], v)
			}
		}
		if _, ok := a.Annotations["champion_metric"]; ok != (tt.ev.Step == runner.StepPromoted) {
			t.Errorf("%s: champion_metric %q (only a decision with a finite metric has one)", tt.ev.Step, a.Annotations["champion_metric"])
		}
		fp := alerting.Fingerprint(a.Labels)
		if fingerprint != "" && fp != fingerprint {
			t.Errorf("%s: labels %v: another alert than the previous steps'", tt.ev.Step, a.Labels)
		}
		fingerprint = fp
	}
}
