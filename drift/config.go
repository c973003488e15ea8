package drift

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// MonitorConfig configures a Monitor. The zero value of every field means
// its default; DefaultMonitorConfig returns the defaults spelled out.
type MonitorConfig struct {
	// Window is the length of the tumbling event-time windows, aligned to
	// the Unix epoch. Default 1h.
	Window time.Duration
	// AllowedLateness: a window [start, end) closes once the largest event
	// time seen on its stream minus AllowedLateness reaches end. Later
	// observations for it are dropped and counted in Stats. Default Window;
	// a negative value means no lateness at all.
	AllowedLateness time.Duration
	// OutcomeLateness is AllowedLateness for the performance windows.
	// Examples arrive in the order labels do, so their event times are out
	// of order by the spread of label delays: set it to the delay within
	// which labels should still count (at most the join horizon); later
	// ones are dropped and counted in Stats. Performance rows are final,
	// and judged by the trigger policy, only this long after their window.
	// Default AllowedLateness; negative: none.
	OutcomeLateness time.Duration
	// Bins is the number of quantile bins taken from the reference window
	// of a numeric feature (fewer when quantiles tie). Default 10.
	Bins int
	// MaxCategories is how many of the reference window's most frequent
	// categories are kept; the rest count as "__other__". Default 20.
	MaxCategories int
	// PSIThreshold: a row is Drifted when its PSI exceeds it, the change is
	// significant (Alpha) and both sides hold MinWindowValues values.
	// Default 0.2.
	PSIThreshold float64
	// MissingRateThreshold: a row is also Drifted when its missing rate
	// differs from the reference's by more than this, significantly, and
	// both windows hold MinWindowValues events. Default 0.1; a negative
	// value turns the check off.
	MissingRateThreshold float64
	// MinWindowValues: a row can be Drifted only when its window and the
	// reference each hold at least this many usable values of the feature
	// (events, for the missing-rate check). Default 200: the PSI of two
	// samples of one distribution, about (B-1)(1/n+1/m) for B bins, is then
	// under half the default PSIThreshold with 10 bins, every bin expects 20
	// values (the chi-square approximation holds), and Alpha bounds the
	// false flags that noise still causes.
	MinWindowValues int64
	// Alpha is the significance level of a window's drift flags: a row is
	// Drifted only when the chi-square test of its binned counts (or of its
	// missing and present counts) gives a p-value below Alpha/k, k being
	// the number of tests run on the window's rows (Bonferroni), so that a
	// window with no drift has at most an Alpha chance of any flag.
	// Default 0.001.
	Alpha float64
	// SampleSize bounds the sample kept per numeric feature and window
	// (used for quantile edges, KS and Wasserstein). Default 2048.
	SampleSize int
	// MaxTrackedCategories bounds the distinct values counted per
	// categorical feature and window; values first seen after the bound is
	// reached count as "__other__". Default 1000.
	MaxTrackedCategories int
	// MaxFeatures bounds the features tracked per model; fields beyond it
	// are ignored and counted in Stats. Default 1000.
	MaxFeatures int
	// MaxExactOutcomes bounds the outcomes kept per performance row and
	// window for an exact AUC; beyond it AUC comes from a histogram of
	// 65536 score bins on [0, 1]. It also bounds the errors kept per model
	// and window for the concept-drift detectors (a uniform sample beyond
	// it). Default 1<<20.
	MaxExactOutcomes int
	// ECEBins is the number of equal-width calibration bins. Default 10.
	ECEBins int

	// Segments are event fields that split the performance rows of all
	// versions of a model (Version AllVersions): one row per value, with
	// Segment "field=value". Default none.
	Segments []string
	// MaxSegmentValues bounds the values tracked per segment field and
	// model; values first seen after the bound is reached go to the segment
	// "field=__other__". Default 100.
	MaxSegmentValues int
	// Threshold is a binary model's decision threshold: a score ≥ Threshold
	// predicts 1. Precision, recall and the 0/1 error the concept-drift
	// detectors watch use it. Default 0.5.
	Threshold float64
	// Regression says labels are numbers: rows carry N, MAE and RMSE (with
	// label coverage and delay) and NaN classification metrics, and the
	// detectors watch absolute errors. Default false: labels are 0 or 1.
	Regression bool
	// Trigger is the retrain trigger policy applied to closed windows.
	Trigger TriggerConfig
	// ExternalWatermarks: windows close only when Monitor.Advance moves
	// their stream's watermark, not by the event times observed; for
	// observations read from several partitions at different paces (see
	// Clock). Default false.
	ExternalWatermarks bool
}

