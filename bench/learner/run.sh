#!/bin/sh
# Learner (CPU) benchmarks: the Go hot paths on one core, then scikit-learn's numbers for comparison.
# Run from the repository root: bench/learner/run.sh [count]   (results: docs/BENCHMARKS.md)
set -eu
count=${1:-5}
out=$(mktemp)
go test -run '^$' -bench . -benchmem -cpu 1 -count "$count" ./learner/ | tee "$out"
/usr/bin/python3 - "$out" <<'PY'
import collections, re, statistics, sys
runs = collections.defaultdict(lambda: collections.defaultdict(list))
for line in open(sys.argv[1]):
    m = re.match(r"^(Benchmark\S+)\s+\d+\s+(.*)$", line)
    if m:
        for value, unit in re.findall(r"([\d.]+) (\S+)", m.group(2)):
            runs[m.group(1)][unit].append(float(value))
print("\n| benchmark | ns/op | examples/s | allocs/op | (median of %d)" % max(len(u["ns/op"]) for u in runs.values()))
print("|---|---|---|---|")
for name, units in runs.items():
    med = lambda u: statistics.median(units[u]) if units[u] else float("nan")
    print("| %s | %.0f | %.0f | %.0f |" % (name, med("ns/op"), med("examples/s"), med("allocs/op")))
PY
rm -f "$out"
/usr/bin/python3 bench/learner/compare.py
