#!/usr/bin/env python3
"""The compose cluster in a real Docker engine, checked from outside as a user would.

    compose_test.py --compose 'docker-compose -p P -f FILE --env-file ENV' --ws-port N --ms-port N --api-key KEY

scripts/test-compose.sh builds the image and calls this with the compose command it uses. Every check talks
to nginx's published ports on 127.0.0.1, or runs a command inside the project's own containers
(`docker exec`, `docker inspect`). Prints one PASS/FAIL line per check and MEASURE lines with timings;
exits 1 when a check failed. Python standard library only.
"""
import argparse
import base64
import json
import os
import shlex
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

NODES = ["node1", "node2", "node3"]
results = {"passed": 0, "failed": 0}


def check(ok, what, detail=""):
    key = "passed" if ok else "failed"
    results[key] += 1
    print(f"{'PASS' if ok else 'FAIL'}: {what}{(' (' + detail + ')') if detail else ''}", flush=True)
    return ok


def measure(what, seconds):
    print(f"MEASURE: {what}: {seconds:.2f} s", flush=True)


def run(cmd, timeout=120, check_rc=False):
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check_rc and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: exit {proc.returncode}: {proc.stderr.strip()}")
    return proc


# ---- a small RFC 6455 client ---------------------------------------------------------------------------------
class WebSocketClosed(Exception):
    pass


