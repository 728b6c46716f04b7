#!/usr/bin/env bash
# `make test-compose`: deploy/compose's Dockerfile and docker-compose.yml, as they are, in a real Docker engine.
#
#   1. installs docker.io and a compose tool when missing (the `docker compose` plugin where present, else
#      Debian's docker-compose), starts dockerd when none answers (and stops it at the end);
#   2. builds local stand-ins for the public base images (scripts/docker-base-images.sh, cached) and selects
#      them through the compose file's variables (ROCKETWS_SWIFT_IMAGE, ROCKETWS_RUNTIME_IMAGE,
#      ROCKETWS_NGINX_IMAGE); nothing else of the project's files is changed;
#   3. builds the node image with the compose file (a check), then scripts/compose_test.py brings the cluster
#      up with nginx publishing on 127.0.0.1 only and checks it from outside (see that file);
#   4. `compose down` whatever happened.
# Prints PASS/FAIL and MEASURE lines and ends with "N passed, M failed"; exit 1 when something failed.
# Env: ROCKETWS_COMPOSE_COLD=1   remove the node image and the build cache first (a from-scratch build;
#                                 with ROCKETWS_STANDIN_REBUILD=1 the stand-in base images too)
#      ROCKETWS_COMPOSE_KEEP_IMAGE=0  remove the node image at the end (default: keep it as the next run's cache)
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
compose_dir=$root/deploy/compose
project=rocketwstest
image=rocketws-compose-test:latest
work=$(mktemp -d "${TMPDIR:-/tmp}/rocketws-compose.XXXXXX")
started_dockerd=""
compose=()
passed=0
failed=0
export DOCKER_BUILDKIT=0 COMPOSE_DOCKER_CLI_BUILD=0

pass() { echo "PASS: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
finish() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ] && exit 0 || exit 1
}
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo

