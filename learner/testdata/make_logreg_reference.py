#!/usr/bin/python3
"""Writes the reference for the learner's convergence test: a fixed logistic data set (logreg.csv:
label, x1..x5, inputs already standardized) and the coefficients scikit-learn's offline
LogisticRegression finds on it without a penalty (logreg_sklearn.csv: name, value; intercept first).
Run from this directory: ./make_logreg_reference.py
"""
import csv

import numpy as np
from sklearn.linear_model import LogisticRegression

r = np.random.RandomState(7)
n, d = 1000, 5
X = r.randn(n, d)
X[:, 1] += 0.5 * X[:, 0]  # some correlation between inputs
X = (X - X.mean(axis=0)) / X.std(axis=0)
X = np.array([[float("%.6g" % v) for v in row] for row in X])  # exactly what the CSV holds
true = np.array([1.5, -1.0, 0.5, 0.0, 2.0])
y = (r.rand(n) < 1 / (1 + np.exp(-(X @ true - 0.3)))).astype(int)

with open("logreg.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["label"] + ["x%d" % (j + 1) for j in range(d)])
    for xi, yi in zip(X, y):
        w.writerow([yi] + ["%.6g" % v for v in xi])

model = LogisticRegression(penalty=None, tol=1e-12, max_iter=100000).fit(X, y)
with open("logreg_sklearn.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["name", "value"])
    w.writerow(["intercept", "%.17g" % model.intercept_[0]])
    for j, c in enumerate(model.coef_[0]):
        w.writerow(["x%d" % (j + 1), "%.17g" % c])
