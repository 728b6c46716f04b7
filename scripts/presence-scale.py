#!/usr/bin/env python3
"""Presence at scale on three local nodes (loopback only; bounded in count and time).

  scripts/presence-scale.py [--members N] [--bin .build/debug]

Starts n1..n3 with --token-secret, connects N members (round-robin over the nodes, each with its own user and
?token=, subscribed to "room" with presence) plus a watcher on n1, then measures: presence_stats answer time
and presence list time (medians, on each node), gossip bytes per join (bytes sent on the peer sockets while
the members joined, minus an idle window of the same length, per join and peer), node memory per member (RSS
growth while the members subscribed with presence, connections already open), and a reconnect storm (all
members close and come back within the hold): the watcher counts the leaves and joins announced.

Every member receives every later member's join (N^2/2 pushes in all): member sockets are drained unread.
The script speaks WebSocket itself (stdlib only) and signs tokens with hmac (HS256).
"""
import argparse, asyncio, base64, hashlib, hmac, json, os, re, resource, signal, statistics, struct, subprocess, sys, time, urllib.request

SECRET = "presence-scale-secret-0123456789abcdef"
PORTS = [(58101 + i, 59801 + i, 57601 + i) for i in range(3)]  # ws, ms, peer


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token(user: str) -> str:
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(json.dumps({"sub": user, "exp": int(time.time()) + 3600, "info": {"name": user}}).encode())
    sig = hmac.new(SECRET.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(sig)}"


def rpc(ms_port: int, method: str, params=None):
    request = {"jsonrpc": "2.0", "id": 1, "method": method}
    if params is not None:
        request["params"] = params
    body = json.dumps(request).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{ms_port}/", data=body, headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as answer:
        return json.loads(answer.read())["result"]


def timed(ms_port, method, params, runs):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        result = rpc(ms_port, method, params)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000, result


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return int(re.search(r"VmRSS:\s+(\d+)", status.read()).group(1))


def peer_bytes_sent() -> int:
    """Bytes sent on every TCP socket between the nodes' peer ports (both directions' senders)."""
    out = subprocess.run(["ss", "-tin"], capture_output=True, text=True).stdout
    peer = {str(p) for _, _, p in PORTS}
    total, lines = 0, out.splitlines()
    for i, line in enumerate(lines):
        parts = line.split()
        if len(parts) >= 5 and parts[0] == "ESTAB":
            local, remote = parts[3].rsplit(":", 1)[-1], parts[4].rsplit(":", 1)[-1]
            # Both ends of every link: each socket's bytes_sent is what that end sent.
            if (local in peer or remote in peer) and i + 1 < len(lines):
                m = re.search(r"bytes_sent:(\d+)", lines[i + 1])
                if m:
                    total += int(m.group(1))
    return total


