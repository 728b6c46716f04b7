#!/usr/bin/env bash
# Validates deploy/compose without a Docker engine:
#   1. docker-compose.yml parses (`docker-compose config`, PyPI docker-compose 1.29 in .build-venv/; a
#      PyYAML-only check when it cannot be installed) and names node1..3 and nginx with the right ports and
#      environment; a missing ROCKETWS_CLUSTER_SECRET is refused;
#   2. the Dockerfile's build steps are the ones deploy/README.md documents;
#   3. nginx.conf.template renders (compose defaults and loopback upstreams) and passes `nginx -t`.
# Exit 0: valid. 1: a problem (printed). 77: nothing to validate the compose file with (no docker-compose,
# no PyYAML: pip unreachable), the other checks passed.
# Env: NGINX (default: nginx on PATH, else /usr/sbin/nginx), PYTHON (python3), ROCKETWS_VENV (.build-venv),
# ROCKETWS_VALIDATE_OFFLINE=1 (do not pip-install docker-compose).
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
compose_dir=$root/deploy/compose
compose_file=$compose_dir/docker-compose.yml
readme=$root/deploy/README.md
dockerfile=$compose_dir/Dockerfile
venv=${ROCKETWS_VENV:-$root/.build-venv}
python=${PYTHON:-python3}
failures=0
compose_skipped=0
work=$(mktemp -d "${TMPDIR:-/tmp}/rocketws-validate.XXXXXX")
trap 'rm -rf "$work"' EXIT

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }

# ---- 1. compose ------------------------------------------------------------------------------------------
# docker-compose 1.29.2 pins PyYAML<6, whose 5.4.1 sdist does not build on Python 3.11 with Cython 3:
# build it first without isolation against Cython<3.
install_docker_compose() {
    [ -x "$venv/bin/docker-compose" ] && return 0
    [ "${ROCKETWS_VALIDATE_OFFLINE:-0}" = 1 ] && { echo "ROCKETWS_VALIDATE_OFFLINE=1: not installing docker-compose"; return 1; }
    echo "installing docker-compose 1.29.2 into $venv (once; about a minute)"
    "$python" -m venv "$venv" >"$work/venv.log" 2>&1 || { echo "  python3 -m venv failed (python3-venv missing?)"; return 1; }
    local pip=("$venv/bin/pip" --disable-pip-version-check -q --timeout 20 --retries 1)
    if "${pip[@]}" install "docker-compose==1.29.2" >>"$work/venv.log" 2>&1; then return 0; fi
    "${pip[@]}" install "cython<3.0.0" wheel "setuptools<70" >>"$work/venv.log" 2>&1 &&
        "${pip[@]}" install --no-build-isolation "pyyaml==5.4.1" >>"$work/venv.log" 2>&1 &&
        "${pip[@]}" install "docker-compose==1.29.2" >>"$work/venv.log" 2>&1 && return 0
    echo "  pip could not install docker-compose:"; tail -5 "$work/venv.log" | sed 's/^/    /'
    return 1
}

secret=validate-secret-$$
api_key=validate-key-$$
if install_docker_compose; then
    dc=("$venv/bin/docker-compose" --project-directory "$compose_dir" -f "$compose_file" --env-file "$work/empty.env")
    : >"$work/empty.env"
    if env -u ROCKETWS_CLUSTER_SECRET -u ROCKETWS_API_KEY ROCKETWS_CLUSTER_SECRET="$secret" ROCKETWS_API_KEY="$api_key" \
        "${dc[@]}" config >"$work/config.yml" 2>"$work/config.err"; then
        ok "docker-compose config parses $compose_file"
        "$venv/bin/python" "$root/scripts/validate-compose.py" "$work/config.yml" --resolved "$secret" "$api_key" || fail "compose content"
    else
        fail "docker-compose config: $(cat "$work/config.err")"
    fi
    if env -u ROCKETWS_CLUSTER_SECRET ROCKETWS_API_KEY="$api_key" "${dc[@]}" config >/dev/null 2>"$work/nosecret.err"; then
        fail "docker-compose config accepts a missing ROCKETWS_CLUSTER_SECRET"
    elif grep -q ROCKETWS_CLUSTER_SECRET "$work/nosecret.err"; then
        ok "a missing ROCKETWS_CLUSTER_SECRET is refused: ...$(grep -o 'in service.*' "$work/nosecret.err" | head -1)"
    else
        fail "missing ROCKETWS_CLUSTER_SECRET refused without naming it: $(cat "$work/nosecret.err")"
    fi
elif "$python" -c "import yaml" 2>/dev/null; then
    echo "note: docker-compose unavailable; checking the compose file with PyYAML only"
    "$python" "$root/scripts/validate-compose.py" "$compose_file" || fail "compose content"
else
    echo "SKIP: neither docker-compose (pip unreachable?) nor PyYAML: compose file not validated"
    compose_skipped=1
