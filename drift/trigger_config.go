package drift

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// TriggerConfig configures the retrain trigger policy (Policy). The zero
// value of every field means its default; DefaultTriggerConfig spells them
// out. The YAML keys are those of the drift.trigger section of the
// streamlearn configuration.
type TriggerConfig struct {
	// Disabled turns the policy off: no alerts at all.
	Disabled bool `yaml:"disabled"`
	// Cooldown: after an alert, its group (feature drift; or performance and
	// concept drift, which share one) raises no alert for windows starting
	// before the alert's time plus Cooldown, in event time. Breaches still
	// count meanwhile, so a drift that persists alerts again right after.
	// Default 6h.
	Cooldown     time.Duration       `yaml:"cooldown"`
	FeatureDrift FeatureDriftTrigger `yaml:"feature_drift"`
	Performance  PerformanceTrigger  `yaml:"performance"`
	Concept      ConceptDriftTrigger `yaml:"concept"`
}

// FeatureDriftTrigger raises an alert when, in Consecutive windows in a row,
// at least MinShare of the model's features tested against their reference
// drifted (wire.FeatureDriftRow.Drifted). Windows in which no feature had enough
// values to be tested (MonitorConfig.MinWindowValues) count neither way.
type FeatureDriftTrigger struct {
	Disabled bool `yaml:"disabled"`
	// MinShare of the compared features must have drifted (≥). Default 0.2.
	MinShare float64 `yaml:"min_share"`
	// MinEvents: windows with fewer events count neither way. Default 1000.
	MinEvents int64 `yaml:"min_events"`
	// Consecutive windows must breach. Default 2.
	Consecutive int `yaml:"consecutive"`
}

// PerformanceTrigger raises an alert when, in Consecutive windows in a row,
// the model's performance over all its versions fell below its baseline:
// the mean over the latest BaselineWindows windows that did not breach.
// Binary models: the window's AUC is below the baseline AUC by more than
// MaxAUCDrop and by more than Z standard errors of the window's AUC
// (Hanley and McNeil 1982). Regression: the window's RMSE exceeds the
// baseline's by more than MaxRMSEIncrease (relative). After an alert the
// baseline starts again from the windows that follow.
type PerformanceTrigger struct {
	Disabled bool `yaml:"disabled"`
	// MaxAUCDrop is the AUC margin. Default 0.05.
	MaxAUCDrop float64 `yaml:"max_auc_drop"`
	// Z is the number of standard errors a drop must also exceed. Default 3;
	// negative: 0.
	Z float64 `yaml:"z"`
	// MaxRMSEIncrease is the relative RMSE margin for regression. Default 0.2.
	MaxRMSEIncrease float64 `yaml:"max_rmse_increase"`
	// MinExamples: windows with fewer joined examples count neither way.
	// Default 1000.
	MinExamples int64 `yaml:"min_examples"`
	// BaselineWindows is how many recent windows form the baseline; at least
	// half of them must be known before a window is judged. Default 6.
	BaselineWindows int `yaml:"baseline_windows"`
	// Consecutive windows must breach. Default 2.
	Consecutive int `yaml:"consecutive"`
}

// The detector settings of ConceptDriftTrigger.Detector.
const (
	DetectorADWIN       = "adwin"        // ADWIN saw the error rise
	DetectorPageHinkley = "page_hinkley" // Page-Hinkley saw the error rise
	DetectorBoth        = "both"         // both did, in the same window
	DetectorEither      = "either"       // one of them did
)

// ConceptDriftTrigger raises an alert when the detectors on the model's
// error stream (the 0/1 error of binary models at MonitorConfig.Threshold,
// the absolute error of regression models; fed in event-time order when a
// window closes) saw the error rise in Consecutive windows in a row.
type ConceptDriftTrigger struct {
	Disabled bool `yaml:"disabled"`
	// Detector is adwin, page_hinkley, both or either (default both).
	Detector string `yaml:"detector"`
	// ADWINDelta is ADWIN's confidence (default 0.002).
	ADWINDelta float64 `yaml:"adwin_delta"`
	// PageHinkleyDelta is the change Page-Hinkley tolerates per value
	// (default 0.05; negative: 0) and PageHinkleyThreshold its alarm level
	// (default 50).
	PageHinkleyDelta     float64 `yaml:"page_hinkley_delta"`
	PageHinkleyThreshold float64 `yaml:"page_hinkley_threshold"`
	// MinExamples: windows with fewer joined examples count neither way.
	// Default 100.
	MinExamples int64 `yaml:"min_examples"`
	// Consecutive windows must breach. Default 1.
	Consecutive int `yaml:"consecutive"`
}

