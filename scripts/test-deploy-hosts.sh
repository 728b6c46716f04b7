#!/usr/bin/env bash
# deploy/supervisor/rocketws.conf and deploy/systemd/rocketws-node.service for real, as far as this machine
# allows (no systemd as PID 1 here):
#   supervisor: Debian's supervisord runs the program section, with only its paths and addresses adapted
#     (the binary under test, loopback ports, a log in a temp folder), as its user=rocketws; the node serves
#     (WebSocket subscribe + emit with the key, 401 without), runs as that uid, and `supervisorctl stop`
#     ends it with exit status 0;
#   systemd: `systemd-analyze verify` of the unit as shipped and of a copy pointing at the binary under test;
#     then the unit's ExecStart is run the way systemd would: as its User=/Group=, with its EnvironmentFile
#     (the variables the unit documents, on loopback), NoNewPrivileges, no capabilities, its LimitNOFILE where
#     this machine lets root raise it; it serves, and its KillSignal ends it with exit 0 within TimeoutStopSec.
#
#   test-deploy-hosts.sh BIN_DIR     (BIN_DIR holds rocketws-node; default .build/release, else .build/debug)
# Creates the system user rocketws when missing, installs supervisor when missing (apt). Needs root.
# Prints PASS/FAIL lines and "N passed, M failed"; exit 1 when something failed.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bin_dir=${1:-}
if [ -z "$bin_dir" ]; then
    for candidate in "$root/.build/release" "$root/.build/debug"; do
        [ -x "$candidate/rocketws-node" ] && { bin_dir=$candidate; break; }
    done
