#!/usr/bin/env python3
"""Checks deploy/compose/docker-compose.yml names node1..nodeN and nginx with the right ports and environment.

    validate-compose.py COMPOSE_YAML [--resolved SECRET API_KEY]

COMPOSE_YAML is either the file itself (anchors and merge keys are resolved by PyYAML, ${...} stays as
written) or the output of `docker-compose config` (--resolved: variables substituted with the given
secret and API key). Prints one line per problem and exits 1 if there is any, 0 otherwise.
"""
import os
import re
import sys

import yaml

problems = []


def check(condition, message):
    if not condition:
        problems.append(message)
    return condition


def env_of(service):
    env = service.get("environment") or {}
    if isinstance(env, list):  # ["KEY=value", ...]
        env = dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
    return {key: (None if value is None else str(value)) for key, value in env.items()}


def published(port):
    """(published, target) of a short "58000:58000" or long {published, target} port entry."""
    if isinstance(port, dict):
        return str(port.get("published", "")), str(port.get("target", ""))
    text = str(port)
    parts = text.rsplit(":", 2)
    if len(parts) == 1:
        return "", parts[0]
    return parts[-2], parts[-1].split("/")[0]


def healthcheck_uses_healthz(service, name):
    test = (service.get("healthcheck") or {}).get("test")
    text = " ".join(test) if isinstance(test, list) else str(test)
    check("127.0.0.1:59999/healthz" in text, f"{name}: healthcheck does not query http://127.0.0.1:59999/healthz ({text!r})")


def main():
    if len(sys.argv) not in (2, 5) or (len(sys.argv) == 5 and sys.argv[2] != "--resolved"):
        print(__doc__, file=sys.stderr)
        return 2
    path = sys.argv[1]
    resolved = len(sys.argv) == 5
    secret, api_key = (sys.argv[3], sys.argv[4]) if resolved else (None, None)
    with open(path) as handle:
        document = yaml.safe_load(handle)
    compose_dir = os.path.dirname(os.path.abspath(path))

    services = document.get("services") or {}
    nodes = sorted((name for name in services if re.fullmatch(r"node\d+", name)), key=lambda n: int(n[4:]))
    check(nodes[:3] == ["node1", "node2", "node3"], f"expected services node1, node2, node3; found {nodes}")
    check("nginx" in services, "no nginx service")
    check(set(services) == set(nodes) | {"nginx"}, f"unexpected services: {sorted(set(services) - set(nodes) - {'nginx'})}")

    seeds = [f"{node}:59998" for node in nodes]
    for node in nodes:
        service = services[node]
        env = env_of(service)
        check(service.get("hostname") == node, f"{node}: hostname is {service.get('hostname')!r}, expected {node!r}")
        check(env.get("ROCKETWS_NODE_NAME") == node, f"{node}: ROCKETWS_NODE_NAME is {env.get('ROCKETWS_NODE_NAME')!r}")
        check(env.get("ROCKETWS_ADVERTISE") == f"{node}:59998", f"{node}: ROCKETWS_ADVERTISE is {env.get('ROCKETWS_ADVERTISE')!r}")
        join = [seed.strip() for seed in (env.get("ROCKETWS_JOIN") or "").split(",") if seed.strip()]
        check(sorted(join) == sorted(seeds), f"{node}: ROCKETWS_JOIN is {join}, expected every node's peer port {seeds}")
        for key, port in (("ROCKETWS_WS_CONN", 58000), ("ROCKETWS_MS_CONN", 59999), ("ROCKETWS_PEER_CONN", 59998)):
            value = env.get(key)
            check(value in (None, f"0.0.0.0:{port}", f":{port}"), f"{node}: {key} is {value!r}, expected 0.0.0.0:{port}")
        if resolved:
            check(env.get("ROCKETWS_CLUSTER_SECRET") == secret, f"{node}: ROCKETWS_CLUSTER_SECRET does not come from the environment")
            check(env.get("ROCKETWS_API_KEY") == api_key, f"{node}: ROCKETWS_API_KEY does not come from the environment")
        else:
            check(str(env.get("ROCKETWS_CLUSTER_SECRET", "")).startswith("${ROCKETWS_CLUSTER_SECRET:?"),
                  f"{node}: ROCKETWS_CLUSTER_SECRET must be ${{ROCKETWS_CLUSTER_SECRET:?...}} (required, from the environment)")
            check(str(env.get("ROCKETWS_API_KEY", "")).startswith("${ROCKETWS_API_KEY:?"),
                  f"{node}: ROCKETWS_API_KEY must be ${{ROCKETWS_API_KEY:?...}} (required, from the environment)")
        healthcheck_uses_healthz(service, node)
        build = service.get("build") or {}
        if check(isinstance(build, dict) and build.get("dockerfile"), f"{node}: no build.dockerfile"):
            context = build.get("context", ".")
            context = context if os.path.isabs(context) else os.path.join(compose_dir, context)
            check(os.path.isfile(os.path.join(context, "Package.swift")), f"{node}: build context {context} holds no Package.swift")
            check(os.path.isfile(os.path.join(context, build["dockerfile"])), f"{node}: {build['dockerfile']} not found in the build context")
        check(not service.get("ports"), f"{node}: publishes ports; only nginx should")

    nginx = services.get("nginx") or {}
    ports = {published(port) for port in nginx.get("ports") or []}
    targets = {target for _, target in ports}
    check({"58000", "59999"} <= targets, f"nginx: ports {sorted(ports)} do not publish 58000 and 59999")
    env = env_of(nginx)
    for key, port in (("ROCKETWS_WS_UPSTREAMS", 58000), ("ROCKETWS_MS_UPSTREAMS", 59999)):
        upstreams = [item.strip() for item in (env.get(key) or "").split(",") if item.strip()]
        expected = [f"{node}:{port}" for node in nodes]
        check(sorted(upstreams) == sorted(expected), f"nginx: {key} is {upstreams}, expected {expected}")
    depends = nginx.get("depends_on") or []
    depends = list(depends) if isinstance(depends, (list, dict)) else []
    check(sorted(depends) == sorted(nodes), f"nginx: depends_on {sorted(depends)}, expected {nodes}")
    mounts = " ".join(str(volume if not isinstance(volume, dict) else volume.get("source", "")) for volume in nginx.get("volumes") or [])
    check("nginx.conf.template" in mounts and "render-nginx-conf.sh" in mounts, "nginx: the template and render script are not mounted")
    command = nginx.get("command")
    command = " ".join(command) if isinstance(command, list) else str(command or "")
    check("render-nginx-conf.sh" in command and "daemon off;" in command, f"nginx: command does not render the config and run nginx in the foreground ({command!r})")
    healthcheck_uses_healthz(nginx, "nginx")

    for problem in problems:
        print(f"compose: {problem}")
    if not problems:
        print(f"compose: ok ({', '.join(nodes)} and nginx; {'docker-compose config' if resolved else 'PyYAML'})")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
