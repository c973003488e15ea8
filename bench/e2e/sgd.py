#!/usr/bin/python3
"""scikit-learn's SGDClassifier.partial_fit on the stream bench/e2e publishes (exported with -export):
examples/s one at a time and in minibatches of 256, after one-hot encoding and online-free scaling
(fit on the first 1,000 rows, as a fair head start). Prints progressive AUC of the one-at-a-time run.
Usage: bench/e2e/sgd.py STREAM.csv
"""
import sys
import time
import warnings

import numpy as np
from sklearn.linear_model import SGDClassifier
from sklearn.metrics import roc_auc_score

warnings.filterwarnings("ignore")
rows = np.genfromtxt(sys.argv[1], delimiter=",", names=True, dtype=None, encoding="utf-8")
countries = sorted(set(rows["country"]))
X = np.column_stack([np.log(rows["amount"]), rows["age"], rows["mobile"], rows["visits"]] +
                    [(rows["country"] == c).astype(float) for c in countries])
y = rows["label"].astype(int)
mu, sd = X[:1000].mean(axis=0), X[:1000].std(axis=0) + 1e-9
X = (X - mu) / sd


def one_at_a_time(n):
    clf = SGDClassifier(loss="log_loss")
    clf.partial_fit(X[:1], y[:1], classes=[0, 1])
    scores = np.empty(n)
    t = time.perf_counter()
    for i in range(n):
        scores[i] = clf.decision_function(X[i : i + 1])[0]
        clf.partial_fit(X[i : i + 1], y[i : i + 1])
    return n / (time.perf_counter() - t), roc_auc_score(y[:n], scores)


def batches(n, b=256):
    clf = SGDClassifier(loss="log_loss")
    clf.partial_fit(X[:b], y[:b], classes=[0, 1])
    t = time.perf_counter()
    for i in range(0, n, b):
        clf.partial_fit(X[i : i + b], y[i : i + b])
    return n / (time.perf_counter() - t)


n1 = min(len(y), 20000)
rate1, auc1 = one_at_a_time(n1)
rate256 = batches(len(y))
print(f"sklearn SGDClassifier.partial_fit, one at a time: {rate1:,.0f} examples/s (progressive AUC {auc1:.3f} over {n1} rows)")
print(f"sklearn SGDClassifier.partial_fit, batches of 256: {rate256:,.0f} examples/s")
