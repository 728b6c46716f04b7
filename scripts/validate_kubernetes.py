#!/usr/bin/env python3
"""Checks what deploy/README.md promises of the rendered deploy/kubernetes manifests (one multi-document YAML).

    validate_kubernetes.py RENDERED.yaml DOCKERFILE

Schema validity is kubernetes-validate's job (scripts/validate-kubernetes.sh); this checks how the parts fit:
the StatefulSet's seeds are its own pods' DNS names through its headless Service, probes hit /healthz on the
MessagesSource port, the grace period covers preStop plus the drain, the pod runs as the image's non-root
user on a read-only root file system, every secretKeyRef names a key of the Secret. PASS/FAIL lines; exit 1
when one failed.
"""
import re
import sys

import yaml

failures = 0


def check(ok, what):
    global failures
    failures += not ok
    print(f"{'PASS' if ok else 'FAIL'}: kubernetes: {what}")


def main():
    documents = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
    dockerfile = open(sys.argv[2]).read()
    by_kind = {}
    for d in documents:
        by_kind.setdefault(d["kind"], []).append(d)
    check(sorted(by_kind) == ["PodDisruptionBudget", "Secret", "Service", "StatefulSet"] and len(by_kind["Service"]) == 2,
          f"a StatefulSet, two Services, a PodDisruptionBudget and a Secret ({sorted(by_kind)})")
    sts = by_kind["StatefulSet"][0]
    spec = sts["spec"]
    pod = spec["template"]["spec"]
    container = pod["containers"][0]
    labels = spec["template"]["metadata"]["labels"]
    check(spec["replicas"] == 3 and spec.get("podManagementPolicy") == "Parallel", "3 replicas, parallel pod management")
    check(all(labels.get(k) == v for k, v in spec["selector"]["matchLabels"].items()), "the selector matches the pod labels")

    services = {s["metadata"]["name"]: s for s in by_kind["Service"]}
    headless = services.get(spec["serviceName"])
    check(headless is not None and headless["spec"].get("clusterIP") == "None" and headless["spec"].get("publishNotReadyAddresses") is True,
          f"serviceName {spec['serviceName']} is a headless Service with publishNotReadyAddresses")
    env = {e["name"]: e for e in container["env"]}
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    peer_port = ports.get("peer")
    expected_seeds = [f"{sts['metadata']['name']}-{i}.{spec['serviceName']}.$(POD_NAMESPACE).svc.cluster.local:{peer_port}"
                      for i in range(spec["replicas"])]
    check(env.get("ROCKETWS_JOIN", {}).get("value", "").split(",") == expected_seeds,
          "ROCKETWS_JOIN lists every pod's DNS name through the headless Service, on the peer port")
    check(env.get("ROCKETWS_ADVERTISE", {}).get("value") ==
          f"$(POD_NAME).{spec['serviceName']}.$(POD_NAMESPACE).svc.cluster.local:{peer_port}",
          "each pod advertises its own DNS name")
    names = [e["name"] for e in container["env"]]
    for uses in ("POD_NAME", "POD_NAMESPACE"):
        check(all(names.index(uses) < names.index(e["name"]) for e in container["env"] if f"$({uses})" in e.get("value", "")),
              f"$({uses}) is defined before the variables that expand it")
    for variable in ("ROCKETWS_WS_CONN", "ROCKETWS_MS_CONN", "ROCKETWS_PEER_CONN"):
        value = env.get(variable, {}).get("value", "")
        check(value.rsplit(":", 1)[-1] == str({"ROCKETWS_WS_CONN": ports.get("ws"), "ROCKETWS_MS_CONN": ports.get("ms"),
                                               "ROCKETWS_PEER_CONN": peer_port}[variable]),
              f"{variable}={value} matches the container port")
    peers = headless["spec"]["ports"] if headless else []
    check(any(p.get("targetPort") in ("peer", peer_port) for p in peers), "the headless Service exposes the peer port")
    clients = [s for n, s in services.items() if n != spec["serviceName"]]
    client_ports = {p.get("targetPort") for p in clients[0]["spec"]["ports"]} if clients else set()
    check(bool(clients) and {"ws", "ms"} <= client_ports and not clients[0]["spec"].get("publishNotReadyAddresses"),
          "a client Service on the WebSocket and MessagesSource ports, ready pods only")

    for probe in ("readinessProbe", "livenessProbe"):
        get = container.get(probe, {}).get("httpGet", {})
        check(get.get("path") == "/healthz" and get.get("port") in ("ms", ports.get("ms")), f"{probe} on /healthz of the MessagesSource port")
    pre_stop = container.get("lifecycle", {}).get("preStop", {})
    command = pre_stop.get("exec", {}).get("command", [])
    sleep = int(command[1]) if len(command) == 2 and command[0] == "sleep" else pre_stop.get("sleep", {}).get("seconds")
    match = re.search(r"stop_grace_period: (\d+)s", open(sys.argv[2].replace("Dockerfile", "docker-compose.yml")).read())
    drain = int(match.group(1)) if match else 15
    grace = pod.get("terminationGracePeriodSeconds", 30)
    check(sleep is not None and grace >= sleep + drain,
          f"terminationGracePeriodSeconds {grace} covers preStop ({sleep} s) plus the drain budget compose gives ({drain} s)")

    pod_security = pod.get("securityContext", {})
    security = container.get("securityContext", {})
    image_uid = re.search(r"useradd .*--uid (\d+)", dockerfile)
    check(pod_security.get("runAsNonRoot") is True and image_uid and pod_security.get("runAsUser") == int(image_uid.group(1)),
          f"runAsNonRoot, as the image's user (uid {image_uid.group(1) if image_uid else '?'})")
    check(security.get("readOnlyRootFilesystem") is True and security.get("allowPrivilegeEscalation") is False and
          security.get("capabilities", {}).get("drop") == ["ALL"], "read-only root file system, no privilege escalation, no capabilities")

    secret = by_kind["Secret"][0]
    keys = set((secret.get("stringData") or {}).keys()) | set((secret.get("data") or {}).keys())
    refs = [e["valueFrom"]["secretKeyRef"] for e in container["env"] if "secretKeyRef" in e.get("valueFrom", {})]
    check({"ROCKETWS_CLUSTER_SECRET", "ROCKETWS_API_KEY"} <= {e["name"] for e in container["env"] if "secretKeyRef" in e.get("valueFrom", {})}
          and all(r["name"] == secret["metadata"]["name"] and r["key"] in keys for r in refs),
          "the cluster secret and API key come from the Secret, by keys it has")
    pdb = by_kind["PodDisruptionBudget"][0]["spec"]
    check(pdb.get("maxUnavailable") == 1 and pdb["selector"]["matchLabels"] == spec["selector"]["matchLabels"],
          "PodDisruptionBudget maxUnavailable 1 over the StatefulSet's pods")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