// DefaultMonitorConfig returns the defaults described on MonitorConfig.
func DefaultMonitorConfig() MonitorConfig {
	return MonitorConfig{
		Window:               time.Hour,
		AllowedLateness:      time.Hour,
		OutcomeLateness:      time.Hour,
		Bins:                 10,
		MaxCategories:        20,
		PSIThreshold:         0.2,
		MissingRateThreshold: 0.1,
		MinWindowValues:      200,
		Alpha:                0.001,
		SampleSize:           2048,
		MaxTrackedCategories: 1000,
		MaxFeatures:          1000,
		MaxExactOutcomes:     1 << 20,
		ECEBins:              10,
		MaxSegmentValues:     100,
		Threshold:            0.5,
		Trigger:              DefaultTriggerConfig(),
	}
}

// Validate reports the fields that are negative or out of range (zero
// means default).
func (c MonitorConfig) Validate() error {
	var errs []error
	neg := func(name string, bad bool) {
		if bad {
			errs = append(errs, fmt.Errorf("drift: %s must not be negative", name))
		}
	}
	neg("Window", c.Window < 0)
	neg("Bins", c.Bins < 0)
	neg("MaxCategories", c.MaxCategories < 0)
	neg("PSIThreshold", c.PSIThreshold < 0)
	neg("MinWindowValues", c.MinWindowValues < 0)
	if c.Alpha < 0 || c.Alpha > 1 || math.IsNaN(c.Alpha) {
		errs = append(errs, fmt.Errorf("drift: Alpha %v must be in [0, 1]", c.Alpha))
	}
	neg("SampleSize", c.SampleSize < 0)
	neg("MaxTrackedCategories", c.MaxTrackedCategories < 0)
	neg("MaxFeatures", c.MaxFeatures < 0)
	neg("MaxExactOutcomes", c.MaxExactOutcomes < 0)
	neg("ECEBins", c.ECEBins < 0)
	neg("MaxSegmentValues", c.MaxSegmentValues < 0)
	if c.Threshold < 0 || c.Threshold > 1 || math.IsNaN(c.Threshold) {
		errs = append(errs, fmt.Errorf("drift: Threshold %v must be in [0, 1]", c.Threshold))
	}
	seen := map[string]bool{}
	for _, s := range c.Segments {
		if s == "" || seen[s] {
			errs = append(errs, fmt.Errorf("drift: Segments: %q is empty or repeated", s))
		}
		seen[s] = true
	}
	if err := c.Trigger.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// withDefaults replaces zero and invalid fields with their defaults.
func (c MonitorConfig) withDefaults() MonitorConfig {
	d := DefaultMonitorConfig()
	if c.Window <= 0 {
		c.Window = d.Window
	}
	switch {
	case c.AllowedLateness == 0:
		c.AllowedLateness = c.Window
	case c.AllowedLateness < 0:
		c.AllowedLateness = 0
	}
	switch {
	case c.OutcomeLateness == 0:
		c.OutcomeLateness = c.AllowedLateness
	case c.OutcomeLateness < 0:
		c.OutcomeLateness = 0
	}
	def := func(v *int, dv int) {
		if *v <= 0 {
			*v = dv
		}
	}
	def(&c.Bins, d.Bins)
	def(&c.MaxCategories, d.MaxCategories)
	def(&c.SampleSize, d.SampleSize)
	def(&c.MaxTrackedCategories, d.MaxTrackedCategories)
	def(&c.MaxFeatures, d.MaxFeatures)
	def(&c.MaxExactOutcomes, d.MaxExactOutcomes)
	def(&c.ECEBins, d.ECEBins)
	def(&c.MaxSegmentValues, d.MaxSegmentValues)
	if c.PSIThreshold <= 0 {
		c.PSIThreshold = d.PSIThreshold
	}
	if c.MinWindowValues <= 0 {
		c.MinWindowValues = d.MinWindowValues
	}
	if !(c.Alpha > 0 && c.Alpha <= 1) {
		c.Alpha = d.Alpha
	}
	if c.MissingRateThreshold == 0 {
		c.MissingRateThreshold = d.MissingRateThreshold
	}
	if !(c.Threshold > 0 && c.Threshold <= 1) {
		c.Threshold = d.Threshold
	}
	c.Trigger = c.Trigger.withDefaults()
	return c
}