fi
passed=0
failed=0
pass() { echo "PASS: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
finish() { echo "$passed passed, $failed failed"; [ "$failed" -eq 0 ]; exit $?; }
[ -n "$bin_dir" ] && [ -x "$bin_dir/rocketws-node" ] || { fail "no rocketws-node binary (give BIN_DIR or build first)"; finish; }
[ "$(id -u)" = 0 ] || { fail "needs root (creates a user, switches to it)"; finish; }

work=$(mktemp -d "${TMPDIR:-/tmp}/rocketws-hosts.XXXXXX")
supervisord_conf=""
node_pid=""
cleanup() {
    [ -n "$supervisord_conf" ] && supervisorctl -c "$supervisord_conf" shutdown >/dev/null 2>&1
    [ -n "$node_pid" ] && kill "$node_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
# The node runs as rocketws: it must be able to reach its binary.
chmod 755 "$work"
mkdir -m 755 "$work/bin"
install -m 0755 "$bin_dir/rocketws-node" "$work/bin/rocketws-node"
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

if ! id rocketws >/dev/null 2>&1; then
    # As deploy/README.md and the unit's header tell an operator to.
    useradd --system --no-create-home --shell /usr/sbin/nologin rocketws && echo "created the system user rocketws"
fi
rocketws_uid=$(id -u rocketws)

uid_of() { awk '/^Uid:/ {print $2 "/" $3 "/" $4 "/" $5}' "/proc/$1/status" 2>/dev/null; }
caps_of() { awk '/^CapEff:/ {print $2}' "/proc/$1/status" 2>/dev/null; }

# ---- supervisor ----------------------------------------------------------------------------------------------
if ! command -v supervisord >/dev/null; then
    echo "installing supervisor"
    apt-get update -q >/dev/null 2>&1
    # Debian's package would start its own supervisord where an init system runs: keep it from doing so.
    printf '#!/bin/sh\nexit 101\n' >"$work/policy-rc.d"; chmod +x "$work/policy-rc.d"
    [ -e /usr/sbin/policy-rc.d ] || { cp "$work/policy-rc.d" /usr/sbin/policy-rc.d; own_policy=1; }
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q supervisor >/dev/null 2>&1
    [ "${own_policy:-0}" = 1 ] && rm -f /usr/sbin/policy-rc.d
fi
if command -v supervisord >/dev/null; then
    ws=$(free_port); ms=$(free_port); peer=$(free_port)
    mkdir -p "$work/conf.d"
    # Only paths and addresses change; user=, environment=, stop settings stay as shipped.
    sed -e "s|^command=/usr/local/bin/rocketws-node|command=$work/bin/rocketws-node|" \
        -e "s|--ws-conn [^ ]*|--ws-conn 127.0.0.1:$ws|" -e "s|--ms-conn [^ ]*|--ms-conn 127.0.0.1:$ms|" \
        -e "s|--peer-conn [^ ]*|--peer-conn 127.0.0.1:$peer|" -e "s|--advertise [^ ]*|--advertise 127.0.0.1:$peer|" \
        -e "s|--join [^ ]*|--join 127.0.0.1:$peer|" -e "s|^stdout_logfile=.*|stdout_logfile=$work/rocketws.log|" \
        "$root/deploy/supervisor/rocketws.conf" >"$work/conf.d/rocketws.conf"
    api_key=$(sed -n 's/.*ROCKETWS_API_KEY="\([^"]*\)".*/\1/p' "$work/conf.d/rocketws.conf")
    supervisord_conf=$work/supervisord.conf
    cat >"$supervisord_conf" <<EOF
[unix_http_server]
file=$work/supervisor.sock
chmod=0700
[supervisord]
logfile=$work/supervisord.log
pidfile=$work/supervisord.pid
childlogdir=$work
[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
[supervisorctl]
serverurl=unix://$work/supervisor.sock
[include]
files=$work/conf.d/*.conf
EOF
    if supervisord -c "$supervisord_conf"; then
        for _ in $(seq 1 50); do
            supervisorctl -c "$supervisord_conf" status rocketws 2>/dev/null | grep -q RUNNING && break; sleep 0.2
        done
        state=$(supervisorctl -c "$supervisord_conf" status rocketws 2>&1)
        if grep -q RUNNING <<<"$state"; then
            pass "supervisord ($(supervisord --version)) runs deploy/supervisor/rocketws.conf: $state"
            pid=$(supervisorctl -c "$supervisord_conf" pid rocketws)
            uids=$(uid_of "$pid")
            [ "$uids" = "$rocketws_uid/$rocketws_uid/$rocketws_uid/$rocketws_uid" ] &&
                pass "supervisor: the node (pid $pid) runs as rocketws (uid $rocketws_uid)" ||
                fail "supervisor: the node runs as uid $uids, not rocketws ($rocketws_uid)"
            python3 "$root/scripts/node_serves.py" --ws-port "$ws" --ms-port "$ms" --api-key "$api_key" --label supervisor \
                >"$work/serves.log"; cat "$work/serves.log"
            passed=$((passed + $(grep -c '^PASS' "$work/serves.log"))); failed=$((failed + $(grep -c '^FAIL' "$work/serves.log")))
            supervisorctl -c "$supervisord_conf" stop rocketws >/dev/null 2>&1
            if grep -q 'stopped: rocketws (exit status 0)' "$work/supervisord.log"; then
                pass "supervisorctl stop: the node exits with status 0 ($(grep -o 'stopped: rocketws.*' "$work/supervisord.log" | tail -1))"
            else
                fail "supervisorctl stop: $(grep rocketws "$work/supervisord.log" | tail -2)"
            fi
        else
            fail "supervisor: rocketws is not RUNNING: $state"; tail -20 "$work/rocketws.log" 2>/dev/null
        fi
        supervisorctl -c "$supervisord_conf" shutdown >/dev/null 2>&1
        supervisord_conf=""
    else
        fail "supervisord -c $supervisord_conf did not start"
    fi
else
    fail "supervisor could not be installed"
fi

# ---- systemd ---------------------------------------------------------------------------------------------------
unit=$root/deploy/systemd/rocketws-node.service
value_of() { sed -n "s/^$1=//p" "$unit" | tail -1; }
user=$(value_of User); group=$(value_of Group); exec_start=$(value_of ExecStart); env_file=$(value_of EnvironmentFile)
limit=$(value_of LimitNOFILE); kill_signal=$(value_of KillSignal); stop_timeout=$(value_of TimeoutStopSec)
if ! command -v systemd-analyze >/dev/null; then
    echo "installing systemd (for systemd-analyze)"
    apt-get update -q >/dev/null 2>&1; DEBIAN_FRONTEND=noninteractive apt-get install -y -q systemd >/dev/null 2>&1
fi
if command -v systemd-analyze >/dev/null; then
    # As shipped: the only complaint allowed is the binary that is not installed at its path on this machine.
    complaints=$(systemd-analyze verify "$unit" 2>&1 | grep -v -e "Command ${exec_start%% *} is not executable" -e '^$')
    [ -z "$complaints" ] && pass "systemd-analyze verify deploy/systemd/rocketws-node.service (binary not installed here)" ||
        fail "systemd-analyze verify: $complaints"
    # A copy pointing at the binary under test and an existing EnvironmentFile: no complaint at all.
    sed -e "s|^ExecStart=${exec_start%% *}|ExecStart=$work/bin/rocketws-node|" -e "s|^EnvironmentFile=.*|EnvironmentFile=$work/node.env|" \
        "$unit" >"$work/rocketws-node.service"
    : >"$work/node.env"
    if out=$(systemd-analyze verify "$work/rocketws-node.service" 2>&1) && [ -z "$out" ]; then
        pass "systemd-analyze verify: the unit with the binary in place has no complaint"
    else
        fail "systemd-analyze verify (binary in place): $out"
    fi
else
    fail "systemd-analyze not available"
fi

# ExecStart as User=, with the EnvironmentFile the unit's header documents (its ROCKETWS_* lines, on loopback).
ws=$(free_port); ms=$(free_port); peer=$(free_port); api_key=key-$RANDOM$RANDOM
sed -n 's/^#   \(ROCKETWS_[A-Z_]*\)=.*/\1/p' "$unit" | while read -r name; do
    case $name in
        ROCKETWS_NODE_NAME) echo "$name=ws1" ;;
        ROCKETWS_ADVERTISE|ROCKETWS_JOIN|ROCKETWS_PEER_CONN) echo "$name=127.0.0.1:$peer" ;;
        ROCKETWS_WS_CONN) echo "$name=127.0.0.1:$ws" ;;
        ROCKETWS_MS_CONN) echo "$name=127.0.0.1:$ms" ;;
        ROCKETWS_CLUSTER_SECRET) echo "$name=secret-$RANDOM$RANDOM" ;;
        ROCKETWS_API_KEY) echo "$name=$api_key" ;;
        *) echo "unexpected documented variable $name" >&2 ;;
    esac
