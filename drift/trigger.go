package drift

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// FeatureWindow summarizes one closed window of a model's event features
// for the Policy.
type FeatureWindow struct {
	Model      string
	Start, End time.Time
	// Events is the number of events of the model in the window.
	Events int64
	// Compared counts the features tested against a closed reference: the
	// window and the reference held MinWindowValues values (none in a
	// reference window); Drifted lists those that drifted, sorted.
	Compared int
	Drifted  []string
}

// PerformanceWindow summarizes one closed window of a model's joined
// examples, all versions together, for the Policy.
type PerformanceWindow struct {
	Model        string
	Start, End   time.Time
	N, Positives int64
	AUC          float64 // NaN when a class is missing, and for regression
	RMSE         float64
	// ErrorRate is the mean error the concept-drift detectors were fed.
	ErrorRate float64
	// Version is the latest version of the model that scored in the window.
	Version int64
	// ADWIN and PageHinkley report whether the detector saw the error rise
	// while it was fed the window.
	ADWIN, PageHinkley bool
}

// Policy decides when a model should be retrained, from the summaries of
// its closed windows, fed in window order per model and kind (Monitor does
// this). It is pure: the same summaries in the same order give the same
// alerts. Feature drift forms one group; performance and concept drift,
// judged on the same windows, another. Each group has its own consecutive
// counts and cooldown, so that the two kinds of windows, which close at
// different times (labels come later than events), never race. It is not
// safe for concurrent use.
type Policy struct {
	cfg        TriggerConfig
	regression bool
	models     map[string]*policyState
}

// policyState is a model's state; its fields are exported for Snapshot.
type policyState struct {
	Features, Performance, Concept streak
	// Windows starting before these raise no alert of their group.
	FeatureCooldown, OutcomeCooldown int64
	// Baseline holds the latest windows that did not breach, oldest first.
	Baseline []baselineWindow
}

type baselineWindow struct {
	N              int64
	AUC, RMSE, Err float64
}

// streak counts consecutive breaching windows.
type streak struct {
	N           int
	First, Last int64 // start of the streak's first window; of the last window seen
}

// observe records a window: counts false means it had too few samples to
// count either way (it neither breaks nor extends the streak). A gap
// between windows breaks the streak.
func (s *streak) observe(start, length int64, breached, counts bool) {
	if s.N > 0 && s.Last+length != start {
		s.N = 0
	}
	s.Last = start
	switch {
	case !counts:
	case !breached:
		s.N = 0
	default:
		if s.N == 0 {
			s.First = start
		}
		s.N++
	}
}

// NewPolicy returns a policy; zero fields of cfg take their defaults.
// regression says the models are regression models (judged by RMSE).
func NewPolicy(cfg TriggerConfig, regression bool) *Policy {
	return &Policy{cfg: cfg.withDefaults(), regression: regression, models: make(map[string]*policyState)}
}

func (p *Policy) state(model string) *policyState {
	st := p.models[model]
	if st == nil {
		st = &policyState{}
		p.models[model] = st
	}
	return st
}

// FeatureWindow judges a closed feature window and returns the alert it
// raises, if any.
func (p *Policy) FeatureWindow(w FeatureWindow) (Alert, bool) {
	c := p.cfg.FeatureDrift
	if p.cfg.Disabled || c.Disabled {
		return Alert{}, false
	}
	st := p.state(w.Model)
	start, length := w.Start.UnixNano(), w.End.Sub(w.Start).Nanoseconds()
	var share float64
	if w.Compared > 0 {
		share = float64(len(w.Drifted)) / float64(w.Compared)
	}
	breached := len(w.Drifted) > 0 && share >= c.MinShare
	st.Features.observe(start, length, breached, w.Events >= c.MinEvents && w.Compared > 0)
	if st.Features.N < c.Consecutive || start < st.FeatureCooldown {
		return Alert{}, false
	}
	a := Alert{
		ID: alertID(w.Model, AlertFeatureDrift, w.Start), Model: w.Model, Kind: AlertFeatureDrift,
		Reason: fmt.Sprintf("%d of %d features drifted (%.0f%% ≥ %.0f%%) in %s: %s",
			len(w.Drifted), w.Compared, 100*share, 100*c.MinShare, windowsInARow(st.Features.N), strings.Join(w.Drifted, ", ")),
		Time: w.End.UTC(), From: time.Unix(0, st.Features.First).UTC(), To: w.End.UTC(),
		Value: share, Threshold: c.MinShare, Features: slices.Clone(w.Drifted),
	}
	st.Features.N = 0
	st.FeatureCooldown = w.End.UnixNano() + int64(p.cfg.Cooldown)
	return a, true
}

