// Package drift holds the statistics and the in-memory state of the drift
// and outcome correlator: distribution-shift tests between a reference and a
// current sample (PSI, KS, Jensen-Shannon, Wasserstein, chi-square, L∞),
// performance metrics on joined outcomes (ROC AUC, log loss, Brier, ECE),
// concept-drift detectors on error streams (ADWIN, Page-Hinkley), and
// Monitor, which keeps per-model, per event-time window state and turns it
// into rows for the feature_drift and model_performance tables.
//
// The package does no I/O: callers feed it observations and write the rows
// it returns. Functions never mutate their input slices. Reference values
// for every statistic come from scipy 1.10 and scikit-learn 1.2; see
// testdata/gen_reference.py.
package drift
