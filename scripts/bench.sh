#!/usr/bin/env bash
# The project's own figures: rocketws-admin bench against a fresh single release node, then against a fresh
# 3-node cluster (subscribers on n2 and n3, emits to n1), then the same cluster with --history-size 100. RUNS
# runs each; prints every run and the medians, and the history gauges (kept messages and their bytes).
#   env: RUNS (3)  SUBS (1000)  MSGS (20000)
set -u
bin=${1:-.build/release}
RUNS=${RUNS:-3}; SUBS=${SUBS:-1000}; MSGS=${MSGS:-20000}
state=$(mktemp -d)
. "$(dirname "$0")/bench-nodes.sh"
trap stop_nodes EXIT
ulimit -n 65536 2>/dev/null || true

start_node() {  # i join [extra flags...]
  local i=$1 join=$2; shift 2
  "$bin/rocketws-node" --node-name "b$i" --ws-conn "127.0.0.1:2680$i" --ms-conn "127.0.0.1:2690$i" \
    --peer-conn "127.0.0.1:2670$i" $join --log-level warning "$@" > "$state/node$i.log" 2>&1 &
  pids+=($!)
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
start_node 1 ""; wait_alive 26901 1 || exit 1
run single-burst ws://127.0.0.1:26801/
run single-notify ws://127.0.0.1:26801/ --notify
stop_nodes

echo "== three nodes (subscribers on n2 and n3, emits to n1)"
start_node 1 ""; start_node 2 "--join 127.0.0.1:26701"; start_node 3 "--join 127.0.0.1:26701"; wait_alive 26901 3 || exit 1
run cluster-burst ws://127.0.0.1:26802/,ws://127.0.0.1:26803/
run cluster-1000ps ws://127.0.0.1:26802/,ws://127.0.0.1:26803/ --rate 1000 --messages 10000
stop_nodes

echo "== three nodes with --history-size 100 (same load: every message numbered by its channel's owner and copied to the backup)"
start_node 1 "" --history-size 100; start_node 2 "--join 127.0.0.1:26701" --history-size 100
start_node 3 "--join 127.0.0.1:26701" --history-size 100; wait_alive 26901 3 || exit 1
run cluster-burst-history ws://127.0.0.1:26802/,ws://127.0.0.1:26803/
run cluster-1000ps-history ws://127.0.0.1:26802/,ws://127.0.0.1:26803/ --rate 1000 --messages 10000
curl -s http://127.0.0.1:26901/metrics http://127.0.0.1:26902/metrics http://127.0.0.1:26903/metrics | grep -E '^rocketws_history_(messages|bytes) ' | tee "$state/history-metrics.txt"
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
