#!/usr/bin/env bash
# Builds local stand-ins for the public base images that deploy/compose names, for a Docker engine that
# cannot pull from a registry (this project's CI machines reach Debian's apt mirror and PyPI only):
#
#   rocketws-standin/debian:bookworm      for debian:bookworm-slim (the runtime stage): a debootstrapped
#                                         Debian 12 (minbase), imported as one layer
#   rocketws-standin/swift:6.3-bookworm   for swift:6.3-bookworm (the build stage): that Debian plus the
#                                         build packages of the official Swift image, this machine's Swift
#                                         toolchain (/opt/swift) and its Swift package mirror
#                                         (/opt/swift-packages) with the system git setting that points
#                                         github.com at it
#   rocketws-standin/nginx:bookworm       for nginx:1.27-bookworm: that Debian plus Debian's nginx and curl
#
# An image that already exists is reused (delete it, or set ROCKETWS_STANDIN_REBUILD=1, to build it anew).
# Prints the three names as shell assignments on its last lines (SWIFT_IMAGE=..., RUNTIME_IMAGE=...,
# NGINX_IMAGE=...). Needs root (debootstrap) and a running Docker engine.
# Env: SWIFT_TOOLCHAIN (/opt/swift), SWIFT_PACKAGE_MIRROR (/opt/swift-packages),
#      DEBIAN_MIRROR (http://deb.debian.org/debian), ROCKETWS_STANDIN_CACHE (/var/cache/rocketws-standin).
set -euo pipefail

docker=${DOCKER:-docker}
toolchain=${SWIFT_TOOLCHAIN:-/opt/swift}
mirror=${SWIFT_PACKAGE_MIRROR:-/opt/swift-packages}
debian_mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
cache=${ROCKETWS_STANDIN_CACHE:-/var/cache/rocketws-standin}
debian_image=rocketws-standin/debian:bookworm
swift_image=rocketws-standin/swift:6.3-bookworm
nginx_image=rocketws-standin/nginx:bookworm
export DOCKER_BUILDKIT=0

log() { echo "docker-base-images: $*" >&2; }
have() { [ "${ROCKETWS_STANDIN_REBUILD:-0}" != 1 ] && "$docker" image inspect "$1" >/dev/null 2>&1; }

# ---- Debian 12 --------------------------------------------------------------------------------------------
if have "$debian_image"; then
    log "reusing $debian_image"
else
    command -v debootstrap >/dev/null || {
        log "installing debootstrap"
        apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null
    }
    mkdir -p "$cache"
    tarball=$cache/debian-bookworm-minbase.tar
    if [ ! -s "$tarball" ]; then
        root=$(mktemp -d "$cache/rootfs.XXXXXX")
        log "debootstrap --variant=minbase bookworm (about two minutes)"
        start=$(date +%s)
        debootstrap --variant=minbase bookworm "$root" "$debian_mirror" >"$cache/debootstrap.log" 2>&1 || {
            tail -20 "$cache/debootstrap.log" >&2; rm -rf "$root"; exit 1; }
        # As in Debian's own images: no package lists or caches in the layer.
        rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb
        tar -C "$root" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
        rm -rf "$root"
        log "debootstrap took $(( $(date +%s) - start )) s"
    fi
    "$docker" import --change 'CMD ["bash"]' \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        "$tarball" "$debian_image" >/dev/null
    log "built $debian_image"
fi

# ---- Swift builder ----------------------------------------------------------------------------------------
if have "$swift_image"; then
    log "reusing $swift_image"
else
    [ -x "$toolchain/usr/bin/swift" ] || { log "no Swift toolchain at $toolchain"; exit 1; }
    [ -d "$mirror" ] || { log "no Swift package mirror at $mirror"; exit 1; }
    log "building $swift_image (apt packages, then a copy of $toolchain: a few minutes)"
    container=rocketws-standin-swift-$$
    "$docker" rm -f "$container" >/dev/null 2>&1 || true
    # The packages the official swift:6.3-bookworm image installs for building.
    "$docker" run --name "$container" \
        -v "$toolchain:/mnt/toolchain:ro" -v "$mirror:/mnt/mirror:ro" "$debian_image" bash -euc '
            apt-get update -q
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
                binutils binutils-gold ca-certificates gcc git gnupg2 libc6-dev libcurl4-openssl-dev \
                libedit2 libgcc-12-dev libicu-dev libncurses-dev libpython3-dev libsqlite3-0 libsqlite3-dev \
                libstdc++-12-dev libxml2-dev libz3-dev pkg-config tzdata unzip uuid-dev zlib1g-dev
            rm -rf /var/lib/apt/lists/*
            mkdir -p /opt
            cp -a /mnt/toolchain /opt/swift
            cp -a /mnt/mirror /opt/swift-packages
            git config --system url./opt/swift-packages/.insteadof https://github.com/
            git config --system --add url./opt/swift-packages/.insteadof git@github.com:
            git config --system --add url./opt/swift-packages/.insteadof ssh://git@github.com/
            # The mirror belongs to whoever copied it; git refuses to read such a repository otherwise.
            git config --system --add safe.directory "*"
            /opt/swift/usr/bin/swift --version
        ' >"${TMPDIR:-/tmp}/rocketws-standin-swift.log" 2>&1 || {
            tail -20 "${TMPDIR:-/tmp}/rocketws-standin-swift.log" >&2; "$docker" rm -f "$container" >/dev/null; exit 1; }
    "$docker" commit \
        --change 'ENV PATH=/opt/swift/usr/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'CMD ["bash"]' "$container" "$swift_image" >/dev/null
    "$docker" rm -f "$container" >/dev/null
    log "built $swift_image"
fi

# ---- nginx ------------------------------------------------------------------------------------------------
if have "$nginx_image"; then
    log "reusing $nginx_image"
else
    log "building $nginx_image"
    # Like the official image: logs to the container's stdout/stderr, graceful stop on SIGQUIT, curl inside.
    if ! "$docker" build -q -t "$nginx_image" --build-arg "BASE=$debian_image" - >"${TMPDIR:-/tmp}/rocketws-standin-nginx.log" 2>&1 <<'DOCKERFILE'
ARG BASE
FROM ${BASE}
RUN apt-get update -q \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nginx-light curl ca-certificates \
    && rm -rf /var/lib/apt/lists/* /etc/nginx/sites-enabled/* \
    && ln -sf /dev/stdout /var/log/nginx/access.log && ln -sf /dev/stderr /var/log/nginx/error.log
EXPOSE 80
STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]
DOCKERFILE
    then
        tail -20 "${TMPDIR:-/tmp}/rocketws-standin-nginx.log" >&2; exit 1
    fi
    log "built $nginx_image"
fi

echo "SWIFT_IMAGE=$swift_image"
echo "RUNTIME_IMAGE=$debian_image"
echo "NGINX_IMAGE=$nginx_image"