// PerformanceWindow judges a closed performance window (performance and
// concept drift) and returns the alert it raises, if any.
func (p *Policy) PerformanceWindow(w PerformanceWindow) (Alert, bool) {
	if p.cfg.Disabled {
		return Alert{}, false
	}
	pc, kc := p.cfg.Performance, p.cfg.Concept
	st := p.state(w.Model)
	start, length := w.Start.UnixNano(), w.End.Sub(w.Start).Nanoseconds()

	var j judgement
	usable := !pc.Disabled && w.N >= pc.MinExamples && !math.IsNaN(p.metric(w))
	judged := usable && 2*len(st.Baseline) >= pc.BaselineWindows
	if judged {
		j = p.judge(st.Baseline, w)
	}
	if usable && !j.breached {
		st.Baseline = append(st.Baseline, baselineWindow{N: w.N, AUC: w.AUC, RMSE: w.RMSE, Err: w.ErrorRate})
		if len(st.Baseline) > pc.BaselineWindows {
			st.Baseline = slices.Delete(st.Baseline, 0, len(st.Baseline)-pc.BaselineWindows)
		}
	}
	st.Performance.observe(start, length, j.breached, judged)
	st.Concept.observe(start, length, p.detected(w), !kc.Disabled && w.N >= kc.MinExamples)

	perf := !pc.Disabled && st.Performance.N >= pc.Consecutive
	concept := !kc.Disabled && st.Concept.N >= kc.Consecutive
	if !(perf || concept) || start < st.OutcomeCooldown {
		return Alert{}, false
	}
	a := Alert{Model: w.Model, Time: w.End.UTC(), To: w.End.UTC(), Version: w.Version}
	if perf {
		a.Kind, a.Value, a.Threshold = AlertPerformance, j.value, j.threshold
		a.Reason = j.reason + " in " + windowsInARow(st.Performance.N)
		a.From = time.Unix(0, st.Performance.First).UTC()
		if concept {
			a.Reason += "; " + p.conceptReason(st, w)
		}
	} else {
		a.Kind, a.Value, a.Threshold = AlertConceptDrift, w.ErrorRate, baselineError(st.Baseline)
		a.Reason = p.conceptReason(st, w)
		a.From = time.Unix(0, st.Concept.First).UTC()
	}
	a.ID = alertID(w.Model, a.Kind, w.Start)
	st.Performance.N, st.Concept.N = 0, 0
	st.Baseline = nil // the retrained model sets a new baseline
	st.OutcomeCooldown = w.End.UnixNano() + int64(p.cfg.Cooldown)
	return a, true
}

type judgement struct {
	breached         bool
	value, threshold float64
	reason           string
}

func (p *Policy) metric(w PerformanceWindow) float64 {
	if p.regression {
		return w.RMSE
	}
	return w.AUC
}

func (p *Policy) judge(base []baselineWindow, w PerformanceWindow) judgement {
	pc := p.cfg.Performance
	var n, sum float64
	for _, b := range base {
		n += float64(b.N)
		if p.regression {
			sum += float64(b.N) * b.RMSE * b.RMSE
		} else {
			sum += float64(b.N) * b.AUC
		}
	}
	if p.regression {
		ref := math.Sqrt(sum / n)
		limit := ref * (1 + pc.MaxRMSEIncrease)
		return judgement{
			breached: w.RMSE > limit, value: w.RMSE, threshold: limit,
			reason: fmt.Sprintf("RMSE %.4g above baseline %.4g by more than %.0f%%", w.RMSE, ref, 100*pc.MaxRMSEIncrease),
		}
	}
	ref := sum / n
	se := aucStandardError(w.AUC, w.Positives, w.N-w.Positives)
	margin := math.Max(pc.MaxAUCDrop, pc.Z*se)
	return judgement{
		breached: ref-w.AUC > margin, value: w.AUC, threshold: ref - margin,
		reason: fmt.Sprintf("AUC %.3f below baseline %.3f by more than %.3f (max of %.3f and %.1f standard errors)",
			w.AUC, ref, margin, pc.MaxAUCDrop, pc.Z),
	}
}

func (p *Policy) detected(w PerformanceWindow) bool {
	switch p.cfg.Concept.Detector {
	case DetectorADWIN:
		return w.ADWIN
	case DetectorPageHinkley:
		return w.PageHinkley
	case DetectorEither:
		return w.ADWIN || w.PageHinkley
	}
	return w.ADWIN && w.PageHinkley
}

func (p *Policy) conceptReason(st *policyState, w PerformanceWindow) string {
	var by []string
	if w.ADWIN {
		by = append(by, "ADWIN")
	}
	if w.PageHinkley {
		by = append(by, "Page-Hinkley")
	}
	return fmt.Sprintf("error rate rose (%s) in %s: %.3f, baseline %.3f",
		strings.Join(by, " and "), windowsInARow(st.Concept.N), w.ErrorRate, baselineError(st.Baseline))
}

func baselineError(base []baselineWindow) float64 {
	var n, sum float64
	for _, b := range base {
		n += float64(b.N)
		sum += float64(b.N) * b.Err
	}
	if n == 0 {
		return math.NaN()
	}
	return sum / n
}

// aucStandardError is the standard error of an AUC from npos positives and
// nneg negatives (Hanley and McNeil 1982).
func aucStandardError(auc float64, npos, nneg int64) float64 {
	if npos <= 0 || nneg <= 0 || math.IsNaN(auc) {
		return math.NaN()
	}
	q1 := auc / (2 - auc)
	q2 := 2 * auc * auc / (1 + auc)
	p, n := float64(npos), float64(nneg)
	v := (auc*(1-auc) + (p-1)*(q1-auc*auc) + (n-1)*(q2-auc*auc)) / (p * n)
	return math.Sqrt(math.Max(v, 0))
}

func windowsInARow(n int) string {
	if n == 1 {
		return "1 window"
	}
	return fmt.Sprintf("%d windows in a row", n)
}
