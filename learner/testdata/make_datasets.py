#!/usr/bin/python3
"""Exports the real tabular data sets of the quality tests to CSV (label first, 1 = positive class).

Sources: R's mlbench (Pima Indians diabetes, Ionosphere, 1984 House votes) and scikit-learn's bundled
Wisconsin breast cancer set. Rows are shuffled once with a fixed seed, so the stream order is fixed.
Run from this directory: ./make_datasets.py
"""
import csv
import io
import subprocess

import numpy as np
from sklearn.datasets import load_breast_cancer

R_EXPORT = """
suppressMessages(library(mlbench))
data(list = "%s")
d <- get("%s")
write.csv(d, stdout(), row.names = FALSE, na = "")
"""


def from_r(name):
    out = subprocess.run(["Rscript", "-e", R_EXPORT % (name, name)], check=True, capture_output=True, text=True)
    rows = list(csv.reader(io.StringIO(out.stdout)))
    return rows[0], rows[1:]


def fmt(v):
    try:
        return "%.6g" % float(v)
    except ValueError:
        return v


def write(name, header, rows, seed=42):
    order = np.random.RandomState(seed).permutation(len(rows))
    with open(name + ".csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for i in order:
            w.writerow(rows[i])


def pima():
    h, rows = from_r("PimaIndiansDiabetes")
    y = h.index("diabetes")
    feats = [i for i in range(len(h)) if i != y]
    write("pima", ["label"] + [h[i] for i in feats],
          [[int(r[y] == "pos")] + [fmt(r[i]) for i in feats] for r in rows])


def ionosphere():
    h, rows = from_r("Ionosphere")
    y = h.index("Class")
    feats = [i for i in range(len(h)) if i != y and h[i] != "V2"]  # V2 is constant
    write("ionosphere", ["label"] + [h[i] for i in feats],
          [[int(r[y] == "good")] + [fmt(r[i]) for i in feats] for r in rows])


def house_votes():
    h, rows = from_r("HouseVotes84")
    y = h.index("Class")
    feats = [i for i in range(len(h)) if i != y]
    # The votes are categorical: "y", "n" or missing (empty).
    write("house_votes", ["label"] + [h[i] for i in feats],
          [[int(r[y] == "republican")] + [r[i] for i in feats] for r in rows])


def breast_cancer():
    d = load_breast_cancer()
    names = [n.replace(" ", "_") for n in d.feature_names]
    write("breast_cancer", ["label"] + names,
          [[int(t)] + [fmt(v) for v in x] for x, t in zip(d.data, d.target)])


if __name__ == "__main__":
    pima()
    ionosphere()
    house_votes()
    breast_cancer()
