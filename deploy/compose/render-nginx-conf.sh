#!/bin/sh
# Renders nginx.conf.template into a complete nginx.conf for RocketWS.
#
#   render-nginx-conf.sh [-t TEMPLATE] [-o OUTPUT] [--ws-listen ADDR] [--ms-listen ADDR]
#                        [--ws-upstreams H:P,H:P,...] [--ms-upstreams H:P,H:P,...] [--temp-dir DIR]
#
# Every option also reads an environment variable, so the compose nginx service needs no arguments:
#   ROCKETWS_NGINX_TEMPLATE  (default: nginx.conf.template beside this script)
#   ROCKETWS_NGINX_OUTPUT    (default: standard output)
#   ROCKETWS_NGINX_WS_LISTEN (default: 58000)      ROCKETWS_NGINX_MS_LISTEN (default: 59999)
#   ROCKETWS_WS_UPSTREAMS    (default: node1:58000,node2:58000,node3:58000)
#   ROCKETWS_MS_UPSTREAMS    (default: node1:59999,node2:59999,node3:59999)
#   ROCKETWS_NGINX_TEMP_DIR  (default: none, the nginx build's temp paths)
#   ROCKETWS_NGINX_SERVER_PARAMS (default: "max_fails=1 fail_timeout=1s", appended to every server line)
# POSIX sh and awk only: it runs in the nginx image as well as on a developer machine.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
template=${ROCKETWS_NGINX_TEMPLATE:-$here/nginx.conf.template}
output=${ROCKETWS_NGINX_OUTPUT:-}
ws_listen=${ROCKETWS_NGINX_WS_LISTEN:-58000}
ms_listen=${ROCKETWS_NGINX_MS_LISTEN:-59999}
ws_upstreams=${ROCKETWS_WS_UPSTREAMS:-node1:58000,node2:58000,node3:58000}
ms_upstreams=${ROCKETWS_MS_UPSTREAMS:-node1:59999,node2:59999,node3:59999}
temp_dir=${ROCKETWS_NGINX_TEMP_DIR:-}
server_params=${ROCKETWS_NGINX_SERVER_PARAMS:-max_fails=1 fail_timeout=1s}

usage() { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

while [ $# -gt 0 ]; do
    case $1 in
        -t|--template) template=$2; shift 2 ;;
        -o|--output) output=$2; shift 2 ;;
        --ws-listen) ws_listen=$2; shift 2 ;;
        --ms-listen) ms_listen=$2; shift 2 ;;
        --ws-upstreams) ws_upstreams=$2; shift 2 ;;
        --ms-upstreams) ms_upstreams=$2; shift 2 ;;
        --temp-dir) temp_dir=$2; shift 2 ;;
        -h|--help) usage ;;
        *) echo "render-nginx-conf.sh: unknown argument '$1'" >&2; usage ;;
    esac
done

[ -r "$template" ] || { echo "render-nginx-conf.sh: cannot read template '$template'" >&2; exit 1; }

# "a:1,b:2" -> one "        server a:1 PARAMS;" line each.
server_lines() {
    lines=""
    old_ifs=$IFS
    IFS=,
    for upstream in $1; do
        upstream=$(printf '%s' "$upstream" | tr -d ' \t')
        [ -n "$upstream" ] || continue
        case $upstream in
            *:[0-9]*) ;;
            *) echo "render-nginx-conf.sh: upstream '$upstream' is not HOST:PORT" >&2; exit 1 ;;
        esac
        lines="$lines        server $upstream $server_params;
"
    done
    IFS=$old_ifs
    [ -n "$lines" ] || { echo "render-nginx-conf.sh: no upstream servers given" >&2; exit 1; }
    printf '%s' "$lines"
}

ws_servers=$(server_lines "$ws_upstreams")
ms_servers=$(server_lines "$ms_upstreams")
temp_paths=""
if [ -n "$temp_dir" ]; then
    for kind in client_body proxy fastcgi uwsgi scgi; do
        temp_paths="$temp_paths    ${kind}_temp_path $temp_dir/$kind;
"
    done
fi

render() {
    WS_LISTEN=$ws_listen MS_LISTEN=$ms_listen WS_SERVERS=$ws_servers MS_SERVERS=$ms_servers TEMP_PATHS=$temp_paths \
    awk '
        BEGIN { n = split("WS_LISTEN MS_LISTEN WS_SERVERS MS_SERVERS TEMP_PATHS", keys, " ") }
        /^[ \t]*#/ { print; next }    # comments keep their @NAME@ mentions
        {
            line = $0
            for (i = 1; i <= n; i++) {
                key = "@" keys[i] "@"
                while ((at = index(line, key)) > 0) {
                    line = substr(line, 1, at - 1) ENVIRON[keys[i]] substr(line, at + length(key))
                }
            }
            # A placeholder alone on its line that renders empty leaves no blank line behind.
            if (line == "" && $0 ~ /^@[A-Z_]+@$/) next
            print line
        }
    ' "$template"
}

if [ -n "$output" ]; then
    render > "$output.tmp.$$"
    mv "$output.tmp.$$" "$output"
else
    render
fi
