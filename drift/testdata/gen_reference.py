#!/usr/bin/python3
"""Writes reference.json: expected values of every statistic in package drift.

Run with Debian's python3 (scipy 1.10.1, scikit-learn 1.2.1, numpy 1.24):

    /usr/bin/python3 drift/testdata/gen_reference.py

The Go tests only read the JSON; they never run Python. NaN and infinities
are written as the strings "NaN", "+Inf" and "-Inf".
"""
import json
import math
import os
import warnings

import numpy as np
import scipy
import sklearn
from scipy import stats
from scipy.spatial import distance
from sklearn import calibration, metrics

rng = np.random.default_rng(20261122)


def f(x):
    x = float(x)
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    return x


def fl(xs):
    return [f(x) for x in xs]


def psi(ref, cur, eps=1e-4):
    # Independent restatement of the documented formula.
    r = np.asarray(ref, float) / np.sum(ref)
    c = np.asarray(cur, float) / np.sum(cur)
    r = np.maximum(r, eps)
    c = np.maximum(c, eps)
    return np.sum((c - r) * np.log(c / r))


def binned_cases():
    """Pairs of histograms shared by PSI, JS, L-inf and chi-square."""
    cases = [
        ("identical", [10, 20, 30, 40], [10, 20, 30, 40]),
        ("proportions_vs_counts", [0.1, 0.2, 0.3, 0.4], [100, 200, 300, 400]),
        ("shifted", [25, 25, 25, 25], [10, 20, 30, 40]),
        ("empty_bin_cur", [10, 20, 30, 40], [0, 30, 30, 40]),
        ("empty_bin_ref", [0, 30, 30, 40], [10, 20, 30, 40]),
        ("empty_both", [10, 0, 30, 40], [5, 0, 50, 20]),
        ("disjoint", [1, 0], [0, 1]),
        ("single_bin", [7], [3]),
        ("two_bins_small", [1, 2], [2, 1]),
        ("fractional", [0.5, 1.5, 2.25], [1.25, 0.75, 3.0]),
    ]
    for i in range(4):
        k = int(rng.integers(3, 30))
        ref = rng.integers(0, 200, size=k).astype(float)
        cur = rng.integers(0, 200, size=k).astype(float)
        ref[0] += 1
        cur[-1] += 1
        cases.append((f"random_{i}_k{k}", ref.tolist(), cur.tolist()))
    return cases


def chi2_ref(ref, cur):
    t = np.array([ref, cur], float)
    keep = t.sum(axis=0) > 0
    t = t[:, keep]
    if t.shape[1] < 2:
        return 0.0, 1.0
    res = stats.chi2_contingency(t, correction=False)
    return res[0], res[1]


def labelled_cases():
    """Score/label pairs shared by AUC, log loss, Brier and ECE."""
    cases = [
        ("perfect", [0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]),
        ("inverted", [0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1]),
        ("all_tied", [0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1]),
        ("ties_across_classes", [0.1, 0.4, 0.4, 0.4, 0.8, 0.8], [0, 0, 1, 1, 0, 1]),
        ("tiny", [0.3, 0.7], [1, 0]),
        ("one_class_pos", [0.2, 0.6, 0.9], [1, 1, 1]),
        ("one_class_neg", [0.2, 0.6, 0.9], [0, 0, 0]),
        ("extremes_clipped", [0.0, 1.0, 0.0, 1.0], [0, 1, 1, 0]),
        ("on_edges", [0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 1.0], [0, 0, 1, 0, 1, 1, 0, 1]),
    ]
    for n in (10, 100, 1000, 5000):
        p = rng.uniform(size=n)
        y = (rng.uniform(size=n) < p).astype(int)
        cases.append((f"random_{n}", p.tolist(), y.tolist()))
    p = np.round(rng.uniform(size=500), 2)  # many ties
    y = (rng.uniform(size=500) < p).astype(int)
    cases.append(("rounded_500", p.tolist(), y.tolist()))
    return cases


