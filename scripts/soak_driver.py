#!/usr/bin/env python3
"""Soak load for one RocketWS node: N WebSocket connections held open with subscribe/unsubscribe and
reconnect churn, and emits from a few keep-alive backend connections, for a given time. Samples the node's
RSS and open file descriptors every --sample seconds, disconnects everyone at the end, and prints a table and a
verdict (exit 1 on failure). Standard library only: a minimal RFC 6455 client on asyncio protocols.

  soak_driver.py --pid PID --ws 127.0.0.1:PORT --ms 127.0.0.1:PORT [--connections 10000] [--seconds 300]
"""
import argparse
import asyncio
import base64
import json
import os
import random
import resource
import sys
import time

OP_TEXT, OP_CLOSE, OP_PING, OP_PONG = 0x1, 0x8, 0x9, 0xA


class Stats:
    def __init__(self):
        self.pushes = 0
        self.emits = 0
        self.emitted = 0          # sum of the "emitted" counts the node answered
        self.emit_errors = 0
        self.rpc_errors = 0
        self.unexpected_closes = 0
        self.close_codes = {}
        self.subscribes = 0
        self.unsubscribes = 0
        self.reconnects = 0
        self.aborts = 0
        self.connect_failures = 0
        self.problems = []

    def problem(self, text):
        if len(self.problems) < 20:
            self.problems.append(text)


STATS = Stats()


