#!/usr/bin/env bash
# The project's own figures: rocketws-admin bench against a fresh single release node, then against a fresh
# 3-node cluster (subscribers on n2 and n3, emits to n1). RUNS runs each; prints every run and the medians.
#   env: RUNS (3)  SUBS (1000)  MSGS (20000)
set -u
bin=${1:-.build/release}
RUNS=${RUNS:-3}; SUBS=${SUBS:-1000}; MSGS=${MSGS:-20000}
state=$(mktemp -d)
pids=()
stop_nodes() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for _ in $(seq 50); do
    alive=0; for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && break; sleep 0.1
  done
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
  pids=()
}
trap stop_nodes EXIT
ulimit -n 65536 2>/dev/null || true

start_node() {  # i join
  local i=$1 join=$2
  "$bin/rocketws-node" --node-name "b$i" --ws-conn "127.0.0.1:2680$i" --ms-conn "127.0.0.1:2690$i" \
    --peer-conn "127.0.0.1:2670$i" $join --log-level warning > "$state/node$i.log" 2>&1 &
  pids+=($!)
}
wait_alive() {  # count
  for _ in $(seq 150); do
    n=$(curl -sf -X POST -d '{"jsonrpc":"2.0","id":1,"method":"cluster_status"}' http://127.0.0.1:26901/ 2>/dev/null |
      python3 -c 'import json,sys; print(sum(m["state"]=="alive" for m in json.load(sys.stdin)["result"]["members"]))' 2>/dev/null)
    [ "$n" = "$1" ] && return 0; sleep 0.1
  done
  echo "bench: nodes did not come up" >&2; return 1
}
run() {  # label ws-urls extra-args...
  local label=$1 ws=$2; shift 2
  for r in $(seq "$RUNS"); do
    "$bin/rocketws-admin" bench --node http://127.0.0.1:26901 --ws "$ws" --subscribers "$SUBS" --messages "$MSGS" --json "$@" \
      | python3 -c "import json,sys; d=json.load(sys.stdin); d['label']='$label'; print(json.dumps(d))" | tee -a "$state/results.jsonl"
    sleep 1
  done
}

echo "== single node ($SUBS subscribers, $MSGS messages, $RUNS runs)"
start_node 1 ""; wait_alive 1 || exit 1
run single-burst ws://127.0.0.1:26801/
run single-notify ws://127.0.0.1:26801/ --notify
stop_nodes

echo "== three nodes (subscribers on n2 and n3, emits to n1)"
start_node 1 ""; start_node 2 "--join 127.0.0.1:26701"; start_node 3 "--join 127.0.0.1:26701"; wait_alive 3 || exit 1
run cluster-burst ws://127.0.0.1:26802/,ws://127.0.0.1:26803/
run cluster-1000ps ws://127.0.0.1:26802/,ws://127.0.0.1:26803/ --rate 1000 --messages 10000
stop_nodes

python3 - "$state/results.jsonl" <<'PY'
import json, statistics, sys, collections
rows = collections.defaultdict(list)
for line in open(sys.argv[1]):
    line = line.strip()
    if line.startswith("{"):
        d = json.loads(line); rows[d["label"]].append(d)
keys = ["deliveries_per_second", "emits_per_second", "p50_ms", "p99_ms", "max_ms", "lost", "duplicated"]
print("| scenario | runs | " + " | ".join(keys) + " |")
print("|---" * (len(keys) + 2) + "|")
for label, rs in rows.items():
    def med(k):
        v = [r.get(k) for r in rs if isinstance(r.get(k), (int, float))]
        return f"{statistics.median(v):.4g}" if v else "n/a"
    print(f"| {label} | {len(rs)} | " + " | ".join(med(k) for k in keys) + " |")
PY