fi
[ -f "$compose_dir/.env.example" ] && grep -q '^ROCKETWS_CLUSTER_SECRET=' "$compose_dir/.env.example" &&
    grep -q '^ROCKETWS_API_KEY=' "$compose_dir/.env.example" && ok ".env.example names both secrets" ||
    fail ".env.example missing or lacks ROCKETWS_CLUSTER_SECRET / ROCKETWS_API_KEY"

# ---- 2. Dockerfile <-> README ----------------------------------------------------------------------------
# Every `swift build ...` step of the Dockerfile (RUN lines joined, split on &&) must appear verbatim in the README.
mapfile -t builds < <(sed -e ':a' -e '/\\$/N; s/\\\n//; ta' "$dockerfile" | grep '^RUN ' | sed 's/^RUN //; s/&&/\n/g' |
    sed 's/^[[:space:]]*//; s/[[:space:]]*$//; s/[[:space:]]\{2,\}/ /g' | grep '^swift build' | grep -v -- '--show-bin-path')
if [ "${#builds[@]}" -eq 0 ]; then
    fail "no 'swift build' step in $dockerfile"
fi
for build in "${builds[@]}"; do
    if grep -qF -- "$build" "$readme"; then ok "README documents: $build"; else fail "deploy/README.md lacks the Dockerfile step: $build"; fi
    for product in $(grep -o -- '--product [^ ]*' <<<"$build" | awk '{print $2}'); do
        grep -q "\.executable(name: \"$product\"" "$root/Package.swift" || fail "Dockerfile builds product '$product', not an executable in Package.swift"
    done
done
grep -q -- "--product rocketws-node" <<<"${builds[*]}" && grep -q -- "--product rocketws-admin" <<<"${builds[*]}" ||
    fail "the Dockerfile does not build both rocketws-node and rocketws-admin"
for package in libnghttp2-dev libnghttp2-14; do
    grep -q "$package" "$dockerfile" && grep -q "$package" "$readme" || fail "$package not in both the Dockerfile and the README"
done
grep -Eq '^EXPOSE +58000 +59999 +59998' "$dockerfile" && ok "Dockerfile exposes 58000 59999 59998" || fail "Dockerfile: EXPOSE 58000 59999 59998 missing"
grep -q 'HEALTHCHECK.*' "$dockerfile" && grep -q 'http://127.0.0.1:59999/healthz' "$dockerfile" && ok "Dockerfile health check on /healthz" ||
    fail "Dockerfile: no HEALTHCHECK on http://127.0.0.1:59999/healthz"
user=$(grep -E '^USER ' "$dockerfile" | tail -1 | awk '{print $2}')
[ -n "$user" ] && [ "${user%%:*}" != root ] && [ "${user%%:*}" != 0 ] && ok "runs as $user" || fail "Dockerfile: the runtime stage must run as a non-root USER"
[ "$(grep -c '^FROM ' "$dockerfile")" -ge 2 ] && ok "multi-stage build" || fail "Dockerfile: not multi-stage"

# ---- 3. nginx ----------------------------------------------------------------------------------------------
nginx=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
render=$compose_dir/render-nginx-conf.sh
if sh "$render" >"$work/compose-nginx.conf" 2>"$work/render.err"; then
    for node in node1 node2 node3; do
        grep -q "server $node:58000 " "$work/compose-nginx.conf" && grep -q "server $node:59999 " "$work/compose-nginx.conf" ||
            fail "rendered compose nginx.conf lacks $node"
    done
    grep -q 'proxy_read_timeout 604800s;' "$work/compose-nginx.conf" && grep -q 'proxy_set_header Upgrade \$http_upgrade;' "$work/compose-nginx.conf" &&
        grep -q 'proxy_http_version 1.1;' "$work/compose-nginx.conf" && ok "nginx.conf: WebSocket upgrade headers, HTTP/1.1, one-week read timeout" ||
        fail "nginx.conf: WebSocket proxy settings missing"
    grep -q '@[A-Z_]*@' <(grep -v '^[[:space:]]*#' "$work/compose-nginx.conf") && fail "nginx.conf: placeholders left after rendering"
else
    fail "render-nginx-conf.sh: $(cat "$work/render.err")"