done >"$work/node.env"
echo "  EnvironmentFile ($env_file) for the run: $(sed 's/SECRET=.*/SECRET=.../; s/API_KEY=.*/API_KEY=.../' "$work/node.env" | tr '\n' ' ')"
[ "$(wc -l <"$work/node.env")" -ge 8 ] || fail "the unit documents fewer ROCKETWS_* variables than a node needs"
mapfile -t environment < <(grep -v '^#' "$work/node.env")
exec_line=${exec_start/${exec_start%% *}/$work/bin/rocketws-node}
limit_note="LimitNOFILE=$limit applied"
limiter=(prlimit "--nofile=$limit:$limit" --)
if ! prlimit "--nofile=$limit:$limit" -- true 2>/dev/null; then
    limiter=()
    limit_note="LimitNOFILE=$limit not applicable here (root cannot raise the hard limit above $(ulimit -Hn) in this sandbox)"
fi
no_new_privs=()
[ "$(value_of NoNewPrivileges)" = yes ] && no_new_privs=(--no-new-privs)
# shellcheck disable=SC2086
"${limiter[@]}" setpriv --reuid="$user" --regid="$group" --init-groups "${no_new_privs[@]}" --inh-caps=-all --bounding-set=-all \
    env -i PATH=/usr/bin:/bin "${environment[@]}" $exec_line >"$work/systemd-node.log" 2>&1 &
node_pid=$!
sleep 1
uids=$(uid_of "$node_pid")
if [ -n "$uids" ]; then
    [ "$uids" = "$rocketws_uid/$rocketws_uid/$rocketws_uid/$rocketws_uid" ] && [ "$(caps_of "$node_pid")" = 0000000000000000 ] &&
        pass "systemd unit: ExecStart runs as User=$user (uid $rocketws_uid), no capabilities; $limit_note" ||
        fail "systemd unit: ExecStart runs as uid $uids, capabilities $(caps_of "$node_pid")"
    python3 "$root/scripts/node_serves.py" --ws-port "$ws" --ms-port "$ms" --api-key "$api_key" --label "systemd ExecStart" \
        >"$work/serves.log"; cat "$work/serves.log"
    passed=$((passed + $(grep -c '^PASS' "$work/serves.log"))); failed=$((failed + $(grep -c '^FAIL' "$work/serves.log")))
    start=$(date +%s%N)
    kill -s "${kill_signal#SIG}" "$node_pid"
    timeout_s=${stop_timeout%s}
    for _ in $(seq 1 $((timeout_s * 10))); do kill -0 "$node_pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$node_pid" 2>/dev/null; then
        fail "systemd unit: the node is still running ${timeout_s} s after $kill_signal"; kill -9 "$node_pid"
    else
        wait "$node_pid"; rc=$?
        took=$(( ($(date +%s%N) - start) / 1000000 ))
        [ "$rc" = 0 ] && pass "systemd unit: $kill_signal ends the node with exit 0 in $took ms (TimeoutStopSec=$stop_timeout)" ||
            fail "systemd unit: exit code $rc after $kill_signal"
    fi
    node_pid=""
else
    fail "systemd unit: ExecStart did not start: $(tail -5 "$work/systemd-node.log")"
    node_pid=""
fi
finish
