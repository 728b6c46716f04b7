#!/usr/bin/env bash
# Three local nodes joined together, in the foreground. Ctrl-C stops all three.
#   n1: ws 58001  ms 59901  peer 57701      n2: 58002 59902 57702      n3: 58003 59903 57703
set -u
bin=${1:-.build/release}
pids=()
stop() {
  trap - INT TERM EXIT
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
  wait "${pids[@]}" 2>/dev/null
  echo "cluster stopped"
}
trap stop INT TERM EXIT
for i in 1 2 3; do
  join=""
  [ "$i" -gt 1 ] && join="--join 127.0.0.1:57701"
  "$bin/rocketws-node" --node-name "n$i" --ws-conn "127.0.0.1:5800$i" --ms-conn "127.0.0.1:5990$i" \
    --peer-conn "127.0.0.1:5770$i" $join ${ROCKETWS_CLUSTER_ARGS:-} > >(sed -u "s/^/[n$i] /") 2>&1 &
  pids+=($!)
done
echo "3-node cluster: WebSocket ws://127.0.0.1:58001-58003/, MessagesSource http://127.0.0.1:59901-59903/ (Ctrl-C stops)"
wait
