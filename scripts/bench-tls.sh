#!/usr/bin/env bash
# What the encrypted mesh costs: `rocketws-admin bench --mesh` over TLS beside plaintext (one link, frames/s and
# CPU per frame), then the 3-node burst (subscribers on n2 and n3, emits to n1) with the mesh over TLS beside
# h2c, alternating. Certificates are made with openssl in a temporary folder. RUNS runs each; prints medians.
#   usage: scripts/bench-tls.sh [BIN_DIR]   env: RUNS (3)  SUBS (1000)  MSGS (20000)  FRAMES (2000000)
set -u
bin=${1:-.build/release}
RUNS=${RUNS:-3}; SUBS=${SUBS:-1000}; MSGS=${MSGS:-20000}; FRAMES=${FRAMES:-2000000}
state=$(mktemp -d)
. "$(dirname "$0")/bench-nodes.sh"
trap 'stop_nodes; rm -rf "$state"' EXIT
ulimit -n 65536 2>/dev/null || true

# A CA and one certificate for 127.0.0.1 that every node and the mesh bench use.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$state/ca.key" -out "$state/ca.pem" \
  -days 1 -subj /CN=bench-ca 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$state/node.key" -out "$state/node.csr" \
  -subj /CN=bench-node 2>/dev/null
printf 'extendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=IP:127.0.0.1\n' > "$state/node.ext"
openssl x509 -req -in "$state/node.csr" -CA "$state/ca.pem" -CAkey "$state/ca.key" -CAcreateserial -days 1 \
  -extfile "$state/node.ext" -out "$state/node.pem" 2>/dev/null
tls=(--peer-tls-cert "$state/node.pem" --peer-tls-key "$state/node.key" --peer-tls-ca "$state/ca.pem")

echo "== bench --mesh, one link, 100-byte frames ($FRAMES frames, $RUNS runs each, alternating)"
for r in $(seq "$RUNS"); do
  echo "plain: $("$bin/rocketws-admin" bench --mesh --frames "$FRAMES")"
  echo "tls:   $("$bin/rocketws-admin" bench --mesh --frames "$FRAMES" "${tls[@]}")"
done | tee "$state/mesh.txt"

start_cluster() {  # extra node args...
  local i join=""
  for i in 1 2 3; do
    [ $i -gt 1 ] && join="--join 127.0.0.1:26711"
    "$bin/rocketws-node" --node-name "t$i" --ws-conn "127.0.0.1:2681$i" --ms-conn "127.0.0.1:2691$i" \
      --peer-conn "127.0.0.1:2671$i" --advertise "127.0.0.1:2671$i" $join --log-level warning "$@" > "$state/node$i.log" 2>&1 &
    pids+=($!)
  done
  wait_alive 26911 3
}
burst() {  # label
  "$bin/rocketws-admin" bench --node http://127.0.0.1:26911 --ws ws://127.0.0.1:26812/,ws://127.0.0.1:26813/ \
    --subscribers "$SUBS" --messages "$MSGS" --json |
    python3 -c "import json,sys; d=json.load(sys.stdin); d['label']='$1'; print(json.dumps(d))" | tee -a "$state/results.jsonl"
}
echo "== three nodes, burst of $MSGS emits to n1, $SUBS subscribers on n2 and n3 (alternating h2c / TLS)"
for r in $(seq "$RUNS"); do
  start_cluster || exit 1; burst burst-h2c; stop_nodes; sleep 1
  start_cluster "${tls[@]}" || exit 1; burst burst-tls; stop_nodes; sleep 1
done

python3 - "$state/results.jsonl" "$state/mesh.txt" <<'PY'
import json, re, statistics, sys, collections
rows = collections.defaultdict(list)
for line in open(sys.argv[1]):
    if line.strip().startswith("{"):
        d = json.loads(line); rows[d["label"]].append(d)
mesh = collections.defaultdict(lambda: collections.defaultdict(list))
for line in open(sys.argv[2]):
    m = re.match(r"(\w+):.* (\d+) frames/s, (\d+) MB/s, (\d+) ns CPU per frame", line)
    if m:
        mesh[m[1]]["frames/s"].append(int(m[2])); mesh[m[1]]["ns CPU/frame"].append(int(m[4]))
print("| mesh link | frames/s (median) | ns CPU per frame (median) |\n|---|---|---|")
for k, v in mesh.items():
    print(f"| {k} | {statistics.median(v['frames/s']):,.0f} | {statistics.median(v['ns CPU/frame']):.0f} |")
print("\n| 3-node burst | runs | deliveries/s (median) | p50 ms | p99 ms | lost | duplicated |\n|---|---|---|---|---|---|---|")
for label, rs in rows.items():
    med = lambda k: statistics.median([r[k] for r in rs if isinstance(r.get(k), (int, float))] or [0])
    print(f"| {label} | {len(rs)} | {med('deliveries_per_second'):,.0f} | {med('p50_ms'):.3g} | {med('p99_ms'):.3g} | {med('lost'):.0f} | {med('duplicated'):.0f} |")
PY