cleanup() {
    if [ "${#compose[@]}" -gt 0 ]; then
        "${compose[@]}" down --remove-orphans --timeout 20 >/dev/null 2>&1
        [ "${ROCKETWS_COMPOSE_KEEP_IMAGE:-1}" = 0 ] && docker rmi "$image" >/dev/null 2>&1
    fi
    if [ -n "$started_dockerd" ]; then
        echo "stopping the dockerd this test started (pid $started_dockerd)"
        $SUDO kill "$started_dockerd" 2>/dev/null
        for _ in $(seq 1 100); do kill -0 "$started_dockerd" 2>/dev/null || break; sleep 0.2; done
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# ---- 1. engine and compose tool ------------------------------------------------------------------------------
apt_install() {
    echo "installing $*"
    $SUDO apt-get update -q >"$work/apt.log" 2>&1
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "$@" >>"$work/apt.log" 2>&1 || { tail -20 "$work/apt.log"; return 1; }
}
missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
if ! docker compose version >/dev/null 2>&1 && ! command -v docker-compose >/dev/null; then missing+=(docker-compose); fi
command -v debootstrap >/dev/null || missing+=(debootstrap)
if [ "${#missing[@]}" -gt 0 ]; then
    apt_install "${missing[@]}" || { fail "apt-get install ${missing[*]}"; finish; }
fi
if docker compose version >/dev/null 2>&1; then
    compose_tool=(docker compose)
else
    compose_tool=(docker-compose)
fi
echo "compose tool: ${compose_tool[*]} ($("${compose_tool[@]}" version 2>/dev/null | head -1))"

if ! docker info >/dev/null 2>&1; then
    echo "no Docker engine answers: starting dockerd (log: $work/dockerd.log)"
    $SUDO dockerd --pidfile "$work/dockerd.pid" >"$work/dockerd.log" 2>&1 &
    started_dockerd=$!
    for _ in $(seq 1 150); do docker info >/dev/null 2>&1 && break; sleep 0.2; done
    docker info >/dev/null 2>&1 || { fail "dockerd did not start: $(tail -5 "$work/dockerd.log")"; finish; }
fi
echo "engine: Docker $(docker version -f '{{.Server.Version}}' 2>/dev/null), storage $(docker info -f '{{.Driver}}' 2>/dev/null)"

# ---- 2. stand-in base images ---------------------------------------------------------------------------------
start=$(date +%s)
if ! "$root/scripts/docker-base-images.sh" >"$work/standins.env" 2>"$work/standins.log"; then
    cat "$work/standins.log"
    fail "stand-in base images"; finish
fi
cat "$work/standins.log"
# shellcheck disable=SC1091
. "$work/standins.env"
echo "MEASURE: stand-in base images ready: $(( $(date +%s) - start )) s"

# ---- 3. the node image, with the compose file -----------------------------------------------------------------
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
ws_port=$(free_port)
ms_port=$(free_port)
api_key=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
cat >"$work/test.env" <<EOF
ROCKETWS_CLUSTER_SECRET=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
ROCKETWS_API_KEY=$api_key
ROCKETWS_IMAGE=$image
ROCKETWS_SWIFT_IMAGE=$SWIFT_IMAGE
ROCKETWS_RUNTIME_IMAGE=$RUNTIME_IMAGE
ROCKETWS_NGINX_IMAGE=$NGINX_IMAGE
ROCKETWS_PUBLISH_WS=127.0.0.1:$ws_port
ROCKETWS_PUBLISH_MS=127.0.0.1:$ms_port
EOF
# The variables come from this file only (not from a developer's deploy/compose/.env or shell).
for name in $(sed 's/=.*//' "$work/test.env") ROCKETWS_MAX_MESSAGE_BYTES ROCKETWS_LOG_LEVEL; do unset "$name"; done
compose=("${compose_tool[@]}" -p "$project" --project-directory "$compose_dir" -f "$compose_dir/docker-compose.yml" --env-file "$work/test.env")
"${compose[@]}" down --remove-orphans --timeout 5 >/dev/null 2>&1   # a previous run's leftovers

if [ "${ROCKETWS_COMPOSE_COLD:-0}" = 1 ]; then
    echo "ROCKETWS_COMPOSE_COLD=1: removing $image and the build cache"
    docker rmi -f "$image" >/dev/null 2>&1
    docker image prune -f >/dev/null 2>&1
    docker builder prune -af >/dev/null 2>&1
fi
start=$(date +%s)
echo "building the node image with the compose file (log: $work/build.log; from scratch about 8 minutes on 2 quiet cores, cached afterwards)"
if "${compose[@]}" build node1 >"$work/build.log" 2>&1 && docker image inspect "$image" >/dev/null 2>&1; then
    pass "the node image builds from deploy/compose/Dockerfile ($image)"
    echo "MEASURE: image build: $(( $(date +%s) - start )) s"
    grep -m1 'Sending build context' "$work/build.log" | sed 's/^/  /'
    size=$(docker image inspect -f '{{.Size}}' "$image")
    echo "MEASURE: image size: $((size / 1000000)) MB"
else
    tail -40 "$work/build.log"
    fail "the node image builds"; finish
fi

# Runs a part that prints PASS/FAIL lines and "N passed, M failed"; adds its counts to ours.
run_part() {
    local name=$1; shift
    "$@" 2>&1 | tee "$work/part.log"
    local rc=${PIPESTATUS[0]}
    local summary
    summary=$(tail -1 "$work/part.log")
    if [[ $summary =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
        passed=$((passed + BASH_REMATCH[1])); failed=$((failed + BASH_REMATCH[2]))
        [ "$rc" -ne 0 ] && [ "${BASH_REMATCH[2]}" -eq 0 ] && fail "$name exited $rc"
    else
        fail "$name ended without a summary (exit $rc)"
    fi
    return 0
}

# The context the builder is sent (the root .dockerignore applies): only what the Dockerfile copies.
if printf 'FROM %s\nCOPY . /context\n' "$RUNTIME_IMAGE" |
    docker build -q -t rocketws-context-probe -f - "$root" >"$work/context.log" 2>&1; then
    context=$(docker run --rm --network none rocketws-context-probe sh -c \
        'cd /context && echo "$(ls -A | tr "\n" " ")| $(du -sk . | cut -f1) KiB | $(find . -name ".build*" -o -name .git | head -3 | tr "\n" " ")"')
    docker rmi rocketws-context-probe >/dev/null 2>&1
    top=${context%%|*}
    if [[ $top =~ ^(Package.resolved\ )?Package.swift\ Sources\ Tests\ $ ]] && [ -z "$(echo "$context" | cut -d'|' -f3 | tr -d ' ')" ]; then
        pass "the build context holds only what the Dockerfile copies: ${top}($(echo "$context" | cut -d'|' -f2 | tr -d ' '))"
    else
        fail "the build context: $context"
    fi
else
    fail "context probe build: $(tail -3 "$work/context.log")"
fi

# ---- 4. the image as the Kubernetes manifests run it ----------------------------------------------------------
# deploy/kubernetes promises a read-only root file system, no capabilities, no privilege escalation and the
# image's uid: one node of this image under exactly those settings must turn healthy and serve /healthz.
probe=rocketws-compose-test-readonly
docker rm -f "$probe" >/dev/null 2>&1
if docker run -d --name "$probe" --read-only --cap-drop ALL --security-opt no-new-privileges --user 10001:10001 \
    -e ROCKETWS_CLUSTER_SECRET=probe -e ROCKETWS_API_KEY=probe --network none "$image" >/dev/null 2>"$work/probe.err"; then
    for _ in $(seq 1 60); do
        [ "$(docker inspect -f '{{.State.Health.Status}}' "$probe" 2>/dev/null)" = healthy ] && break; sleep 0.5
    done
    health=$(docker inspect -f '{{.State.Running}} {{.State.Health.Status}}' "$probe" 2>/dev/null)
    [ "$health" = "true healthy" ] &&
        pass "the image runs healthy with a read-only root file system, no capabilities, no-new-privileges, uid 10001" ||
        { fail "the image under the Kubernetes security context: $health"; docker logs --tail 20 "$probe" 2>&1; }
else
    fail "docker run --read-only: $(cat "$work/probe.err")"
fi
docker rm -f "$probe" >/dev/null 2>&1

# The shipped binaries, for the supervisor and systemd checks below.
mkdir -p "$work/bin"
copier=$(docker create "$image")
docker cp "$copier:/usr/local/bin/rocketws-node" "$work/bin/" && docker cp "$copier:/usr/local/bin/rocketws-admin" "$work/bin/"
docker rm "$copier" >/dev/null

# ---- 5. the cluster ------------------------------------------------------------------------------------------
run_part compose_test.py python3 "$root/scripts/compose_test.py" --compose "${compose[*]}" --ws-port "$ws_port" \
    --ms-port "$ms_port" --api-key "$api_key"
if [ "$failed" -gt 0 ]; then
    echo "--- last container logs ---"
    "${compose[@]}" logs --tail 30 2>&1 | tail -120
fi
"${compose[@]}" down --remove-orphans --timeout 20 >/dev/null 2>&1

# ---- 6. supervisor and systemd with the image's binaries; 7. the Kubernetes manifests -------------------------
echo "--- supervisor and systemd (the binaries from the image) ---"
run_part test-deploy-hosts.sh "$root/scripts/test-deploy-hosts.sh" "$work/bin"
echo "--- Kubernetes manifests (offline) ---"
run_part validate-kubernetes.sh "$root/scripts/validate-kubernetes.sh"
finish