fi
if [ -x "$nginx" ]; then
    mkdir -p "$work/nginx"
    # The compose rendering with the node names pointed at loopback (they only resolve inside compose).
    sh "$render" --temp-dir "$work/nginx" | sed 's/server node[0-9]*:/server 127.0.0.1:/' >"$work/nginx/compose.conf"
    # The loopback rendering the nginx test uses.
    sh "$render" --ws-listen 127.0.0.1:1 --ms-listen 127.0.0.1:2 --ws-upstreams 127.0.0.1:3,127.0.0.1:4 \
        --ms-upstreams 127.0.0.1:5,127.0.0.1:6 --temp-dir "$work/nginx" -o "$work/nginx/loopback.conf"
    for conf in compose loopback; do
        if "$nginx" -t -q -p "$work/nginx" -c "$work/nginx/$conf.conf" -e "$work/nginx/error.log" \
            -g "pid $work/nginx/nginx.pid; error_log $work/nginx/error.log;" 2>"$work/nginx-t.err"; then
            ok "nginx -t: $conf rendering"
        else
            fail "nginx -t ($conf rendering): $(cat "$work/nginx-t.err")"
        fi
    done
    # The README's TLS example (its ```nginx block) inside the template's http block, with a throwaway certificate.
    awk '/^```nginx$/ {on = 1; next} /^```$/ {on = 0} on' "$readme" >"$work/nginx/tls-servers.conf"
    if [ ! -s "$work/nginx/tls-servers.conf" ]; then
        fail "deploy/README.md has no \`\`\`nginx TLS example"
    elif ! command -v openssl >/dev/null; then
        echo "note: no openssl, the README's TLS example is not checked"
    else
        openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost -keyout "$work/nginx/key.pem" \
            -out "$work/nginx/cert.pem" >/dev/null 2>&1
        sed -e "s|ssl_certificate_key .*;|ssl_certificate_key $work/nginx/key.pem;|" -e "s|ssl_certificate .*;|ssl_certificate $work/nginx/cert.pem;|" \
            -e 's/listen 443 ssl;/listen 127.0.0.1:7 ssl;/' -e 's/listen 80;/listen 127.0.0.1:8;/' "$work/nginx/tls-servers.conf" >"$work/nginx/tls-servers.local"
        # The template's http block ends with the last "}": put the TLS servers before it.
        sed '$d' "$work/nginx/loopback.conf" >"$work/nginx/tls.conf"
        cat "$work/nginx/tls-servers.local" >>"$work/nginx/tls.conf"
        echo "}" >>"$work/nginx/tls.conf"
        if "$nginx" -t -q -p "$work/nginx" -c "$work/nginx/tls.conf" -e "$work/nginx/error.log" \
            -g "pid $work/nginx/nginx.pid; error_log $work/nginx/error.log;" 2>"$work/nginx-t.err"; then
            ok "nginx -t: the README's TLS example"
        else
            fail "nginx -t (the README's TLS example): $(cat "$work/nginx-t.err")"
        fi
    fi
else
    fail "nginx not found ($nginx): apt-get install nginx-light (make setup)"
fi

# ---- 4. systemd unit, supervisor program -------------------------------------------------------------------
unit=$root/deploy/systemd/rocketws-node.service
if command -v systemd-analyze >/dev/null; then
    # The binary and the user do not exist here; anything else is a real complaint.
    complaints=$(systemd-analyze verify "$unit" 2>&1 | grep -v -e 'is not executable' -e 'Failed to resolve user' -e '^$')
    [ -z "$complaints" ] && ok "systemd-analyze verify: rocketws-node.service" || fail "systemd-analyze verify: $complaints"
fi
grep -q '^ExecStart=/usr/local/bin/rocketws-node' "$unit" && grep -q '^EnvironmentFile=' "$unit" || fail "$unit: no ExecStart/EnvironmentFile"
supervisor_conf=$root/deploy/supervisor/rocketws.conf
if [ -x "$venv/bin/python" ] && { "$venv/bin/python" -c 'import supervisor' 2>/dev/null ||
    "$venv/bin/pip" --disable-pip-version-check -q --timeout 20 --retries 1 install supervisor >/dev/null 2>&1; }; then
    # supervisord's own parser, with the user and log directory of this machine.
    sed -e "s/^user=.*/user=$(id -un)/" -e "s|^stdout_logfile=.*|stdout_logfile=$work/rocketws.log|" "$supervisor_conf" >"$work/supervisor-program.conf"
    printf '[supervisord]\nlogfile=%s/supervisord.log\npidfile=%s/supervisord.pid\n[include]\nfiles=%s/supervisor-program.conf\n' \
        "$work" "$work" "$work" >"$work/supervisord.conf"
    if "$venv/bin/python" - "$work/supervisord.conf" >"$work/supervisor.out" 2>&1 <<'PY'
import sys
from supervisor.options import ServerOptions
options = ServerOptions()
options.realize(args=["-c", sys.argv[1]])
programs = [p for g in options.process_group_configs for p in g.process_configs]
assert [p.name for p in programs] == ["rocketws"], programs
program = programs[0]
assert program.command.split()[0] == "/usr/local/bin/rocketws-node", program.command
assert "ROCKETWS_CLUSTER_SECRET" in program.environment and "ROCKETWS_API_KEY" in program.environment, program.environment
assert "--join" in program.command and "--advertise" in program.command and "--node-name" in program.command
PY
    then ok "supervisord parses deploy/supervisor/rocketws.conf"; else fail "supervisor config: $(tail -3 "$work/supervisor.out")"; fi
else
    echo "note: supervisor not installable, deploy/supervisor/rocketws.conf not parsed"
fi

echo
if [ "$failures" -gt 0 ]; then
    echo "validate-compose: $failures problem(s)"
    exit 1
fi
if [ "$compose_skipped" = 1 ]; then
    echo "validate-compose: SKIPPED the compose file check (no docker-compose, no PyYAML); the rest is valid"
    exit 77
fi
echo "validate-compose: ok"
