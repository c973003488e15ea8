package drift_test

import (
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/streamlearn/streamlearn/drift"
	"github.com/streamlearn/streamlearn/internal/synth"
)

// evalScenario is a synthetic stream with a known drift onset (0: none)
// and the alert groups that must detect it within bound.
type evalScenario struct {
	name   string
	hours  int
	onset  float64 // hour of the drift's start
	stream func(seed uint64, yield func(*obs))
	// want: the alert kinds expected after onset, by group: "feature" or
	// "outcome" (performance or concept drift); bound on window end − onset.
	want  []string
	bound time.Duration
}

const evalPerHour = 2000

func specStream(hours int, covariate, concept func(float64) float64) func(uint64, func(*obs)) {
	return func(seed uint64, yield func(*obs)) {
		streamSpec{seed: seed, hours: hours, perHour: evalPerHour, delay: 30 * time.Minute, covariate: covariate, concept: concept}.each(yield)
	}
}

// synthStream is internal/synth's stream (amounts triple and the country
// effects flip at onset), scored by a fixed champion that learned its
// pre-drift concept.
func synthStream(hours int, onset float64) func(uint64, func(*obs)) {
	return func(seed uint64, yield func(*obs)) {
		g := synth.New(synth.Config{Seed: seed, Entities: 1000, Start: t0, Step: time.Hour / evalPerHour,
			DriftAt: int(onset * evalPerHour), OutcomeDelay: 30 * time.Minute})
		effect := map[string]float64{"DE": -1.0, "FR": -0.5, "US": 0.6, "GB": 0.2, "IN": 1.2}
		var pending []obs // outcomes, FIFO: the delay is constant
		for i := 0; i < hours*evalPerHour; i++ {
			ev := g.Next()
			for len(pending) > 0 && !pending[0].at.After(ev.Time) {
				yield(&pending[0])
				pending = pending[1:]
			}
			f := ev.Fields
			mobile := 0.0
			if f["mobile"].(bool) {
				mobile = 1
			}
			logit := -0.8 + 1.6*(math.Log(f["amount"].(float64))-3.5)/0.8 + mobile - 0.04*(f["age"].(float64)-40) +
				effect[f["country"].(string)] - 0.25*(f["visits"].(float64)-3)
			score := sigmoid(logit)
			yield(&obs{stream: drift.StreamEvents, at: ev.Time, ev: drift.Event{Model: "fraud", ID: ev.ID, Time: ev.Time, Fields: f}})
			yield(&obs{stream: drift.StreamPredictions, at: ev.Time, pr: drift.Prediction{Model: "fraud", ID: ev.ID, Version: 1, Time: ev.Time, Score: score}})
			pending = append(pending, obs{stream: drift.StreamOutcomes, at: ev.OutcomeTime, out: drift.Outcome{Model: "fraud", ID: ev.ID, Version: 1,
				Time: ev.Time, OutcomeTime: ev.OutcomeTime, Score: score, Label: float64(ev.Label), Segments: []string{f["country"].(string)}}})
		}
		for i := range pending {
			yield(&pending[i])
		}
	}
}

func evalScenarios() []evalScenario {
	const h, onset = 72, 36
	return []evalScenario{
		{name: "stable, 14 days", hours: 14 * 24, stream: specStream(14*24, never, never)},
		{name: "abrupt covariate (amount +1.5 sd)", hours: h, onset: onset, stream: specStream(h, scale(1.5, step(onset)), never),
			want: []string{"feature"}, bound: 3 * time.Hour},
		{name: "abrupt concept (effects reversed)", hours: h, onset: onset, stream: specStream(h, never, step(onset)),
			want: []string{"outcome"}, bound: 3 * time.Hour},
		{name: "abrupt both (internal/synth)", hours: h, onset: onset, stream: synthStream(h, onset),
			want: []string{"feature", "outcome"}, bound: 3 * time.Hour},
		{name: "gradual covariate (+1.5 sd over 24h)", hours: h, onset: onset, stream: specStream(h, scale(1.5, ramp(onset, 24)), never),
			want: []string{"feature"}, bound: 27 * time.Hour},
		{name: "gradual concept (reversed share 0→1 over 24h)", hours: h, onset: onset, stream: specStream(h, never, ramp(onset, 24)),
			want: []string{"outcome"}, bound: 27 * time.Hour},
	}
}

