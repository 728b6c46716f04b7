#!/usr/bin/env bash
# A throwaway RabbitMQ broker (Debian's rabbitmq-server) on loopback for the AMQP tests and benchmark: its own
# node name, ports, data, logs, cookie and epmd under DIR, nothing of the system's service touched.
#
#   scripts/amqp-broker.sh start DIR AMQP_PORT DIST_PORT EPMD_PORT   start in the background, wait until AMQP accepts
#   scripts/amqp-broker.sh stop DIR                                   stop it (SIGTERM, then SIGKILL) and its epmd
#   scripts/amqp-broker.sh available                                  exit 0 when rabbitmq-server is installed
#
# The broker's pid and ports are kept in DIR; `start` on a DIR that holds data keeps the data (a restart).
# Exit 0 on success; otherwise 1 with the reason (and the end of the broker's log) on stderr.
set -uo pipefail
BIN=${RABBITMQ_BIN:-/usr/lib/rabbitmq/bin}

fail() { echo "amqp-broker: $*" >&2; exit 1; }

environment() {
    local dir=$1
    # shellcheck disable=SC1091
    . "$dir/ports"
    export HOME=$dir RABBITMQ_NODENAME="rocketws-test-$AMQP_PORT@localhost" RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
    export RABBITMQ_NODE_PORT=$AMQP_PORT RABBITMQ_DIST_PORT=$DIST_PORT ERL_EPMD_PORT=$EPMD_PORT ERL_EPMD_ADDRESS=127.0.0.1
    export RABBITMQ_MNESIA_BASE=$dir/mnesia RABBITMQ_LOG_BASE=$dir/log RABBITMQ_CONF_ENV_FILE=$dir/rabbitmq-env.conf
    export RABBITMQ_CONFIG_FILE=$dir/rabbitmq RABBITMQ_ADVANCED_CONFIG_FILE=$dir/advanced.config
    export RABBITMQ_ENABLED_PLUGINS_FILE=$dir/enabled_plugins RABBITMQ_PLUGINS_EXPAND_DIR=$dir/plugins-expand
    export RABBITMQ_PID_FILE=$dir/beam.pid RABBITMQ_LOGS=$dir/log/broker.log RABBITMQ_ALLOW_INPUT=
    # The distribution listener on loopback too (it listens on every interface otherwise).
    export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
}

accepting() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start() {
    local dir=$1
    [ -x "$BIN/rabbitmq-server" ] || fail "rabbitmq-server not installed (make setup installs it)"
    mkdir -p "$dir/log" "$dir/mnesia"
    printf 'AMQP_PORT=%s\nDIST_PORT=%s\nEPMD_PORT=%s\n' "$2" "$3" "$4" >"$dir/ports"
    : >"$dir/rabbitmq-env.conf"
    echo '[].' >"$dir/enabled_plugins"
    echo '[].' >"$dir/advanced.config"
    # Small and quick: no disk alarm on a nearly full test disk, short handshake timeout.
    printf 'listeners.tcp.default = 127.0.0.1:%s\ndisk_free_limit.absolute = 1MB\nvm_memory_high_watermark.relative = 0.2\nloopback_users.guest = true\n' "$2" >"$dir/rabbitmq.conf"
    accepting "$2" && fail "port $2 is already taken"
    (
        environment "$dir"
        # The broker outlives this script: it must not hold the caller's descriptors (a caller that waits for
        # a pipe to close, as Foundation's Process does, would wait for the broker to exit).
        for fd in $(ls /proc/$BASHPID/fd); do [ "$fd" -gt 2 ] && eval "exec $fd>&-"; done
        cd "$dir" && exec setsid "$BIN/rabbitmq-server" </dev/null >>"$dir/log/console.log" 2>&1
    ) &
    echo $! >"$dir/server.pid"
    local i
    for i in $(seq 1 600); do
        accepting "$2" && return 0
        kill -0 "$(cat "$dir/server.pid")" 2>/dev/null || { tail -20 "$dir/log/console.log" >&2; fail "broker exited during start"; }
        sleep 0.1
    done
    tail -20 "$dir/log/console.log" >&2
    stop "$dir"
    fail "broker did not accept AMQP on 127.0.0.1:$2 within 60 s"
}

stop() {
    local dir=$1 pid i
    [ -f "$dir/ports" ] || return 0
    if [ -f "$dir/server.pid" ]; then
        pid=$(cat "$dir/server.pid")
        # The wrapper shell turns SIGTERM into the broker's own graceful stop.
        kill -TERM "$pid" 2>/dev/null
        for i in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && kill -KILL -- "-$pid" 2>/dev/null
        rm -f "$dir/server.pid"
    fi
    if [ -f "$dir/beam.pid" ]; then
        pid=$(cat "$dir/beam.pid")
        for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null
        rm -f "$dir/beam.pid"
    fi
    ( environment "$dir"; epmd -port "$EPMD_PORT" -kill >/dev/null 2>&1 || true )
    return 0
}

case "${1:-}" in
    start) [ $# = 5 ] || fail "usage: $0 start DIR AMQP_PORT DIST_PORT EPMD_PORT"; start "$2" "$3" "$4" "$5" ;;
    stop) [ $# = 2 ] || fail "usage: $0 stop DIR"; stop "$2" ;;
    available) [ -x "$BIN/rabbitmq-server" ] ;;
    *) fail "usage: $0 start DIR AMQP_PORT DIST_PORT EPMD_PORT | stop DIR | available" ;;
esac
