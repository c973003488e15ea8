package console

import (
	"context"
	"fmt"
	"net/http"
	"sort"
)

// VersionPerformance is one version's windowed figures from model_performance (segment ""), oldest
// window first. Version -1 is the model as a whole (every version that served in the window).
type VersionPerformance struct {
	Version int64   `json:"version"`
	Time    []int64 `json:"time"` // window starts, unix seconds
	N       []int64 `json:"n"`
	AUC     []num   `json:"auc"`
	LogLoss []num   `json:"logloss"`
}

// Performance is the answer of GET /v1/console/models/{model}/performance.
type Performance struct {
	Model    string               `json:"model"`
	Versions []VersionPerformance `json:"versions"`
}

// maxRows bounds what one console query reads.
const maxRows = 20000

func (c *Console) clickhouse(w http.ResponseWriter) bool {
	if c.opts.ClickHouse == nil {
		writeError(w, http.StatusServiceUnavailable, "unavailable", "", "this process has no ClickHouse connection (it runs neither the correlate nor the learn role)")
		return false
	}
	return true
}

func (c *Console) table(name string) string { return c.opts.Database + "." + name }

func (c *Console) performance(w http.ResponseWriter, r *http.Request) {
	model := r.PathValue("model")
	if model == "" || len(model) > 200 {
		writeError(w, http.StatusBadRequest, "bad_request", "model", "model must be 1 to 200 bytes")
		return
	}
	hours, ok := intParam(w, r, "hours", 24, 1, 24*90)
	if !ok || !c.clickhouse(w) {
		return
	}
	ctx, cancel := withTimeout(r.Context(), c.opts.QueryTimeout)
	defer cancel()
	q := fmt.Sprintf(`SELECT version, toUnixTimestamp(window_start) AS ws, n, auc, logloss FROM %s FINAL
		WHERE model = ? AND segment = '' AND window_start >= (SELECT max(window_start) FROM %s WHERE model = ?) - ?
		ORDER BY version, window_start LIMIT %d`, c.table("model_performance"), c.table("model_performance"), maxRows)
	rows, err := c.opts.ClickHouse.Query(ctx, q, model, model, hours*3600)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "unavailable", "", "clickhouse: "+err.Error())
		return
	}
	defer rows.Close()
	out := Performance{Model: model, Versions: []VersionPerformance{}}
	for rows.Next() {
		var (
			version, n int64
			ws         uint32
			auc, ll    float64
		)
		if err := rows.Scan(&version, &ws, &n, &auc, &ll); err != nil {
			writeError(w, http.StatusServiceUnavailable, "unavailable", "", "clickhouse: "+err.Error())
			return
		}
		if k := len(out.Versions); k == 0 || out.Versions[k-1].Version != version {
			out.Versions = append(out.Versions, VersionPerformance{Version: version})
		}
		v := &out.Versions[len(out.Versions)-1]
		v.Time, v.N, v.AUC, v.LogLoss = append(v.Time, int64(ws)), append(v.N, n), append(v.AUC, num(auc)), append(v.LogLoss, num(ll))
	}
	if err := rows.Err(); err != nil {
		writeError(w, http.StatusServiceUnavailable, "unavailable", "", "clickhouse: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// DriftCell is one feature in one window of feature_drift.
type DriftCell struct {
	Feature string `json:"feature"`
	Window  int64  `json:"window"` // window start, unix seconds
	// Reference is the start of the window this one is compared with; a reference window is
	// compared with nothing, so its statistics are null.
	Reference   int64 `json:"reference"`
	N           int64 `json:"n"`
	PSI         num   `json:"psi"`
	KS          num   `json:"ks"`
	KSPValue    num   `json:"ks_pvalue"`
	JS          num   `json:"js"`
	Wasserstein num   `json:"wasserstein"`
	Chi2        num   `json:"chi2"`
	MissingRate num   `json:"missing_rate"`
	Drifted     bool  `json:"drifted"`
	// The histograms the statistics compare (empty when the cell is compared with nothing): the
	// bins' names and the share of the reference's and of this window's values in each.
	Bins            []string  `json:"bins"`
	ReferenceShares []float64 `json:"reference_shares"`
	WindowShares    []float64 `json:"window_shares"`
}

// DriftAlert is a drift_alerts row.
type DriftAlert struct {
	Time      int64    `json:"time"`
	Kind      string   `json:"kind"`
	Reason    string   `json:"reason"`
	Value     num      `json:"value"`
	Threshold num      `json:"threshold"`
	Features  []string `json:"features"`
	AlertID   string   `json:"alert_id"`
}

// RetrainStep is a retrain_events row.
type RetrainStep struct {
	Time              int64  `json:"time"`
	Step              string `json:"step"`
	Reason            string `json:"reason"`
	ChampionVersion   int64  `json:"champion_version"`
	ChallengerVersion int64  `json:"challenger_version"`
	ChampionMetric    num    `json:"champion_metric"`
	ChallengerMetric  num    `json:"challenger_metric"`
	AlertID           string `json:"alert_id"`
}

// Drift is the answer of GET /v1/console/drift: the last windows of feature_drift as a feature ×
// window grid (Cells holds the grid's filled cells), with the model's latest alerts and retrain
// steps, newest first.
type Drift struct {
	Model    string        `json:"model"`
	Features []string      `json:"features"`
	Windows  []int64       `json:"windows"`
	Cells    []DriftCell   `json:"cells"`
	Alerts   []DriftAlert  `json:"alerts"`
	Retrains []RetrainStep `json:"retrains"`
}

func (c *Console) drift(w http.ResponseWriter, r *http.Request) {
	model, ok := c.modelParam(w, r)
	if !ok {
		return
	}
	windows, ok := intParam(w, r, "windows", 30, 1, 500)
	if !ok || !c.clickhouse(w) {
		return
	}
	ctx, cancel := withTimeout(r.Context(), c.opts.QueryTimeout)
	defer cancel()
	out := Drift{Model: model, Features: []string{}, Windows: []int64{}, Cells: []DriftCell{}, Alerts: []DriftAlert{}, Retrains: []RetrainStep{}}
	for _, step := range []func(context.Context, *Drift, int) error{c.driftCells, c.driftAlerts, c.retrainSteps} {
		if err := step(ctx, &out, windows); err != nil {
			writeError(w, http.StatusServiceUnavailable, "unavailable", "", "clickhouse: "+err.Error())
			return
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (c *Console) driftCells(ctx context.Context, out *Drift, windows int) error {
	t := c.table("feature_drift")
	q := fmt.Sprintf(`SELECT feature, toUnixTimestamp(window_start) AS ws, toUnixTimestamp(reference_start) AS rs, n, psi, ks, ks_pvalue, js, wasserstein, chi2, missing_rate, drifted, bins, reference_shares, window_shares
		FROM %s FINAL WHERE model = ? AND window_start >= (SELECT min(w) FROM (SELECT DISTINCT window_start AS w FROM %s WHERE model = ? ORDER BY w DESC LIMIT %d))
		ORDER BY window_start, feature LIMIT %d`, t, t, windows, maxRows)
	rows, err := c.opts.ClickHouse.Query(ctx, q, out.Model, out.Model)
	if err != nil {
		return err
	}
	defer rows.Close()
	features, wins := map[string]bool{}, map[int64]bool{}
	for rows.Next() {
		var (
			cell                                    DriftCell
			ws, rs                                  uint32
			psi, ks, ksp, js, wd, chi2, missingRate float64
			drifted                                 uint8
		)
		if err := rows.Scan(&cell.Feature, &ws, &rs, &cell.N, &psi, &ks, &ksp, &js, &wd, &chi2, &missingRate, &drifted,
			&cell.Bins, &cell.ReferenceShares, &cell.WindowShares); err != nil {
			return err
		}
		cell.Window, cell.Reference, cell.Drifted = int64(ws), int64(rs), drifted == 1
		cell.PSI, cell.KS, cell.KSPValue, cell.JS, cell.Wasserstein, cell.Chi2, cell.MissingRate = num(psi), num(ks), num(ksp), num(js), num(wd), num(chi2), num(missingRate)
		out.Cells = append(out.Cells, cell)
		if !features[cell.Feature] {
			features[cell.Feature] = true
			out.Features = append(out.Features, cell.Feature)
		}
		if !wins[cell.Window] {
			wins[cell.Window] = true
			out.Windows = append(out.Windows, cell.Window)
		}
	}
	sort.Strings(out.Features)
	return rows.Err()
}

func (c *Console) driftAlerts(ctx context.Context, out *Drift, _ int) error {
	q := fmt.Sprintf(`SELECT toUnixTimestamp(time) AS t, kind, reason, value, threshold, features, alert_id
		FROM %s FINAL WHERE model = ? ORDER BY time DESC LIMIT 200`, c.table("drift_alerts"))
	rows, err := c.opts.ClickHouse.Query(ctx, q, out.Model)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			a          DriftAlert
			t          uint32
			value, thr float64
		)
		if err := rows.Scan(&t, &a.Kind, &a.Reason, &value, &thr, &a.Features, &a.AlertID); err != nil {
			return err
		}
		a.Time, a.Value, a.Threshold = int64(t), num(value), num(thr)
		if a.Features == nil {
			a.Features = []string{}
		}
		out.Alerts = append(out.Alerts, a)
	}
	return rows.Err()
}

func (c *Console) retrainSteps(ctx context.Context, out *Drift, _ int) error {
	q := fmt.Sprintf(`SELECT toUnixTimestamp(time) AS t, step, reason, champion_version, challenger_version, champion_metric, challenger_metric, event_id
		FROM %s FINAL WHERE model = ? ORDER BY time DESC, time_ms DESC LIMIT 200`, c.table("retrain_events"))
	rows, err := c.opts.ClickHouse.Query(ctx, q, out.Model)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			s      RetrainStep
			t      uint32
			cm, xm float64
		)
		if err := rows.Scan(&t, &s.Step, &s.Reason, &s.ChampionVersion, &s.ChallengerVersion, &cm, &xm, &s.AlertID); err != nil {
			return err
		}
		s.Time, s.ChampionMetric, s.ChallengerMetric = int64(t), num(cm), num(xm)
		out.Retrains = append(out.Retrains, s)
	}
	return rows.Err()
}
