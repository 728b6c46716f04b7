#!/usr/bin/env bash
# Messages/s from a RabbitMQ queue to WebSocket subscribers on a 3-node cluster, beside the HTTP source on the
# same nodes in the same run. A throwaway broker (scripts/amqp-broker.sh) and three nodes consuming one queue;
# SUBS subscribers per node (rocketws-admin listen); pika publishes MSGS emits (one per AMQP message, then in
# JSON-RPC batches of 10) and the clock runs until the nodes' rocketws_messages_out_total says every subscriber
# got every message. Then `rocketws-admin bench` emits MSGS over HTTP to n1 with the same subscriber count.
# RUNS runs each; prints each run and the medians. Not part of `make test`.
#   scripts/amqp-bench.sh [bin-dir]     env: RUNS (3) MSGS (20000) SUBS (3)
set -u
bin=${1:-.build/release}
RUNS=${RUNS:-3}; MSGS=${MSGS:-20000}; SUBS=${SUBS:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
state=$(mktemp -d)
python=$("$root/scripts/amqp-venv.sh") || exit 1
port=25872
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
  sleep 1
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
  "$root/scripts/amqp-broker.sh" stop "$state/broker"
  rm -rf "$state"
}
trap cleanup EXIT
"$root/scripts/amqp-broker.sh" start "$state/broker" $port $((port + 1)) $((port + 2)) || exit 1
url="amqp://guest:guest@127.0.0.1:$port/"
for i in 1 2 3; do
  join=""; [ $i -gt 1 ] && join="--join 127.0.0.1:26771"
  "$bin/rocketws-node" --node-name "q$i" --ws-conn "127.0.0.1:2687$i" --ms-conn "127.0.0.1:2697$i" --peer-conn "127.0.0.1:2677$i" \
    $join --amqp-url "$url" --amqp-queue bench --log-level warning >"$state/node$i.log" 2>&1 &
  pids+=($!)
done
for _ in $(seq 150); do
  c=0; for i in 1 2 3; do curl -sf "http://127.0.0.1:2697$i/metrics" | grep -q '^rocketws_amqp_connected 1' && c=$((c + 1)); done
  [ $c = 3 ] && break; sleep 0.2
done
[ $c = 3 ] || { echo "amqp-bench: nodes did not consume"; tail "$state"/node*.log; exit 1; }
for i in 1 2 3; do for s in $(seq "$SUBS"); do
  "$bin/rocketws-admin" listen --ws "ws://127.0.0.1:2687$i/" qbench >/dev/null 2>&1 &
  pids+=($!)
done; done
for _ in $(seq 300); do
  n=0; for i in 1 2 3; do v=$(curl -sf "http://127.0.0.1:2697$i/metrics" | awk '$1=="rocketws_subscriptions"{print int($2)}'); n=$((n + ${v:-0})); done
  [ $n -ge $((SUBS * 3)) ] && break; sleep 0.1
done
[ $n -ge $((SUBS * 3)) ] || { echo "amqp-bench: subscribers did not subscribe"; exit 1; }
delivered() {
  local sum=0 v
  for i in 1 2 3; do
    v=$(curl -sf "http://127.0.0.1:2697$i/metrics" | awk '$1=="rocketws_messages_out_total"{print int($2)}')
    sum=$((sum + ${v:-0}))
  done
  echo $sum
}
amqp_run() {  # batch
  local base target t0 t1
  base=$(delivered); target=$((base + MSGS * SUBS * 3))
  t0=$(date +%s.%N)
  "$python" "$root/scripts/amqp_publish.py" --port $port --queue bench emit --channel qbench --count "$MSGS" --batch "$1" || return 1
  tp=$(date +%s.%N)
  for _ in $(seq 1200); do [ "$(delivered)" -ge $target ] && break; sleep 0.05; done
  t1=$(date +%s.%N)
  python3 -c "print('amqp batch=$1: %.0f msg/s from the queue (%.0f deliveries/s to $((SUBS * 3)) subscribers); pika published at %.0f msg/s' % ($MSGS/($t1-$t0), $MSGS*$SUBS*3/($t1-$t0), $MSGS/($tp-$t0)))" | tee -a "$state/results"
}
for r in $(seq "$RUNS"); do amqp_run 1; done
for r in $(seq "$RUNS"); do amqp_run 10; done
for r in $(seq "$RUNS"); do
  "$bin/rocketws-admin" bench --node http://127.0.0.1:26971 --ws "ws://127.0.0.1:26871/,ws://127.0.0.1:26872/,ws://127.0.0.1:26873/" \
    --subscribers $((SUBS * 3)) --messages "$MSGS" --channel hbench --json |
    python3 -c "import json,sys; d=json.load(sys.stdin); print('http: %.0f msg/s emitted (%.0f deliveries/s to %d subscribers)' % (d.get('messages_per_second', d.get('emits_per_second', 0)), d.get('deliveries_per_second', 0), $SUBS*3)); print(json.dumps(d), file=sys.stderr)" 2>>"$state/http.json" | tee -a "$state/results"
done
echo "--- medians"
python3 - "$state/results" <<'PY'
import re, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    label = line.split(":")[0]
    rows.setdefault(label, []).append(float(re.search(r"([0-9.]+) msg/s", line).group(1)))
for label, values in rows.items():
    print(f"{label}: median {statistics.median(values):.0f} msg/s over {len(values)} runs")
PY
head -c 600 "$state/http.json"; echo
