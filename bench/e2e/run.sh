#!/bin/sh
# End-to-end examples/s through Kafka next to scikit-learn's partial_fit on the same stream.
# Needs the demo's services (scripts/services.sh start). Run from the repository root.
set -eu
n=${1:-100000}
csv=$(mktemp --suffix .csv)
go run ./bench/e2e -n "$n" -export "$csv"
go run ./bench/e2e -n "$n" -runs 3 -redis 127.0.0.1:6399 -clickhouse 127.0.0.1:9900
/usr/bin/python3 bench/e2e/sgd.py "$csv"
rm -f "$csv"
