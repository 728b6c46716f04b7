#!/usr/bin/env bash
# Latency against load on one fresh release node: rocketws-admin bench --mode sweep (one subscriber at
# 10 msg/s, then SUBS subscribers at each of RATES msg/s for SECONDS each, then a burst of MSGS), written
# as JSON for scripts/plot-latency.py.
#   usage: scripts/sweep.sh [BIN_DIR] [OUT.json] [LABEL]     env: SUBS (100) RATES (100,1000,5000) STEP_SECONDS (5) MSGS (20000)
set -u
bin=${1:-.build/release}; out=${2:-sweep.json}; label=${3:-rocketws}
SUBS=${SUBS:-100}; RATES=${RATES:-100,1000,5000}; SECONDS_EACH=${STEP_SECONDS:-5}; MSGS=${MSGS:-20000}
state=$(mktemp -d)
pid=
stop_node() {
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null; pid=
}
trap stop_node EXIT
ulimit -n 65536 2>/dev/null || true
"$bin/rocketws-node" --node-name s1 --ws-conn 127.0.0.1:26811 --ms-conn 127.0.0.1:26911 \
  --peer-conn 127.0.0.1:26711 --log-level warning > "$state/node.log" 2>&1 &
pid=$!
for _ in $(seq 150); do
  curl -sf -X POST -d '{"jsonrpc":"2.0","id":1,"method":"cluster_status"}' http://127.0.0.1:26911/ >/dev/null 2>&1 && break
  sleep 0.1
done
"$bin/rocketws-admin" bench --node http://127.0.0.1:26911 --ws ws://127.0.0.1:26811/ --mode sweep \
  --subscribers "$SUBS" --rates "$RATES" --seconds "$SECONDS_EACH" --messages "$MSGS" --label "$label" --json > "$out" || exit 1
python3 - "$out" <<'PY'
import json, sys
for s in json.load(open(sys.argv[1]))["steps"]:
    print(f'{s["step"]:>8}: {s["subscribers"]} subscribers, p50 {s["p50_ms"]} ms, p99 {s["p99_ms"]} ms, '
          f'{s["deliveries_per_second"]:.0f} deliveries/s, lost {s["lost"]}, dup {s["duplicated"]}')
PY
