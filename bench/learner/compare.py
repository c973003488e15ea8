#!/usr/bin/python3
"""scikit-learn reference numbers for the learner: quality and speed.

Quality, on each data set of learner/testdata: progressive AUC (predict each example, then learn it,
in file order) of SGDClassifier(loss='log_loss').partial_fit one example at a time, on raw inputs and
with an online StandardScaler (statistics of the examples before), and the 5-fold cross-validated AUC
of offline LogisticRegression on standardized inputs.

Speed: partial_fit examples/s one at a time and in minibatches of 256, on breast_cancer (30 dense
numeric columns) and on a stream shaped like the Go benchmark (20 numeric + 30 one-hot categorical
features hashed into 2^20 sparse columns).

Run from the repository root: bench/learner/compare.py [--quick]
"""
import csv
import sys
import time
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

SETS = ["pima", "ionosphere", "breast_cancer", "house_votes"]
warnings.filterwarnings("ignore")


def load(name):
    """Reads learner/testdata/NAME.csv into X (numeric columns as is, categoricals one-hot) and y."""
    with open("learner/testdata/%s.csv" % name) as f:
        rows = list(csv.reader(f))
    header, rows = rows[0], rows[1:]
    y = np.array([int(r[0]) for r in rows])
    cols = []
    for j in range(1, len(header)):
        vals = [r[j] for r in rows]
        try:
            cols.append(np.array([float(v) for v in vals])[:, None])
        except ValueError:
            levels = sorted({v for v in vals if v})
            cols.append(np.array([[float(v == lv) for lv in levels] for v in vals]))
    return np.hstack(cols), y


def progressive_sgd(X, y, scale):
    clf, scaler = SGDClassifier(loss="log_loss", random_state=0), StandardScaler()
    preds = np.empty(len(y))
    for i in range(len(y)):
        x = X[i : i + 1]
        if scale:
            xs = scaler.transform(x) if i > 0 else np.zeros_like(x)
            scaler.partial_fit(x)
            x = np.nan_to_num(xs)
        preds[i] = clf.predict_proba(x)[0, 1] if i > 0 else 0.5
        clf.partial_fit(x, y[i : i + 1], classes=[0, 1])
    return roc_auc_score(y, preds)


def offline_lr(X, y):
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    return cross_val_score(model, X, y, cv=folds, scoring="roc_auc").mean()


def quality():
    print("| data set | rows | SGD raw | SGD + online scaler | offline LR (5-fold) |")
    print("|---|---|---|---|---|")
    for name in SETS:
        X, y = load(name)
        print("| %s | %d | %.4f | %.4f | %.4f |" % (
            name, len(y), progressive_sgd(X, y, False), progressive_sgd(X, y, True), offline_lr(X, y)))


def wide_stream(n, seed=1):
    """A sparse stream shaped like BenchmarkLearnHashed: 20 numeric and 30 categorical features."""
    r = np.random.RandomState(seed)
    rows, cols, vals = [], [], []
    for i in range(n):
        for j in range(20):
            rows.append(i), cols.append(j), vals.append((j + 1) * 10 * r.randn())
        for j in range(30):
            rows.append(i), cols.append((7919 * (j + 20) + 104729 * r.randint(2 + j * j)) % (1 << 20)), vals.append(1.0)
    X = sp.csr_matrix((vals, (rows, cols)), shape=(n, 1 << 20))
    return X, r.randint(2, size=n)


def rate(X, y, batch, seconds):
    clf = SGDClassifier(loss="log_loss", random_state=0)
    clf.partial_fit(X[:batch], y[:batch], classes=[0, 1])
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        i = (done % (X.shape[0] - batch))
        clf.partial_fit(X[i : i + batch], y[i : i + batch])
        done += batch
    return done / (time.perf_counter() - start)


def speed(seconds):
    Xb, yb = load("breast_cancer")
    Xb = StandardScaler().fit_transform(Xb)
    Xw, yw = wide_stream(4096)
    print("| data | batch | examples/s (median of 3) |")
    print("|---|---|---|")
    for label, X, y in [("breast_cancer, 30 dense", Xb, yb), ("wide, 50 of 2^20 sparse", Xw, yw)]:
        for batch in (1, 256):
            print("| %s | %d | %.0f |" % (label, batch, np.median([rate(X, y, batch, seconds) for _ in range(3)])))


if __name__ == "__main__":
    quality()
    speed(1 if "--quick" in sys.argv else 3)
