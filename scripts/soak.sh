#!/usr/bin/env bash
# Soak: one release node, CONNECTIONS WebSocket connections (10,000) with subscribe/unsubscribe and reconnect
# churn and emits for SECONDS (300). Samples the node's RSS and open fds every 10 s; passes when RSS is flat after
# the warm-up (last load sample within 10 % + 16 MiB of the one at 60 s), the fds are back near the start once
# everyone disconnected, no client was closed by the node, and the node log has no "error".
#   scripts/soak.sh [SECONDS]     env: CONNECTIONS (10000) CHANNELS (200) EMIT_RATE (100/s) CHURN_RATE (50/s) WARMUP (60 s)
#                                      BIN (.build/release) SKIP_BUILD=1 (use the binary as is)
set -u
seconds=${1:-300}
cd "$(dirname "$0")/.."
bin=${BIN:-.build/release}
CONNECTIONS=${CONNECTIONS:-10000}
state=$(mktemp -d /tmp/rocketws-soak.XXXXXX)
log=$state/node.log

if [ -z "${SKIP_BUILD:-}" ]; then
  echo "soak: swift build -c release"
  swift build -c release 2>&1 | grep -E "error|warning:|Compiling|Build complete" | tail -3
fi
[ -x "$bin/rocketws-node" ] || { echo "soak: no $bin/rocketws-node" >&2; exit 1; }

# Both the node and the driver hold one fd per connection.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
need=$((CONNECTIONS + 1024))
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$need" ]; then
  echo "soak: ulimit -n is $(ulimit -n) (hard $(ulimit -Hn)); $need needed for $CONNECTIONS connections" >&2
  exit 1
fi

ws=${SOAK_WS:-127.0.0.1:27811}; ms=${SOAK_MS:-127.0.0.1:27911}; peer=${SOAK_PEER:-127.0.0.1:27711}
"$bin/rocketws-node" --node-name soak --ws-conn "$ws" --ms-conn "$ms" --peer-conn "$peer" --log-level info >"$log" 2>&1 &
node=$!
trap 'kill -KILL $node 2>/dev/null' EXIT
for _ in $(seq 100); do
  curl -sf "http://$ms/healthz" >/dev/null 2>&1 && break
  kill -0 $node 2>/dev/null || { echo "soak: node exited:"; cat "$log"; exit 1; }
  sleep 0.1
done
echo "soak: node pid $node (ulimit -n $(ulimit -n)), $CONNECTIONS connections for $seconds s; log $log"

python3 scripts/soak_driver.py --pid "$node" --ws "$ws" --ms "$ms" --connections "$CONNECTIONS" --seconds "$seconds" \
  --channels "${CHANNELS:-200}" --emit-rate "${EMIT_RATE:-100}" --churn-rate "${CHURN_RATE:-50}" --warmup "${WARMUP:-60}" --json "$state/soak.json"
driver=$?

kill -TERM $node
status=none
for _ in $(seq 100); do
  kill -0 $node 2>/dev/null || { wait $node; status=$?; break; }
  sleep 0.1
done
trap - EXIT
kill -KILL $node 2>/dev/null
errors=$(grep -ci error "$log")
warnings=$(grep -ci warning "$log")
echo "soak: node log: $(wc -l <"$log") lines, $errors with 'error', $warnings with 'warning'; SIGTERM exit status $status"
[ "$errors" = 0 ] || grep -i error "$log" | head -5
fail=0
[ $driver = 0 ] || fail=1
[ "$errors" = 0 ] || { echo "soak: FAIL: errors in the node log"; fail=1; }
[ "$status" = 0 ] || { echo "soak: FAIL: the node did not exit 0 on SIGTERM ($status)"; fail=1; }
[ $fail = 0 ] && echo "soak: PASS" || echo "soak: FAIL (samples in $state/soak.json)"
exit $fail
