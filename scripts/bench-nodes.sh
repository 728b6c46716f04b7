# Sourced by the benchmark scripts: the node processes they start (append each PID to `pids`), stopped with
# SIGTERM and, after 5 s, SIGKILL; and a wait for a number of alive members seen through a MessagesSource.
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
wait_alive() {  # MS_PORT COUNT
  for _ in $(seq 150); do
    n=$(curl -sf -X POST -d '{"jsonrpc":"2.0","id":1,"method":"cluster_status"}' "http://127.0.0.1:$1/" 2>/dev/null |
      python3 -c 'import json,sys; print(sum(m["state"]=="alive" for m in json.load(sys.stdin)["result"]["members"]))' 2>/dev/null)
    [ "$n" = "$2" ] && return 0; sleep 0.1
  done
  echo "bench: nodes did not come up" >&2; return 1
}