class WebSocket:
    """Blocking client: text frames out (masked), text/close/ping frames in."""

    def __init__(self, port, timeout=5.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise WebSocketClosed("closed during the handshake")
            head += chunk
        head, self.buffer = head.split(b"\r\n\r\n", 1)
        status = head.split(b"\r\n", 1)[0]
        if b" 101 " not in status + b" ":
            raise WebSocketClosed(f"handshake answered {status.decode(errors='replace')}")
        self.close_code = None
        self.next_id = 1

    def send_json(self, value):
        payload = json.dumps(value).encode()
        mask = os.urandom(4)
        length = len(payload)
        if length < 126:
            header = struct.pack("!BB", 0x81, 0x80 | length)
        elif length < 65536:
            header = struct.pack("!BBH", 0x81, 0x80 | 126, length)
        else:
            header = struct.pack("!BBQ", 0x81, 0x80 | 127, length)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def _read(self, count):
        while len(self.buffer) < count:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise WebSocketClosed("connection closed")
            self.buffer += chunk
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    def recv_json(self, timeout):
        """The next text message as JSON; socket.timeout when none comes in time; WebSocketClosed on close."""
        self.sock.settimeout(timeout)
        while True:
            first, second = self._read(2)
            opcode, length = first & 0x0F, second & 0x7F
            if length == 126:
                length = struct.unpack("!H", self._read(2))[0]
            elif length == 127:
                length = struct.unpack("!Q", self._read(8))[0]
            payload = self._read(length)
            if opcode == 0x1:
                return json.loads(payload)
            if opcode == 0x8:
                self.close_code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                raise WebSocketClosed(f"close frame {self.close_code}")
            if opcode == 0x9:  # ping: answer pong
                mask = os.urandom(4)
                self.sock.sendall(struct.pack("!BB", 0x8A, 0x80 | length) + mask +
                                  bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def call(self, method, params=None, timeout=5.0):
        """A JSON-RPC request; pushed messages that arrive meanwhile are kept in self.pushed."""
        request_id = self.next_id
        self.next_id += 1
        request = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            request["params"] = params
        self.send_json(request)
        deadline = time.monotonic() + timeout
        while True:
            message = self.recv_json(max(0.01, deadline - time.monotonic()))
            if message.get("id") == request_id:
                return message
            self.pushed.append(message)

    pushed = None

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class Subscriber:
    """A client through nginx subscribed to `room` and to a channel of its own (that tells which node holds it)."""

    def __init__(self, ws_port, name):
        self.ws_port = ws_port
        self.name = name
        self.ws = None
        self.received = []
        self.connect()

    def connect(self, timeout=5.0):
        self.ws = WebSocket(self.ws_port, timeout=timeout)
        self.ws.pushed = self.received
        for channel in ("room", f"who-{self.name}"):
            answer = self.ws.call("subscribe", {"channel": channel}, timeout=timeout)
            if answer.get("result") != "subscribed":
                raise WebSocketClosed(f"subscribe {channel}: {answer}")

    def wait_for(self, marker, timeout):
        """True once a pushed message with data {"marker": marker} arrived."""
        deadline = time.monotonic() + timeout
        while True:
            if any(m.get("marker") == marker for m in self.received):
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            try:
                self.received.append(self.ws.recv_json(left))
            except socket.timeout:
                return False

    def alive(self, timeout=0.05):
        """False when the connection was closed (a frame that arrives meanwhile is kept)."""
        try:
            self.received.append(self.ws.recv_json(timeout))
            return True
        except socket.timeout:
            return True
        except (WebSocketClosed, OSError):
            return False


# ---- the MessagesSource through nginx ------------------------------------------------------------------------
class Backend:
    def __init__(self, ms_port, api_key):
        self.url = f"http://127.0.0.1:{ms_port}/"
        self.api_key = api_key

    def post(self, method, params=None, key=True, timeout=5.0):
        body = {"jsonrpc": "2.0", "id": 1, "method": method}
        if params is not None:
            body["params"] = params
        request = urllib.request.Request(self.url, data=json.dumps(body).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        if key:
            request.add_header("Authorization", f"Bearer {self.api_key}")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(errors="replace")

    def emit(self, marker):
        return self.post("emit", {"channel": "room", "data": {"marker": marker}})

    def node_of(self, subscriber):
        """The node that holds the subscriber (total_subscribers of its own channel)."""
        status, answer = self.post("total_subscribers", {"channel": f"who-{subscriber.name}"})
        nodes = (answer.get("result") or {}).get("nodes") if status == 200 and isinstance(answer, dict) else None
        return next(iter(nodes), None) if nodes else None


# ---- docker --------------------------------------------------------------------------------------------------
class Cluster:
    def __init__(self, compose):
        self.compose = compose

    def container(self, service):
        out = run(self.compose + ["ps", "-q", service], check_rc=True).stdout.split()
        return out[0] if out else None

    def inspect(self, service, template):
        return run(["docker", "inspect", "-f", template, self.container(service)]).stdout.strip()

    def health(self, service):
        return self.inspect(service, "{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}")

    def members(self, service):
        """{name: state} as `rocketws-admin status --json` inside that node's container sees it."""
        proc = run(["docker", "exec", self.container(service), "rocketws-admin", "status", "--json"], timeout=20)
        if proc.returncode != 0:
            return None
        try:
            document = json.loads(proc.stdout)
        except ValueError:
            return None
        document = document.get("result", document)
        return {m["name"]: m["state"] for m in document.get("members", [])}


class StateWatch:
    """From now on, asks `cluster_status` through nginx every 50 ms (nginx spreads the calls over the live
    nodes; each answer names the node that gave it) and keeps the moment, in seconds after `origin`, at which
    each watcher node first reported `member` in `state`."""

    def __init__(self, backend, watchers, member, state, origin, timeout=30):
        self.seen = {}
        self.last = {}
        self.watchers = set(watchers)
        self.thread = threading.Thread(target=self._poll, args=(backend, member, state, origin, timeout), daemon=True)
        self.thread.start()

    def _poll(self, backend, member, state, origin, timeout):
        while time.monotonic() - origin < timeout and set(self.seen) != self.watchers:
            asked = time.monotonic()
            try:
                status, answer = backend.post("cluster_status", timeout=2)
            except OSError:
                status, answer = None, None
            result = answer.get("result") if status == 200 and isinstance(answer, dict) else None
            if result and result.get("node") in self.watchers:
                states = {m["name"]: m["state"] for m in result.get("members", [])}
                self.last[result["node"]] = states.get(member)
                if states.get(member) == state and result["node"] not in self.seen:
                    self.seen[result["node"]] = asked - origin
            time.sleep(0.05)

    def wait(self):
        """Seconds until every watcher reported it (None if one never did), and what each reported last."""
        self.thread.join()
        return (max(self.seen.values()) if set(self.seen) == self.watchers else None), self.last


def wait_until(predicate, timeout, interval=0.1):
    start = time.monotonic()
    while True:
        value = predicate()
        if value:
            return time.monotonic() - start, value
        if time.monotonic() - start > timeout:
            return None, value
        time.sleep(interval)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--compose", required=True)
    parser.add_argument("--ws-port", type=int, required=True)
    parser.add_argument("--ms-port", type=int, required=True)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--clients", type=int, default=6)
    args = parser.parse_args()
    cluster = Cluster(shlex.split(args.compose))
    backend = Backend(args.ms_port, args.api_key)
    services = NODES + ["nginx"]

    # ---- up ----------------------------------------------------------------------------------------------
    start = time.monotonic()
    up = run(cluster.compose + ["up", "-d", "--no-build"], timeout=300)
    if not check(up.returncode == 0, "compose up -d", up.stderr.strip().splitlines()[-1] if up.returncode else ""):
        print(up.stderr)
        return
    elapsed, _ = wait_until(lambda: all(cluster.health(s) == "healthy" for s in services), 180, 0.2)
    states = {s: cluster.health(s) for s in services}
    if not check(elapsed is not None, "every container turns healthy", ", ".join(f"{k}={v}" for k, v in states.items())):
        for service in services:
            print(run(cluster.compose + ["logs", "--tail", "20", service]).stdout)
        return
    measure("compose up to all four containers healthy", time.monotonic() - start)

    # ---- users -------------------------------------------------------------------------------------------
    for service in NODES:
        container = cluster.container(service)
        status = run(["docker", "exec", container, "cat", "/proc/1/status"]).stdout
        uid_line = next((line for line in status.splitlines() if line.startswith("Uid:")), "Uid: ?")
        uids = uid_line.split()[1:]
        command = run(["docker", "exec", container, "cat", "/proc/1/comm"]).stdout.strip()
        check(command == "rocketws-node" and uids and all(u.isdigit() and u != "0" for u in uids),
              f"{service}: the node process (pid 1, {command}) runs as a non-root uid", uid_line)

    # ---- membership --------------------------------------------------------------------------------------
    proc = run(["docker", "exec", cluster.container("node1"), "rocketws-admin", "status"], timeout=20)
    print("  rocketws-admin status in node1:\n" + "\n".join("    " + line for line in proc.stdout.splitlines()))
    elapsed, members = wait_until(lambda: (m := cluster.members("node1")) and
                                  sorted(n for n, s in m.items() if s == "alive") == NODES and m, 30, 0.5)
    check(elapsed is not None, "rocketws-admin status inside node1 shows 3 alive members", json.dumps(members))

    # ---- API key -----------------------------------------------------------------------------------------
    status, answer = backend.post("ping", key=False)
    check(status == 401, "emit/ping through nginx without the API key is answered 401", f"got {status}")
    status, answer = backend.post("ping")
    check(status == 200 and isinstance(answer, dict) and answer.get("result") == {"ping": "ok"},
          "ping through nginx with the API key", f"{status} {answer}")

    # ---- subscribe and emit through nginx -----------------------------------------------------------------
    subscribers = [Subscriber(args.ws_port, f"c{i}") for i in range(args.clients)]
    placement = {s.name: backend.node_of(s) for s in subscribers}
    print(f"  clients by node: {placement}")
    check(all(placement.values()), "every client through nginx is subscribed on a node", json.dumps(placement))
    status, answer = backend.emit("first")
    got = [s.wait_for("first", 5) for s in subscribers]
    check(status == 200 and all(got), f"an emit through nginx with the key reaches all {len(subscribers)} clients",
          f"{status} {answer}; received by {sum(got)}")

    # ---- docker kill ------------------------------------------------------------------------------------
    held = {}
    for s in subscribers:
        held.setdefault(placement[s.name], []).append(s)
    victim = max(NODES, key=lambda n: len(held.get(n, [])))
    others = [n for n in NODES if n != victim]
    on_victim = held.get(victim, [])
    victim_container = cluster.container(victim)
    kill_started = time.monotonic()
    run(["docker", "kill", victim_container], check_rc=True)
    killed_at = time.monotonic()
    dead_watch = StateWatch(backend, others, victim, "dead", kill_started)
    # Emits right away, while the others may not yet know: clients on the other nodes receive them.
    status, answer = backend.emit("after-kill")
    emit_ok = status == 200
    survivors = [s for s in subscribers if s not in on_victim]
    got = [s.wait_for("after-kill", 5) for s in survivors]
    check(emit_ok and all(got), f"emits keep working after docker kill {victim} (clients on the others receive)",
          f"{status} {answer}; {sum(got)}/{len(survivors)}")

    # Clients that were on the killed node see their connection close and reconnect through nginx.
    reconnect_times = []
    pending = list(on_victim)
    deadline = time.monotonic() + 20
    while pending and time.monotonic() < deadline:
        for s in list(pending):
            if s.alive(0.02):
                continue
            try:
                s.connect(timeout=3)
                reconnect_times.append(time.monotonic() - killed_at)
                pending.remove(s)
            except (OSError, WebSocketClosed):
                time.sleep(0.05)
    check(not pending and len(on_victim) > 0,
          f"the {len(on_victim)} clients on {victim} reconnect through nginx",
          f"{len(pending)} still out" if pending else "")
    if reconnect_times:
        measure(f"docker kill {victim} to its clients reconnected and resubscribed through nginx (slowest of {len(reconnect_times)})",
                max(reconnect_times))
    moved = {s.name: backend.node_of(s) for s in on_victim}
    check(all(n in others for n in moved.values()), "the reconnected clients are on the other nodes", json.dumps(moved))
    status, answer = backend.emit("after-reconnect")
    got = [s.wait_for("after-reconnect", 5) for s in subscribers]
    check(status == 200 and all(got), "an emit after the reconnects reaches every client, the moved ones too",
          f"received by {sum(got)}/{len(subscribers)}")

    dead_after, seen = dead_watch.wait()
    check(dead_after is not None and dead_after <= 5.0, f"{victim} is dead on {' and '.join(others)} within 5 s",
          f"seen dead after {dead_after:.2f} s" if dead_after is not None else f"last seen: {seen}")
    if dead_after is not None:
        measure(f"docker kill {victim} to dead on both others (cluster_status through nginx)", dead_after)

    # ---- docker start --------------------------------------------------------------------------------------
    started_at = time.monotonic()
    run(["docker", "start", victim_container], check_rc=True)
    alive_watch = StateWatch(backend, others, victim, "alive", started_at)
    # New clients through nginx from now on until one lands on the restarted node (least_conn prefers it: it
    # has none); the ones that land elsewhere stay connected.
    newcomers = []
    first_on_victim = None
    while time.monotonic() - started_at < 30 and first_on_victim is None and len(newcomers) < 200:
        try:
            client = Subscriber(args.ws_port, f"n{len(newcomers)}")
        except (OSError, WebSocketClosed):
            time.sleep(0.05)
            continue
        newcomers.append(client)
        if backend.node_of(client) == victim:
            first_on_victim = time.monotonic() - started_at
        else:
            time.sleep(0.05)
    check(first_on_victim is not None, f"a new client through nginx is served by the restarted {victim}",
          f"the {len(newcomers)}th new client since docker start")
    if first_on_victim is not None:
        measure(f"docker start {victim} to the first new client through nginx on it", first_on_victim)
    alive_after, seen = alive_watch.wait()
    check(alive_after is not None, f"docker start {victim}: alive again on the others",
          f"after {alive_after:.2f} s" if alive_after is not None else f"last seen: {seen}")
    if alive_after is not None:
        measure(f"docker start {victim} to alive on both others (cluster_status through nginx)", alive_after)
    status, answer = backend.emit("after-restart")
    everyone = subscribers + newcomers
    got = [s.wait_for("after-restart", 5) for s in everyone]
    check(status == 200 and all(got), "an emit after the restart reaches every client", f"{sum(got)}/{len(everyone)}")

    # ---- docker stop ---------------------------------------------------------------------------------------
    stopped = others[-1]
    stop_started = time.monotonic()
    proc = run(["docker", "stop", cluster.container(stopped)], timeout=60)
    stop_took = time.monotonic() - stop_started
    exit_code = cluster.inspect(stopped, "{{.State.ExitCode}}")
    check(proc.returncode == 0 and exit_code == "0", f"docker stop {stopped}: the container exits 0",
          f"exit code {exit_code}, stop took {stop_took:.2f} s")
    measure(f"docker stop {stopped}", stop_took)
    remaining = [n for n in NODES if n != stopped]
    elapsed, seen = wait_until(lambda: all((cluster.members(n) or {}).get(stopped) == "left" for n in remaining), 15, 0.2)
    check(elapsed is not None, f"{stopped} is 'left' on the others", json.dumps(seen) if elapsed is None else "")

    for s in everyone:
        s.ws.close()

    # ---- down ------------------------------------------------------------------------------------------------
    project_label = f"label=com.docker.compose.project={project_name(cluster.compose)}"
    proc = run(cluster.compose + ["down", "--remove-orphans", "--timeout", "20"], timeout=120)
    left_over = run(["docker", "ps", "-a", "-q", "--filter", project_label]).stdout.split()
    networks = run(["docker", "network", "ls", "-q", "--filter", project_label]).stdout.split()
    check(proc.returncode == 0 and not left_over and not networks, "compose down leaves no container and no network",
          f"containers {left_over}, networks {networks}")


def project_name(compose):
    return compose[compose.index("-p") + 1] if "-p" in compose else "compose"


if __name__ == "__main__":
    try:
        main()
    except Exception as error:  # a broken step is a failure, with the reason
        check(False, "the compose test ran to its end", f"{type(error).__name__}: {error}")
    print(f"{results['passed']} passed, {results['failed']} failed")
    sys.exit(1 if results["failed"] else 0)
