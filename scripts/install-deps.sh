#!/usr/bin/env bash
# Installs what streamlearn's tests and demo need from Debian's packages: redis-server,
# clickhouse-server (+ client), kcat, prometheus (for promtool, which checks and unit-tests the
# alert rules), chromium (headless, for the web console's browser tests) and zookeeper (the keeper
# of ClickHouse's replicated tables in sinks/chsink's tests; it brings a headless JRE). Nothing is
# downloaded from anywhere else.
set -euo pipefail

need=()
command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ] || need+=(redis-server)
command -v clickhouse-server >/dev/null 2>&1 || [ -x /usr/sbin/clickhouse-server ] || need+=(clickhouse-server clickhouse-client)
command -v kcat >/dev/null 2>&1 || need+=(kcat)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || need+=(chromium)
[ -x /usr/share/zookeeper/bin/zkServer.sh ] || need+=(zookeeper)
[ ${#need[@]} -eq 0 ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install-deps: need root (or sudo) to install: ${need[*]}" >&2; exit 1
  fi
fi
echo "install-deps: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# The packages' own post-install scripts may try to start services; that is harmless here.
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
