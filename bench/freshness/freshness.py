#!/usr/bin/env python3
"""Example arrival -> first served by weights that learned it, from streamlearn's debug log
("model swapped" lines: time, version, delta, arrived_to). bench/freshness/run.sh runs it.

    freshness.py LOG [SKIP_SECONDS]

Examples are taken to arrive uniformly between two consecutive cuts (arrived_to of the weights
served); each waits from its arrival to the serve of the first weights whose cut covers it."""
import re, sys
from datetime import datetime

def ts(s):
    s = s.rstrip('Z')
    return datetime.fromisoformat(s).timestamp()

rows = []
for line in open(sys.argv[1]):
    if 'msg="model swapped"' not in line:
        continue
    m = re.search(r'time=(\S+) .* version=(\d+) delta=(\d+) arrived_to=(\S+)', line)
    if not m or m.group(4).startswith('0001'):
        continue
    rows.append((ts(m.group(1)), int(m.group(2)), int(m.group(3)), ts(m.group(4))))
skip = float(sys.argv[2]) if len(sys.argv) > 2 else 10.0
t0 = rows[0][0]
waits, lat = [], []
prev = None
versions = deltas = 0
for served, v, d, arr in rows:
    if prev is not None and arr <= prev:
        continue
    if prev is not None and served - t0 >= skip:
        versions += d == 0
        deltas += d > 0
        lat.append(served - arr)
        a = prev
        while a < arr:  # 1 ms steps
            a += 0.001
            waits.append(served - min(a, arr))
    prev = arr
waits.sort(); lat.sort()
q = lambda xs, p: xs[min(len(xs) - 1, int(p * len(xs)))]
span = rows[-1][0] - t0 - skip
print(f"serves {versions} versions + {deltas} deltas in {span:.0f}s (one every {span/max(1,versions+deltas):.2f}s); "
      f"newest example->served p50 {q(lat,.5):.3f} p99 {q(lat,.99):.3f} max {lat[-1]:.3f}; "
      f"example arrival->first served p50 {q(waits,.5):.3f} p99 {q(waits,.99):.3f} max {waits[-1]:.3f}")