// DefaultTriggerConfig returns the defaults described on TriggerConfig.
func DefaultTriggerConfig() TriggerConfig {
	return TriggerConfig{
		Cooldown:     6 * time.Hour,
		FeatureDrift: FeatureDriftTrigger{MinShare: 0.2, MinEvents: 1000, Consecutive: 2},
		Performance: PerformanceTrigger{MaxAUCDrop: 0.05, Z: 3, MaxRMSEIncrease: 0.2, MinExamples: 1000,
			BaselineWindows: 6, Consecutive: 2},
		Concept: ConceptDriftTrigger{Detector: DetectorBoth, ADWINDelta: 0.002, PageHinkleyDelta: 0.05,
			PageHinkleyThreshold: 50, MinExamples: 100, Consecutive: 1},
	}
}

// Validate reports negative and out-of-range fields by their YAML names.
func (c TriggerConfig) Validate() error {
	var errs []error
	bad := func(cond bool, format string, args ...any) {
		if cond {
			errs = append(errs, fmt.Errorf("trigger."+format, args...))
		}
	}
	f, p, k := c.FeatureDrift, c.Performance, c.Concept
	bad(c.Cooldown < 0, "cooldown: %s must not be negative", c.Cooldown)
	bad(f.MinShare < 0 || f.MinShare > 1 || math.IsNaN(f.MinShare), "feature_drift.min_share: %v must be in [0, 1]", f.MinShare)
	bad(f.MinEvents < 0, "feature_drift.min_events: %d must not be negative", f.MinEvents)
	bad(f.Consecutive < 0, "feature_drift.consecutive: %d must not be negative", f.Consecutive)
	bad(p.MaxAUCDrop < 0 || p.MaxAUCDrop > 1 || math.IsNaN(p.MaxAUCDrop), "performance.max_auc_drop: %v must be in [0, 1]", p.MaxAUCDrop)
	bad(p.MaxRMSEIncrease < 0 || math.IsNaN(p.MaxRMSEIncrease), "performance.max_rmse_increase: %v must not be negative", p.MaxRMSEIncrease)
	bad(p.MinExamples < 0, "performance.min_examples: %d must not be negative", p.MinExamples)
	bad(p.BaselineWindows < 0, "performance.baseline_windows: %d must not be negative", p.BaselineWindows)
	bad(p.Consecutive < 0, "performance.consecutive: %d must not be negative", p.Consecutive)
	switch k.Detector {
	case "", DetectorADWIN, DetectorPageHinkley, DetectorBoth, DetectorEither:
	default:
		bad(true, "concept.detector: %q is not adwin, page_hinkley, both or either", k.Detector)
	}
	bad(k.ADWINDelta < 0 || k.ADWINDelta >= 1, "concept.adwin_delta: %v must be in (0, 1)", k.ADWINDelta)
	bad(k.PageHinkleyThreshold < 0, "concept.page_hinkley_threshold: %v must not be negative", k.PageHinkleyThreshold)
	bad(k.MinExamples < 0, "concept.min_examples: %d must not be negative", k.MinExamples)
	bad(k.Consecutive < 0, "concept.consecutive: %d must not be negative", k.Consecutive)
	return errors.Join(errs...)
}

func (c TriggerConfig) withDefaults() TriggerConfig {
	d := DefaultTriggerConfig()
	if c.Cooldown <= 0 {
		c.Cooldown = d.Cooldown
	}
	f, p, k := &c.FeatureDrift, &c.Performance, &c.Concept
	if f.MinShare <= 0 || f.MinShare > 1 {
		f.MinShare = d.FeatureDrift.MinShare
	}
	defaultInt(&f.MinEvents, d.FeatureDrift.MinEvents)
	defaultInt(&f.Consecutive, d.FeatureDrift.Consecutive)
	if p.MaxAUCDrop <= 0 || p.MaxAUCDrop > 1 {
		p.MaxAUCDrop = d.Performance.MaxAUCDrop
	}
	switch {
	case p.Z == 0:
		p.Z = d.Performance.Z
	case p.Z < 0:
		p.Z = 0
	}
	if !(p.MaxRMSEIncrease > 0) {
		p.MaxRMSEIncrease = d.Performance.MaxRMSEIncrease
	}
	defaultInt(&p.MinExamples, d.Performance.MinExamples)
	defaultInt(&p.BaselineWindows, d.Performance.BaselineWindows)
	defaultInt(&p.Consecutive, d.Performance.Consecutive)
	if k.Detector == "" {
		k.Detector = d.Concept.Detector
	}
	if !(k.ADWINDelta > 0 && k.ADWINDelta < 1) {
		k.ADWINDelta = d.Concept.ADWINDelta
	}
	switch {
	case k.PageHinkleyDelta == 0:
		k.PageHinkleyDelta = d.Concept.PageHinkleyDelta
	case k.PageHinkleyDelta < 0:
		k.PageHinkleyDelta = 0
	}
	if !(k.PageHinkleyThreshold > 0) {
		k.PageHinkleyThreshold = d.Concept.PageHinkleyThreshold
	}
	defaultInt(&k.MinExamples, d.Concept.MinExamples)
	defaultInt(&k.Consecutive, d.Concept.Consecutive)
	return c
}

func defaultInt[T int | int64](v *T, d T) {
	if *v <= 0 {
		*v = d
	}
}