def ece_ref(p, y, bins):
    p, y = np.asarray(p, float), np.asarray(y, float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    ids = np.searchsorted(edges[1:-1], p)  # same binning as calibration_curve
    n = np.bincount(ids, minlength=bins)
    sp = np.bincount(ids, weights=p, minlength=bins)
    sy = np.bincount(ids, weights=y, minlength=bins)
    nz = n > 0
    ece = np.sum(n[nz] / len(p) * np.abs(sy[nz] / n[nz] - sp[nz] / n[nz]))
    out = {"ece": f(ece), "counts": n.tolist()}
    if len(np.unique(y)) == 2:
        prob_true, prob_pred = calibration.calibration_curve(y, p, n_bins=bins, strategy="uniform")
        out["prob_true"] = fl(prob_true)
        out["prob_pred"] = fl(prob_pred)
    return out


def sample_pairs():
    """Sample pairs for KS and Wasserstein."""
    cases = [
        ("tiny_1_1", [0.0], [1.0]),
        ("tiny_1_2", [0.5], [0.2, 0.9]),
        ("tiny_equal", [1.0, 2.0, 3.0], [1.0, 2.0, 3.0]),
        ("ties", [1, 1, 2, 2, 2, 3, 5], [1, 2, 2, 3, 3, 3, 3, 4, 5]),
        ("all_same", [2.0] * 6, [2.0] * 4),
        ("separated", [1, 2, 3, 4], [10, 11, 12]),
        ("negative", [-3.5, -1.0, 0.0, 2.5], [-2.0, -2.0, 1.0, 4.0, 8.0]),
    ]
    for n1, n2, shift in [(20, 20, 0.0), (50, 30, 0.3), (97, 101, 0.0), (200, 200, 0.5),
                          (300, 450, 0.1), (1000, 700, 0.05), (2048, 2048, 0.1)]:
        a = rng.normal(size=n1)
        b = rng.normal(loc=shift, size=n2)
        cases.append((f"normal_{n1}_{n2}_{shift}", a.tolist(), b.tolist()))
    a = rng.integers(0, 10, size=400).astype(float)
    b = rng.integers(0, 11, size=300).astype(float)
    cases.append(("integers_400_300", a.tolist(), b.tolist()))
    # Above scipy's MAX_AUTO_N = 10000: "auto" switches to the asymptotic method.
    a = rng.normal(size=10001)
    b = rng.normal(loc=0.1, size=400)
    cases.append(("large_10001_400", a.tolist(), b.tolist()))
    return cases


def main():
    warnings.simplefilter("ignore")
    out = {
        "versions": {"numpy": np.__version__, "scipy": scipy.__version__, "sklearn": sklearn.__version__},
        "binned": [], "labelled": [], "samples": [], "kstwo_sf": [],
    }
    for name, ref, cur in binned_cases():
        r = np.asarray(ref, float) / np.sum(ref)
        c = np.asarray(cur, float) / np.sum(cur)
        chi, pv = chi2_ref(ref, cur)
        out["binned"].append({
            "name": name, "ref": fl(ref), "cur": fl(cur),
            "psi": f(psi(ref, cur)),
            "js": f(distance.jensenshannon(ref, cur)),
            "linf": f(distance.chebyshev(r, c)),
            "chi2": f(chi), "chi2_p": f(pv),
        })
    for name, p, y in labelled_cases():
        try:
            auc = metrics.roc_auc_score(y, p)
        except ValueError:  # one class
            auc = float("nan")
        case = {
            "name": name, "scores": fl(p), "labels": fl(y),
            "auc": f(auc),
            "logloss": f(metrics.log_loss(y, p, eps=1e-15, labels=[0, 1])),
            "brier": f(metrics.brier_score_loss(y, p, pos_label=1)),
            "ece": {},
        }
        for bins in (5, 10, 15):
            case["ece"][str(bins)] = ece_ref(p, y, bins)
        case["mae"] = f(metrics.mean_absolute_error(y, p))
        case["rmse"] = f(math.sqrt(metrics.mean_squared_error(y, p)))
        case["at_threshold"] = {}
        for thr in (0.3, 0.5):
            pred = (np.asarray(p) >= thr).astype(int)
            # sklearn 1.2 has no zero_division=nan: NaN where undefined.
            prec = metrics.precision_score(y, pred, zero_division=0) if pred.sum() > 0 else float("nan")
            rec = metrics.recall_score(y, pred, zero_division=0) if np.sum(y) > 0 else float("nan")
            case["at_threshold"][str(thr)] = {"precision": f(prec), "recall": f(rec)}
        out["labelled"].append(case)
    for name, a, b in sample_pairs():
        case = {"name": name, "a": fl(a), "b": fl(b),
                "wasserstein": f(stats.wasserstein_distance(a, b)),
                "wasserstein_norm": f(stats.wasserstein_distance(a, b) / np.std(a)) if np.std(a) > 0 else None,
                "ks": {}}
        for method in ("auto", "exact", "asymp"):
            if method == "exact" and max(len(a), len(b)) > 3000:
                continue
            res = stats.ks_2samp(a, b, method=method)
            case["ks"][method] = {"stat": f(res.statistic), "p": f(res.pvalue)}
        out["samples"].append(case)
    for n in (1, 2, 5, 10, 50, 140, 141, 500, 1000, 5000, 20000, 100000, 200000):
        for x in (0.001, 0.01, 0.03, 0.05, 0.08, 0.1, 0.15, 0.2, 0.3, 0.45, 0.5, 0.6, 0.9, 0.999):
            out["kstwo_sf"].append({"n": n, "x": x, "sf": f(stats.kstwo.sf(x, n))})
        for t in (0.7, 1.0, 1.5):  # around the Ruben-Gambino bound n·x ≤ 1
            out["kstwo_sf"].append({"n": n, "x": t / n, "sf": f(stats.kstwo.sf(t / n, n))})
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference.json")
    with open(path, "w") as fh:
        json.dump(out, fh, separators=(",", ":"))
        fh.write("\n")


if __name__ == "__main__":
    main()