func alertGroup(kind string) string {
	if kind == drift.AlertFeatureDrift {
		return "feature"
	}
	return "outcome"
}

// TestTriggerPolicyOnSyntheticDrifts runs the default trigger policy over
// streams with long stable stretches and known abrupt and gradual,
// covariate and concept drifts: no alert may come from the stable
// stretches, and each drift must be detected within its bound. Run with
// -v to see detection delays; DRIFT_EVAL_SEEDS sets the seeds per scenario
// (default 1; docs/DRIFT.md reports 10).
func TestTriggerPolicyOnSyntheticDrifts(t *testing.T) {
	if testing.Short() {
		t.Skip("long synthetic streams")
	}
	seeds := 1
	if s, err := strconv.Atoi(os.Getenv("DRIFT_EVAL_SEEDS")); err == nil && s > 0 {
		seeds = s
	}
	cfg := drift.DefaultMonitorConfig()
	cfg.Segments = []string{"country"}
	var report []string
	for _, sc := range evalScenarios() {
		onset := t0.Add(time.Duration(sc.onset * float64(time.Hour)))
		delays := map[string][]float64{}
		falseAlarms, stableHours := 0, 0.0
		for seed := uint64(1); seed <= uint64(seeds); seed++ {
			m := drift.NewMonitor(cfg)
			var alerts []drift.Alert
			i := 0
			sc.stream(seed, func(o *obs) {
				feed(m, o)
				if i++; i%20000 == 0 {
					m.Rows(time.Time{})
					alerts = append(alerts, m.Alerts()...)
				}
			})
			alerts = append(alerts, m.Alerts()...)
			if sc.onset > 0 {
				stableHours += sc.onset
			} else {
				stableHours += float64(sc.hours)
			}
			first := map[string]bool{}
			for _, a := range alerts {
				if sc.onset == 0 || !a.Time.After(onset) {
					falseAlarms++
					t.Errorf("%s seed %d: false alarm %s: %s", sc.name, seed, a.ID, a.Reason)
					continue
				}
				g := alertGroup(a.Kind)
				if first[g] {
					continue
				}
				first[g] = true
				d := a.Time.Sub(onset)
				delays[g] = append(delays[g], d.Hours())
				t.Logf("%s seed %d: %s after %s (window end; +%s lateness until raised): %s", sc.name, seed, a.Kind, d, cfg.AllowedLateness, a.Reason)
				if d > sc.bound {
					t.Errorf("%s seed %d: %s detected %s after onset, want within %s", sc.name, seed, g, d, sc.bound)
				}
			}
			for _, g := range sc.want {
				if !first[g] {
					t.Errorf("%s seed %d: no %s alert", sc.name, seed, g)
				}
			}
		}
		row := fmt.Sprintf("| %s | %d | %.0f | %d |", sc.name, seeds, stableHours, falseAlarms)
		for _, g := range []string{"feature", "outcome"} {
			row += " " + summarize(delays[g], seeds) + " |"
		}
		report = append(report, row)
	}
	t.Logf("\n| scenario | seeds | stable hours | false alarms | feature-drift delay (h): median [min–max], detected | outcome delay (h) |\n|---|---|---|---|---|---|\n%s",
		strings.Join(report, "\n"))
}

func summarize(d []float64, runs int) string {
	if len(d) == 0 {
		return "—"
	}
	slices.Sort(d)
	return fmt.Sprintf("%.0f [%.0f–%.0f], %d/%d", d[len(d)/2], d[0], d[len(d)-1], len(d), runs)
}
