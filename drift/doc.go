// Package drift holds the statistics and the in-memory state of the drift
// and outcome correlator: distribution-shift tests between a reference and a
// current sample (PSI, KS, Jensen-Shannon, Wasserstein, chi-square, L∞),
// performance metrics on joined outcomes (ROC AUC, log loss, Brier, ECE,
// precision and recall, MAE, RMSE, label coverage and delay), concept-drift
// detectors on error streams (ADWIN, Page-Hinkley), the retrain trigger
// Policy, and Monitor, which keeps per-model, per event-time window state,
// turns it into rows for the feature_drift and model_performance tables and
// alerts for drift_alerts and the control topic, and can be snapshotted and
// rebuilt after a restart (Snapshot, ResumePoints, Clock).
//
// A feature_drift row is Drifted only when its change is large (PSI above
// MonitorConfig.PSIThreshold, or a missing-rate change above
// MissingRateThreshold), significant for its sample size (the chi-square
// p-value of the binned counts, or of the present and missing counts, below
// Alpha divided by the number of tests in the window: Bonferroni) and both
// the window and the reference hold MinWindowValues values. Under no drift
// PSI is about (B-1)(1/n+1/m) for B bins and samples of n and m values, so
// small windows of a stationary stream would otherwise read PSI above the
// threshold by chance.
//
// The package does no I/O: callers feed it observations and write the rows
// it returns. Functions never mutate their input slices. Reference values
// for every statistic come from scipy 1.10 and scikit-learn 1.2; see
// testdata/gen_reference.py. docs/DRIFT.md describes the whole design.
package drift