def frame(opcode, payload):
    """A masked client frame."""
    n = len(payload)
    if n < 126:
        head = bytes([0x80 | opcode, 0x80 | n])
    elif n < 65536:
        head = bytes([0x80 | opcode, 0x80 | 126]) + n.to_bytes(2, "big")
    else:
        head = bytes([0x80 | opcode, 0x80 | 127]) + n.to_bytes(8, "big")
    key = os.urandom(4)
    if n:
        repeated = (key * (n // 4 + 1))[:n]
        payload = (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(n, "big")
    return head + key + payload


class WSClient(asyncio.Protocol):
    """One WebSocket connection: handshake, JSON-RPC calls by id, pushes counted, pings answered."""

    def __init__(self, host, port):
        self.host, self.port = host, port
        self.transport = None
        self.buffer = bytearray()
        self.upgraded = asyncio.get_running_loop().create_future()
        self.pending = {}
        self.next_id = 0
        self.closing = False      # we started the close
        self.closed = asyncio.get_running_loop().create_future()
        self.channels = set()
        self.close_code = None

    # asyncio.Protocol
    def connection_made(self, transport):
        self.transport = transport
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write((
            f"GET / HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())

    def data_received(self, data):
        self.buffer += data
        if not self.upgraded.done():
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(self.buffer[:end]).split(b"\r\n", 1)[0]
            del self.buffer[:end + 4]
            if b" 101 " not in status + b" ":
                self.upgraded.set_exception(ConnectionError(status.decode(errors="replace")))
                self.transport.close()
                return
            self.upgraded.set_result(None)
        self.parse()

    def parse(self):
        buf = self.buffer
        offset = 0
        while len(buf) - offset >= 2:
            b0, b1 = buf[offset], buf[offset + 1]
            n = b1 & 0x7F
            pos = offset + 2
            if n == 126:
                if len(buf) - pos < 2:
                    break
                n = int.from_bytes(buf[pos:pos + 2], "big")
                pos += 2
            elif n == 127:
                if len(buf) - pos < 8:
                    break
                n = int.from_bytes(buf[pos:pos + 8], "big")
                pos += 8
            if len(buf) - pos < n:
                break
            payload = bytes(buf[pos:pos + n])
            offset = pos + n
            self.on_frame(b0 & 0x0F, payload)
        del buf[:offset]

    def on_frame(self, opcode, payload):
        if opcode == OP_TEXT:
            if b'"__type"' in payload:
                STATS.pushes += 1
                return
            try:
                answer = json.loads(payload)
            except ValueError:
                STATS.problem(f"text frame not JSON: {payload[:100]!r}")
                return
            future = self.pending.pop(answer.get("id"), None)
            if future is None:
                STATS.problem(f"answer nobody waits for: {payload[:200]!r}")
            elif not future.done():
                future.set_result(answer)
        elif opcode == OP_PING:
            self.transport.write(frame(OP_PONG, payload))
        elif opcode == OP_CLOSE:
            self.close_code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else None
            if not self.closing:
                STATS.unexpected_closes += 1
                STATS.close_codes[self.close_code] = STATS.close_codes.get(self.close_code, 0) + 1
                STATS.problem(f"server closed a connection: {self.close_code} {payload[2:]!r}")
                self.transport.write(frame(OP_CLOSE, payload[:2]))
            self.transport.close()

    def connection_lost(self, exc):
        if not self.closing and self.close_code is None and self.upgraded.done():
            STATS.unexpected_closes += 1
            STATS.problem(f"connection lost without close frame: {exc}")
        if not self.upgraded.done():
            self.upgraded.set_exception(ConnectionError(f"connection lost during handshake: {exc}"))
        for future in self.pending.values():
            if not future.done():
                future.set_exception(ConnectionError("connection lost"))
        self.pending.clear()
        if not self.closed.done():
            self.closed.set_result(None)

    # API
    async def call(self, method, params=None, timeout=30):
        self.next_id += 1
        request_id = self.next_id
        future = asyncio.get_running_loop().create_future()
        self.pending[request_id] = future
        message = {"jsonrpc": "2.0", "method": method, "id": request_id}
        if params is not None:
            message["params"] = params
        self.transport.write(frame(OP_TEXT, json.dumps(message).encode()))
        answer = await asyncio.wait_for(future, timeout)
        if "error" in answer:
            STATS.rpc_errors += 1
            STATS.problem(f"{method} {params}: {answer['error']}")
            return None
        return answer.get("result")

    async def subscribe(self, channel):
        if await self.call("subscribe", {"channel": channel}) == "subscribed":
            self.channels.add(channel)
            STATS.subscribes += 1

    async def unsubscribe(self, channel):
        if await self.call("unsubscribe", {"channel": channel}) == "unsubscribed":
            self.channels.discard(channel)
            STATS.unsubscribes += 1

    async def close(self, timeout=5):
        if self.closed.done():
            return
        self.closing = True
        self.transport.write(frame(OP_CLOSE, (1000).to_bytes(2, "big")))
        try:
            await asyncio.wait_for(asyncio.shield(self.closed), timeout)
        except asyncio.TimeoutError:
            STATS.problem("server did not finish a close handshake in time")
            self.transport.abort()

    def abort(self):
        self.closing = True
        self.transport.abort()


async def open_client(host, port, channels):
    loop = asyncio.get_running_loop()
    _, client = await loop.create_connection(lambda: WSClient(host, port), host, port)
    await asyncio.wait_for(client.upgraded, 30)
    for channel in channels:
        await client.subscribe(channel)
    return client


class Backend:
    """One keep-alive HTTP/1.1 connection to the MessagesSource."""

    def __init__(self, host, port):
        self.host, self.port = host, port
        self.reader = self.writer = None
        self.next_id = 0

    async def call(self, method, params):
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.next_id += 1
        body = json.dumps({"jsonrpc": "2.0", "method": method, "params": params, "id": self.next_id}).encode()
        self.writer.write(
            f"POST / HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        head = await self.reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        answer = json.loads(await self.reader.readexactly(length))
        if "error" in answer:
            raise RuntimeError(answer["error"])
        return answer["result"]


async def node_leftovers(host, port):
    """What the node still holds once every client left: connections gauge, subscriptions, channels, metrics."""
    backend = Backend(host, port)
    total = (await backend.call("total_subscribers", {}))["total"]
    channels = await backend.call("available_channels", {})
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(f"GET /metrics HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode())
    text = (await reader.read(-1)).decode(errors="replace")
    writer.close()
    metrics = {}
    for line in text.split("\n"):
        parts = line.split(" ")
        if line.startswith("rocketws_") and len(parts) == 2:
            try:
                metrics[parts[0]] = float(parts[1])
            except ValueError:
                pass
    return total, channels, metrics


def node_sample(pid):
    rss = 0
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--pid", type=int, required=True)
    parser.add_argument("--ws", required=True)
    parser.add_argument("--ms", required=True)
    parser.add_argument("--connections", type=int, default=10000)
    parser.add_argument("--channels", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--emit-rate", type=float, default=100, help="emits per second, in total")
    parser.add_argument("--churn-rate", type=float, default=50, help="churn operations per second")
    parser.add_argument("--sample", type=float, default=10)
    parser.add_argument("--warmup", type=float, default=60, help="RSS is compared with the sample at this time")
    parser.add_argument("--json", help="write the samples and totals here")
    args = parser.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = args.connections + 1024
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard) if hard != resource.RLIM_INFINITY else want, hard))
    ws_host, ws_port = args.ws.rsplit(":", 1)
    ms_host, ms_port = args.ms.rsplit(":", 1)
    ws_port, ms_port = int(ws_port), int(ms_port)
    names = [f"soak-{i}" for i in range(args.channels)]
    rng = random.Random(7)

    def some_channels():
        return rng.sample(names, rng.choice((1, 1, 2, 3)))

    started = time.monotonic()
    samples = []   # (t, phase, open connections, rss KiB, fds, pushes/s, emits/s)
    clients = []
    phase = "connect"
    last = {"t": started, "pushes": 0, "emits": 0}

    def sample():
        now = time.monotonic()
        rss, fds = node_sample(args.pid)
        dt = max(now - last["t"], 1e-6)
        row = (round(now - started), phase, sum(1 for c in clients if not c.closed.done()), rss, fds,
               round((STATS.pushes - last["pushes"]) / dt), round((STATS.emits - last["emits"]) / dt))
        last.update(t=now, pushes=STATS.pushes, emits=STATS.emits)
        samples.append(row)
        print("  t=%4ds %-10s conns=%5d rss=%7.1f MiB fds=%5d pushes/s=%6d emits/s=%4d" %
              (row[0], row[1], row[2], row[3] / 1024, row[4], row[5], row[6]), flush=True)

    baseline_rss, baseline_fds = node_sample(args.pid)
    print(f"soak: node pid {args.pid}: RSS {baseline_rss / 1024:.1f} MiB, {baseline_fds} fds before any client", flush=True)
    sample()
    stop = asyncio.Event()

    async def sampler():
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), args.sample)
            except asyncio.TimeoutError:
                pass
            if not stop.is_set():
                sample()

    sampler_task = asyncio.create_task(sampler())

    # Connect everyone (bounded concurrency).
    gate = asyncio.Semaphore(200)

    async def connect_one():
        async with gate:
            for attempt in range(3):
                try:
                    clients.append(await open_client(ws_host, ws_port, some_channels()))
                    return
                except Exception as error:  # noqa: BLE001 (counted and reported)
                    STATS.connect_failures += 1
                    STATS.problem(f"connect: {error!r}")
                    await asyncio.sleep(0.5)

    await asyncio.gather(*(connect_one() for _ in range(args.connections)))
    connected_at = time.monotonic() - started
    print(f"soak: {len(clients)} connections open after {connected_at:.1f} s", flush=True)
    phase = "load"

    async def emitter(index, rate):
        backend = Backend(ms_host, ms_port)
        n = 0
        period = 1 / rate
        next_at = time.monotonic()
        while not stop.is_set():
            channel = rng.choice(names)
            try:
                result = await backend.call("emit", {"channel": channel, "data": {"emitter": index, "n": n, "pad": "x" * 64}})
                STATS.emits += 1
                STATS.emitted += result.get("emitted", 0)
            except Exception as error:  # noqa: BLE001
                STATS.emit_errors += 1
                STATS.problem(f"emit: {error!r}")
                backend = Backend(ms_host, ms_port)
            n += 1
            next_at += period
            delay = next_at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                next_at = time.monotonic()

    churners = 4

    async def churner():
        period = churners / args.churn_rate
        while not stop.is_set():
            await asyncio.sleep(period)
            if not clients:
                continue
            index = rng.randrange(len(clients))
            client = clients[index]
            roll = rng.random()
            try:
                if client.closed.done():
                    clients[index] = await open_client(ws_host, ws_port, some_channels())
                elif roll < 0.6:    # move to another channel
                    if client.channels:
                        await client.unsubscribe(rng.choice(sorted(client.channels)))
                    await client.subscribe(rng.choice(names))
                elif roll < 0.9:    # reconnect politely
                    await client.close()
                    STATS.reconnects += 1
                    clients[index] = await open_client(ws_host, ws_port, some_channels())
                else:               # drop the TCP connection without a close frame, then reconnect
                    client.abort()
                    STATS.aborts += 1
                    clients[index] = await open_client(ws_host, ws_port, some_channels())
            except Exception as error:  # noqa: BLE001
                STATS.problem(f"churn: {error!r}")

    async def heartbeats():
        while not stop.is_set():
            await asyncio.sleep(1)
            for client in rng.sample(clients, min(20, len(clients))):
                if not client.closed.done():
                    try:
                        await client.call("heartbeat")
                    except Exception as error:  # noqa: BLE001
                        STATS.problem(f"heartbeat: {error!r}")

    emitters = 4
    workers = [asyncio.create_task(emitter(i, args.emit_rate / emitters)) for i in range(emitters)]
    workers += [asyncio.create_task(churner()) for _ in range(churners)]
    workers.append(asyncio.create_task(heartbeats()))
    await asyncio.sleep(max(0.0, args.seconds - (time.monotonic() - started)))
    load_rss = node_sample(args.pid)[0]
    stop.set()
    await asyncio.gather(*workers, return_exceptions=True)
    await sampler_task
    phase = "disconnect"
    sample()

    # Everyone leaves; half politely, half by dropping TCP.
    closers = []
    for i, client in enumerate(clients):
        if client.closed.done():
            continue
        if i % 2:
            client.abort()
        else:
            closers.append(client.close())
    for chunk in range(0, len(closers), 500):
        await asyncio.gather(*closers[chunk:chunk + 500])
    # A politely closed connection can take up to the node's close grace (2 s) to go: wait (at most 30 s) until
    # the node holds no connection and its fds are back, then judge.
    deadline = time.monotonic() + 30
    while True:
        await asyncio.sleep(2)
        rss, fds = node_sample(args.pid)
        _, _, metrics = await node_leftovers(ms_host, ms_port)
        if (fds <= baseline_fds + 8 and metrics.get("rocketws_connections", 0) == 0) or time.monotonic() > deadline:
            break
    phase = "idle"
    sample()
    end_rss, end_fds = rss, fds
    left_subscribers, left_channels, metrics = await node_leftovers(ms_host, ms_port)

    # Verdict.
    warm = min((s for s in samples if s[1] == "load" and s[0] >= args.warmup), key=lambda s: s[0], default=None)
    load_samples = [s for s in samples if s[1] == "load"]
    final_load = load_samples[-1] if load_samples else None
    failures = []
    if warm and final_load:
        limit = warm[3] * 1.10 + 16 * 1024
        if final_load[3] > limit:
            failures.append(f"RSS not flat: {final_load[3] / 1024:.1f} MiB at {final_load[0]} s > "
                            f"{limit / 1024:.1f} MiB (sample at {warm[0]} s: {warm[3] / 1024:.1f} MiB + 10 % + 16 MiB)")
    else:
        failures.append("run too short for a warm-up sample")
    if end_fds > baseline_fds + 8:
        failures.append(f"file descriptors not released: {end_fds} open after disconnect, {baseline_fds} before")
    if len(clients) < args.connections or STATS.connect_failures:
        failures.append(f"connect failures: {STATS.connect_failures}")
    if STATS.unexpected_closes:
        failures.append(f"{STATS.unexpected_closes} connections closed by the server: {STATS.close_codes}")
    if metrics.get("rocketws_connections", 0) != 0 or left_subscribers != 0 or left_channels:
        failures.append(f"state left after everyone disconnected: connections gauge {metrics.get('rocketws_connections')}, "
                        f"{left_subscribers} subscriptions, {len(left_channels)} channels")
    if metrics.get("rocketws_dropped_slow_clients_total", 0):
        failures.append(f"{metrics['rocketws_dropped_slow_clients_total']:.0f} clients closed as slow")
    if STATS.emit_errors or STATS.rpc_errors:
        failures.append(f"{STATS.emit_errors} emit errors, {STATS.rpc_errors} JSON-RPC errors")

    print()
    print("soak: %d connections, %d channels, %.0f s (connect phase %.1f s)" % (args.connections, args.channels, args.seconds, connected_at))
    print("soak: %d emits (%d deliveries counted by the node, %d pushes received), %d subscribes, %d unsubscribes, "
          "%d polite reconnects, %d aborted connections" % (STATS.emits, STATS.emitted, STATS.pushes, STATS.subscribes,
                                                              STATS.unsubscribes, STATS.reconnects, STATS.aborts))
    print("soak: node RSS %.1f MiB idle -> %.1f MiB at %s s -> %.1f MiB end of load -> %.1f MiB after disconnect; "
          "fds %d idle -> %d under load -> %d after disconnect" % (
              baseline_rss / 1024, (warm[3] if warm else 0) / 1024, warm[0] if warm else "-", load_rss / 1024,
              end_rss / 1024, baseline_fds, max(s[4] for s in samples), end_fds))
    print("soak: after disconnect the node reports %s connections, %d subscriptions, %d channels; metrics: %s" % (
        metrics.get("rocketws_connections", "?"), left_subscribers, len(left_channels),
        ", ".join(f"{k[9:]}={v:.0f}" for k, v in sorted(metrics.items()) if k.endswith("_total") and "bucket" not in k)))
    for text in STATS.problems:
        print("  problem:", text)
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"samples": samples, "stats": vars(STATS), "failures": failures}, out, indent=1, default=str)
    for failure in failures:
        print("soak: FAIL:", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
