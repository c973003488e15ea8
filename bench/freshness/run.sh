#!/usr/bin/env bash
# Model freshness through the binary (issue 13): runs `streamlearn demo` for 60 s at RATE events/s
# with CONFIG, scrapes /metrics at 57 s, and prints, from the debug log of every swap (version or
# weight delta, with the arrival of the newest example it learned), how long examples wait from
# their arrival on the examples topic to the first served weights that learned them.
#   bench/freshness/run.sh RATE CONFIG NAME [REDIS] [CLICKHOUSE] [HTTP]
# The drift of the synthetic stream is moved past the run: a retrain replays history in the
# learner's loop and would stall deltas and versions alike.
set -euo pipefail
rate=$1 cfg=$2 name=$3
redis=${4:-127.0.0.1:6399} ch=${5:-127.0.0.1:9900} http=${6:-127.0.0.1:18411}
bin=${STREAMLEARN_BIN:-streamlearn}
"$bin" demo --config "$cfg" --redis "$redis" --clickhouse "$ch" --http "$http" --rate "$rate" \
  --duration 60s --drift-at 1000000000 --log-level debug > "$name.out" 2> "$name.err" &
pid=$!
sleep 57
curl -s "http://$http/metrics" > "$name.metrics"
uptime > "$name.load"
wait $pid
python3 "$(dirname "$0")/freshness.py" "$name.err" 10 | tee "$name.fresh"
