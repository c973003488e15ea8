#!/usr/bin/env bash
# Starts private Redis and ClickHouse servers for the demo under .demo/ (ports 6399 and 9900),
# or stops them. They keep nothing outside .demo/ and never touch system services.
#   scripts/services.sh start|stop|status
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${STREAMLEARN_DEMO_DIR:-$PWD/.demo}"
redis_port=${STREAMLEARN_DEMO_REDIS_PORT:-6399}
ch_port=${STREAMLEARN_DEMO_CLICKHOUSE_PORT:-9900}
ch_http_port=$((ch_port + 1))

up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start() {
  mkdir -p "$dir/redis" "$dir/clickhouse"
  if ! up "$redis_port"; then
    redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir/redis" \
      --daemonize yes --pidfile "$dir/redis/redis.pid" --logfile "$dir/redis/redis.log"
  fi
  if ! up "$ch_port"; then
    sed -e "s|{{dir}}|$dir/clickhouse|g" -e "s|{{tcp}}|$ch_port|g" -e "s|{{http}}|$ch_http_port|g" \
      deploy/clickhouse/config.xml > "$dir/clickhouse/config.xml"
    cp deploy/clickhouse/users.xml "$dir/clickhouse/users.xml"
    ch=$(command -v clickhouse-server || echo /usr/sbin/clickhouse-server)
    # A session of its own: Ctrl-C in the terminal that runs the demo must not reach the server,
    # which outlives the demo for the queries it prints (redis-server --daemonize does the same).
    setsid "$ch" --config-file="$dir/clickhouse/config.xml" >"$dir/clickhouse/stdout.log" 2>&1 < /dev/null &
    echo $! > "$dir/clickhouse/clickhouse.pid"
  fi
  for _ in $(seq 1 60); do
    up "$redis_port" && up "$ch_port" && { echo "redis 127.0.0.1:$redis_port, clickhouse 127.0.0.1:$ch_port"; return 0; }
    sleep 0.5
  done
  echo "services did not come up; logs in $dir" >&2
  return 1
}

stop() {
  for pid in "$dir/redis/redis.pid" "$dir/clickhouse/clickhouse.pid"; do
    [ -f "$pid" ] && kill "$(cat "$pid")" 2>/dev/null || true
    rm -f "$pid"
  done
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  status) up "$redis_port" && echo "redis up" || echo "redis down"; up "$ch_port" && echo "clickhouse up" || echo "clickhouse down" ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