class WS:
    """A minimal WebSocket client: handshake, masked text frames out, frames in."""

    async def open(self, port: int, path: str):
        self.r, self.w = await asyncio.open_connection("127.0.0.1", port)
        key = base64.b64encode(os.urandom(16)).decode()
        self.w.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
        head = await self.r.readuntil(b"\r\n\r\n")
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise RuntimeError(head.split(b"\r\n")[0].decode())
        self.next_id = 0
        return self

    def send(self, obj):
        data = json.dumps(obj).encode()
        mask = os.urandom(4)
        n = len(data)
        header = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack(">H", n))
        self.w.write(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def pong(self, payload: bytes):
        mask = os.urandom(4)
        self.w.write(bytes([0x8A, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    async def frame(self):
        b0, b1 = await self.r.readexactly(2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack(">H", await self.r.readexactly(2))[0]
        elif n == 127:
            n = struct.unpack(">Q", await self.r.readexactly(8))[0]
        return b0 & 0x0F, await self.r.readexactly(n)

    async def call(self, method, params):
        self.next_id += 1
        self.send({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params})
        while True:
            opcode, payload = await self.frame()
            if opcode == 8:
                raise RuntimeError(f"closed: {payload[:2].hex()}")
            message = json.loads(payload)
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(message["error"])
                return message["result"]

    async def drain(self):
        try:
            while await self.r.read(1 << 16):
                pass
        except Exception:
            pass

    def close(self):
        self.w.close()


async def member(i: int, subscribe_presence: bool, node: int = None):
    ws_port = PORTS[(i if node is None else node) % 3][0]
    client = await WS().open(ws_port, f"/?token={token(f'user{i}')}")
    await client.call("subscribe", {"channel": "plain"})
    if subscribe_presence:
        await client.call("subscribe", {"channel": "room", "presence": True})
    return client


async def gather_limited(coros, limit=200):
    semaphore = asyncio.Semaphore(limit)

    async def run(coro):
        async with semaphore:
            return await coro

    return await asyncio.gather(*(run(c) for c in coros))


class Watcher:
    def __init__(self):
        self.joins, self.leaves = 0, 0
        self.left_users = []

    async def run(self, client):
        try:
            while True:
                opcode, payload = await client.frame()
                if opcode == 8:
                    return
                if opcode == 9:
                    client.pong(payload)
                if opcode == 1:
                    message = json.loads(payload)
                    kind = message.get("__type")
                    self.joins += kind == "join"
                    self.leaves += kind == "leave"
                    if kind == "leave":
                        self.left_users.append(message.get("user"))
        except Exception:
            return


async def scenario(n: int, pids):
    watcher_client = await WS().open(PORTS[0][0], f"/?token={token('watcher')}")
    await watcher_client.call("subscribe", {"channel": "room", "presence": True})
    watcher = Watcher()
    asyncio.get_running_loop().create_task(watcher.run(watcher_client))

    start = time.perf_counter()
    clients = await gather_limited([member(i, False) for i in range(n)])
    print(f"{n} connections open in {time.perf_counter() - start:.1f} s", flush=True)
    for c in clients:
        asyncio.get_running_loop().create_task(c.drain())
    await asyncio.sleep(2)
    rss_before = sum(rss_kib(p) for p in pids)
    idle_start = peer_bytes_sent()
    await asyncio.sleep(5)
    idle_bytes = peer_bytes_sent() - idle_start

    # Members join presence (their answers are read by the drain tasks: send without waiting).
    bytes_start, start = peer_bytes_sent(), time.perf_counter()
    for i, c in enumerate(clients):
        c.send({"jsonrpc": "2.0", "id": 99, "method": "subscribe", "params": {"channel": "room", "presence": True}})
    for _ in range(600):
        if rpc(PORTS[2][1], "presence_stats", {"channel": "room"})["users"] >= n + 1 and \
           rpc(PORTS[1][1], "presence_stats", {"channel": "room"})["users"] >= n + 1:
            break
        await asyncio.sleep(0.1)
    join_time = time.perf_counter() - start
    await asyncio.sleep(max(0.0, 5 - join_time))
    join_bytes = peer_bytes_sent() - bytes_start - idle_bytes * max(join_time, 5) / 5
    print(f"{n} members joined and visible on every node in {join_time:.2f} s", flush=True)
    await asyncio.sleep(3)
    rss_after = sum(rss_kib(p) for p in pids)

    for node, (_, ms, _) in enumerate(PORTS):
        stats_ms, stats = timed(ms, "presence_stats", {"channel": "room"}, 21)
        list_ms, listed = timed(ms, "presence", {"channel": "room"}, 5)
        print(f"n{node + 1}: presence_stats {stats} median {stats_ms:.2f} ms; presence list of {len(listed['members'])} median {list_ms:.1f} ms")
    print(f"gossip: {join_bytes / n / 2:.0f} bytes per join per peer (peer-socket bytes while joining, idle traffic subtracted)")
    print(f"memory: {(rss_after - rss_before) * 1024 / n:.0f} bytes per member over the three nodes (subscription + presence, connection already open)")
    print(f"watcher saw {watcher.joins} joins so far")

    # Reconnect storm: everyone closes and comes back (to the next node) within the hold.
    joins_before, leaves_before = watcher.joins, watcher.leaves
    start = time.perf_counter()
    away = {}

    async def come_back(i):
        closed_at = time.perf_counter()
        clients[i].close()
        client = await WS().open(PORTS[(i + 1) % 3][0], f"/?token={token(f'user{i}')}")
        await client.call("subscribe", {"channel": "room", "presence": True})
        away[f"user{i}"] = time.perf_counter() - closed_at
        return client

    clients = await gather_limited([come_back(i) for i in range(n)], limit=1000)
    storm = time.perf_counter() - start
    await asyncio.sleep(8)
    left = watcher.left_users[leaves_before:]
    within = [u for u, t in away.items() if t < 5]
    wrongly = [u for u in left if away.get(u, 99) < 5]
    print(f"reconnect storm: {n} members closed and came back (to the next node) in {storm:.2f} s; "
          f"{len(within)} were back within 5 s; the watcher then saw {watcher.leaves - leaves_before} leaves and "
          f"{watcher.joins - joins_before} joins; leaves of users back within 5 s: {len(wrongly)}")
    stats = rpc(PORTS[1][1], "presence_stats", {"channel": "room"})
    print(f"after the storm: {stats}")
    for c in clients:
        c.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--bin", default=".build/debug")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4 * args.members + 1024), hard))
    procs = []
    try:
        for i, (ws, ms, peer) in enumerate(PORTS):
            join = ["--join", f"127.0.0.1:{PORTS[0][2]}"] if i else []
            procs.append(subprocess.Popen(
                [f"{args.bin}/rocketws-node", "--node-name", f"n{i + 1}", "--ws-conn", f"127.0.0.1:{ws}", "--ms-conn", f"127.0.0.1:{ms}",
                 "--peer-conn", f"127.0.0.1:{peer}", "--advertise", f"127.0.0.1:{peer}", "--token-secret", SECRET,
                 # The drained member sockets never answer pings: no liveness drops during the run.
                 "--ping-interval-s", "3600", *join],
                stdout=open(f"/tmp/presence-scale-n{i + 1}.log", "w"), stderr=subprocess.STDOUT))
        for _ in range(150):
            try:
                if all(sum(m["state"] == "alive" for m in rpc(ms, "cluster_status")["members"]) == 3 for _, ms, _ in PORTS):
                    break
            except Exception:
                pass
            time.sleep(0.2)
        else:
            sys.exit("nodes did not come up")
        asyncio.run(asyncio.wait_for(scenario(args.members, [p.pid for p in procs]), timeout=1200))
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


if __name__ == "__main__":
    main()
