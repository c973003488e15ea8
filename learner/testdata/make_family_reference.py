#!/usr/bin/python3
"""Reference figures for the non-linear families (learner/family_quality_test.go).

1. Writes the synthetic sets with known interactions, fixed seeds, label first:
   - checkerboard.csv: label = [x1 * x2 > 0] with 5% flipped, x1 and x2 on different scales, a noise
     input and a categorical one that say nothing (no linear model can beat chance);
   - thresholds.csv: a churn-like set whose log-odds are steps and an interaction of a numeric
     and a categorical input, plus a linear part.
2. If Rscript with mlbench is installed, exports Sonar (mlbench) as sonar.csv.
3. For every set the quality test uses, computes offline 5-fold cross-validated AUC (stratified,
   shuffled, seed 0) of LogisticRegression on standardized inputs and of HistGradientBoosting
   (scikit-learn defaults), and writes family_reference.csv.
4. For the same sets, progressive AUC of offline learners refit on the prefix, in the file order
   the Go tests stream (the files are shuffled once when written): row i is scored by a model fit
   on rows 0..i-1, and the AUC is taken over all rows. Until the prefix holds MIN_PREFIX rows and
   both classes, a row scores 0.5. Sets up to 1,000 rows are refit at every row; larger ones every
   REFIT_LARGE rows (rows i..i+99 scored by the model fit on rows < i). Learners:
   LogisticRegression (standardized on the prefix), HistGradientBoosting (defaults; under 40 rows
   it cannot split and scores the prefix's prior) and 5-nearest neighbours (standardized on the
   prefix, score = share of positives among the 5). The column prior_auc, the AUC of the prefix's
   share of positives, checks the order: the Go test computes the same from its stream.

Run from this directory: ./make_family_reference.py (needs python3-sklearn; Rscript optional).
"""
import csv
import os
import subprocess
import warnings

os.environ.setdefault("OMP_NUM_THREADS", "1")  # tiny fits: threads cost more than they give

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

warnings.filterwarnings("ignore")
MIN_PREFIX = 10
REFIT_LARGE = 100
SETS = ["pima", "ionosphere", "breast_cancer", "house_votes", "sonar", "checkerboard", "thresholds"]


def write(name, header, rows):
    with open(name + ".csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def checkerboard(n=10000, seed=7):
    r = np.random.RandomState(seed)
    rows = []
    for _ in range(n):
        x1, x2 = r.uniform(-1, 1), r.uniform(-1, 1)
        y = int(x1 * x2 > 0)
        if r.uniform() < 0.05:
            y = 1 - y
        rows.append([y, "%.6g" % (100 * x1), "%.6g" % (x2 + 5), "%.6g" % (10 * r.randn()), "abc"[r.randint(3)]])
    write("checkerboard", ["label", "x1", "x2", "noise", "c"], rows)


def thresholds(n=10000, seed=8):
    r = np.random.RandomState(seed)
    rows = []
    plans = ["basic", "plus", "pro"]
    for _ in range(n):
        tenure = r.exponential(24)
        calls = r.poisson(2)
        bill = r.normal(60, 20)
        plan = r.randint(3)
        m = -1.0 + 2.5 * (tenure < 6) - 1.5 * (tenure > 48) + 1.8 * (calls >= 4) + 0.02 * (bill - 60)
        m += 2.0 * (plan == 2) * (bill > 80) - 1.0 * (plan == 0) * (calls >= 4)
        y = int(r.uniform() < 1 / (1 + np.exp(-m)))
        rows.append([y, "%.4g" % tenure, calls, "%.4g" % bill, plans[plan], "%.4g" % r.randn()])
    write("thresholds", ["label", "tenure", "calls", "bill", "plan", "noise"], rows)


def sonar():
    script = 'suppressMessages(library(mlbench)); data(Sonar); write.csv(Sonar, stdout(), row.names = FALSE)'
    try:
        out = subprocess.run(["Rscript", "-e", script], check=True, capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        print("Rscript with mlbench not found: sonar.csv left as it is")
        return
    rows = list(csv.reader(out.splitlines()))
    h, rows = rows[0], rows[1:]
    y = h.index("Class")
    feats = [i for i in range(len(h)) if i != y]
    order = np.random.RandomState(42).permutation(len(rows))
    write("sonar", ["label"] + [h[i] for i in feats],
          [[int(rows[k][y] == "M")] + ["%.6g" % float(rows[k][i]) for i in feats] for k in order])


def load(name):
    """As the Go test reads a set: numbers as they are, other columns one-hot, empty cells missing."""
    with open(name + ".csv") as f:
        rows = list(csv.reader(f))
    header, rows = rows[0], rows[1:]
    y = np.array([int(r[0]) for r in rows])
    cols = []
    for j in range(1, len(header)):
        vals = [r[j] for r in rows]
        try:
            cols.append(np.array([float(v) if v else np.nan for v in vals])[:, None])
        except ValueError:
            levels = sorted({v for v in vals if v})
            cols.append(np.array([[float(v == lv) for lv in levels] for v in vals]))
    return np.hstack(cols), y


def cv_auc(model, X, y):
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    return cross_val_score(model, X, y, cv=folds, scoring="roc_auc").mean()


def lr_model():
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))


def knn_model():
    return make_pipeline(StandardScaler(), KNeighborsClassifier(n_neighbors=5))


def prefix_auc(make, X, y):
    """Progressive AUC of make() refit on the prefix (see 4. above)."""
    n = len(y)
    step = 1 if n <= 1000 else REFIT_LARGE
    scores = np.full(n, 0.5)
    for i in range(MIN_PREFIX, n, step):
        if len(set(y[:i])) < 2:
            continue
        m = make().fit(X[:i], y[:i])
        scores[i:i + step] = m.predict_proba(X[i:i + step])[:, 1]
    return roc_auc_score(y, scores)


def prior_auc(y):
    """AUC of the share of positives before each row (0.5 for the first): checks the order."""
    before = np.concatenate([[0], np.cumsum(y)[:-1]])
    seen = np.arange(len(y))
    return roc_auc_score(y, np.where(seen > 0, before / np.maximum(seen, 1), 0.5))


def main():
    checkerboard()
    thresholds()
    sonar()
    with open("family_reference.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["set", "rows", "lr_auc", "hgb_auc", "prefix_lr_auc", "prefix_hgb_auc", "prefix_knn_auc",
                    "prior_auc"])
        for name in SETS:
            try:
                X, y = load(name)
            except FileNotFoundError:
                continue
            X0 = np.nan_to_num(X)
            lr = cv_auc(lr_model(), X0, y)
            hgb = cv_auc(HistGradientBoostingClassifier(random_state=0), X, y)
            plr = prefix_auc(lr_model, X0, y)
            phgb = prefix_auc(lambda: HistGradientBoostingClassifier(random_state=0), X, y)
            pknn = prefix_auc(knn_model, X0, y)
            prior = prior_auc(y)
            w.writerow([name, len(y)] + ["%.4f" % v for v in (lr, hgb, plr, phgb, pknn, prior)])
            print("%-14s rows %5d  LR %.4f  HGB %.4f  prefix: LR %.4f  HGB %.4f  5-NN %.4f  (prior %.4f)"
                  % (name, len(y), lr, hgb, plr, phgb, pknn, prior), flush=True)


if __name__ == "__main__":
    main()
