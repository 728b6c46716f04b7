# RocketWS: the two commands are `make run` and `make test`; both install what is missing first.
SHELL        := /bin/bash
SWIFT        ?= swift
CONFIG       ?= release
BIN_RELEASE   = .build/release
BIN_DEBUG     = .build/debug
APT_PACKAGES  = libnghttp2-dev pkg-config nghttp2-client nginx-light python3 python3-venv python3-yaml openssl iproute2 iptables chromium
NODE_ARGS    ?=
FUZZ_SECONDS ?= 300

.PHONY: all setup build build-debug run test conformance cluster bench soak fuzz clean validate-deploy test-nginx docker-image \
        test-compose test-deploy-hosts validate-kubernetes

all: build

## Install what a fresh Debian machine lacks (apt-get update only when something is missing).
setup:
	@missing=""; \
	pkg-config --exists libnghttp2 2>/dev/null || missing="$$missing libnghttp2-dev pkg-config"; \
	command -v nghttp >/dev/null 2>&1 || missing="$$missing nghttp2-client"; \
	command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing="$$missing nginx-light"; \
	command -v python3 >/dev/null 2>&1 || missing="$$missing python3"; \
	python3 -c 'import ensurepip' >/dev/null 2>&1 || missing="$$missing python3-venv"; \
	python3 -c 'import yaml' >/dev/null 2>&1 || missing="$$missing python3-yaml"; \
	command -v ip >/dev/null 2>&1 || [ -x /usr/sbin/ip ] || missing="$$missing iproute2"; \
	command -v iptables >/dev/null 2>&1 || [ -x /usr/sbin/iptables ] || missing="$$missing iptables"; \
	[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || missing="$$missing rabbitmq-server"; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  echo "setup: installing$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO scripts/apt-install-no-start.sh $$missing; \
	fi

build: setup
	$(SWIFT) build -c release

build-debug: setup
	$(SWIFT) build

## Build release and start one node on the defaults (WebSocket :58000, MessagesSource :59999, peers :59998).
run: build
	$(BIN_RELEASE)/rocketws-node $(NODE_ARGS)

## Build and run every test (unit, handler, loopback, multi-process).
test: setup
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --no-parallel

## RFC 6455 server conformance suite (Autobahn fuzzingclient sections 1-7 equivalents), a few seconds.
conformance: setup
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --filter Conformance

## Three local nodes joined together in the foreground; Ctrl-C stops all three.
cluster: build
	@scripts/cluster.sh $(BIN_RELEASE)

## Benchmarks against fresh release nodes.
bench: build
	@scripts/bench.sh $(BIN_RELEASE)

## Check deploy/ without a Docker engine: compose config, Dockerfile vs deploy/README.md, nginx -t, systemd, supervisor.
validate-deploy: setup
	scripts/validate-compose.sh

## deploy/compose's nginx config in front of three local nodes, plus validate-compose.sh.
test-nginx: setup
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --filter Nginx

## The node image (needs a Docker engine). Without a registry: SWIFT_IMAGE/RUNTIME_IMAGE from scripts/docker-base-images.sh.
SWIFT_IMAGE   ?= swift:6.3-bookworm
RUNTIME_IMAGE ?= debian:bookworm-slim
docker-image:
	DOCKER_BUILDKIT=0 docker build -f deploy/compose/Dockerfile --build-arg SWIFT_IMAGE=$(SWIFT_IMAGE) \
	  --build-arg RUNTIME_IMAGE=$(RUNTIME_IMAGE) -t rocketws:latest .

## deploy/ for real (root; installs docker.io, compose, debootstrap, supervisor when missing; starts and stops
## dockerd): the compose cluster behind nginx in a Docker engine with local stand-in base images, supervisor
## and systemd with the image's binaries, the Kubernetes manifests offline. Cold (no images yet): stand-ins ~3-6 min
## plus the image's release build, 8 min on a quiet 2-core machine, 30 min on a busy one; warm: ~3 min.
test-compose: setup
	scripts/test-compose.sh

## supervisor and systemd only, with BIN (default .build/release, else .build/debug).
test-deploy-hosts: setup
	scripts/test-deploy-hosts.sh $(BIN)

## deploy/kubernetes offline: kubectl kustomize + kubernetes-validate --strict (PyPI) + how the parts fit.
validate-kubernetes: setup
	scripts/validate-kubernetes.sh

## Soak: one release node, 10,000 WebSocket connections with churn and emits for 5 minutes (not in `make test`).
soak: build
	SKIP_BUILD=1 scripts/soak.sh 300

## libFuzzer targets (Fuzz/): JSON-RPC, the WebSocket request path, peer frames, AMQP frames; FUZZ_SECONDS each; findings in fuzz-out/.
fuzz: setup
	Fuzz/run.sh $(FUZZ_SECONDS)

clean:
	rm -rf .build
