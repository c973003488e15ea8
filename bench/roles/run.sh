#!/usr/bin/env bash
# Events/s per core of each role alone (score, join, learn, correlate; GOMAXPROCS=1, one process per
# role), Redis bytes per entity and per pending join, ClickHouse rows and bytes per event, on private
# Redis and ClickHouse servers under a temporary directory. Run from the repository root:
#   bench/roles/run.sh [N] [RUNS]
# Then the Redis memory for 1, 2 and 4 aggregate windows (bytes per entity and window).
set -euo pipefail
n=${1:-100000}
runs=${2:-5}
export STREAMLEARN_DEMO_DIR=$(mktemp -d) STREAMLEARN_DEMO_REDIS_PORT=${REDIS_PORT:-16399} STREAMLEARN_DEMO_CLICKHOUSE_PORT=${CLICKHOUSE_PORT:-19900}
trap 'scripts/services.sh stop; rm -rf "$STREAMLEARN_DEMO_DIR"' EXIT
scripts/services.sh start
make build
bench=(go run ./bench/roles -bin bin/streamlearn -redis 127.0.0.1:$STREAMLEARN_DEMO_REDIS_PORT -clickhouse 127.0.0.1:$STREAMLEARN_DEMO_CLICKHOUSE_PORT
  -redis-pid "$(cat "$STREAMLEARN_DEMO_DIR/redis/redis.pid")" -clickhouse-pid "$(cat "$STREAMLEARN_DEMO_DIR/clickhouse/clickhouse.pid")")
"${bench[@]}" -n "$n" -entities $((n / 10)) -runs "$runs"
for w in 1h 1h,24h 5m,1h,24h,7d; do
  echo "== windows $w"
  "${bench[@]}" -n $((n / 2)) -entities $((n / 20)) -runs 3 -memory-only -windows "$w" | grep 'redis:'
done
