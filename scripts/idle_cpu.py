#!/usr/bin/env python3
"""Idle cost of a node: holds N WebSocket clients (each subscribed to one of 100 channels, answering pings
with pongs, otherwise silent) on one node for a while and reports the node's CPU time over that window, from
/proc/PID/stat (utime + stime), plus the pings the clients received. Standard library only.

  idle_cpu.py --pid PID --ws 127.0.0.1:PORT [--connections 10000] [--seconds 60] [--settle 5]
"""
import argparse, asyncio, base64, json, os, resource, struct, sys, time


class Client(asyncio.Protocol):
    pings = 0
    closed = 0

    def __init__(self, channel, ready):
        self.channel, self.ready, self.buffer, self.upgraded = channel, ready, b"", False

    def connection_made(self, transport):
        self.transport = transport
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write((f"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                         f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())

    def send(self, opcode, payload):
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.transport.write(bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked)

    def data_received(self, data):
        self.buffer += data
        if not self.upgraded:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            self.upgraded, self.buffer = True, self.buffer[end + 4:]
            self.send(1, json.dumps({"jsonrpc": "2.0", "id": 1, "method": "subscribe", "params": {"channel": self.channel}}).encode())
        while len(self.buffer) >= 2:
            length = self.buffer[1] & 0x7F
            header = 2 + (2 if length == 126 else 8 if length == 127 else 0)
            if len(self.buffer) < header:
                return
            if length == 126:
                length = struct.unpack("!H", self.buffer[2:4])[0]
            elif length == 127:
                length = struct.unpack("!Q", self.buffer[2:10])[0]
            if len(self.buffer) < header + length:
                return
            opcode, payload = self.buffer[0] & 0x0F, self.buffer[header:header + length]
            self.buffer = self.buffer[header + length:]
            if opcode == 9:
                Client.pings += 1
                self.send(10, payload)
            elif opcode == 1 and not self.ready.done() and b"subscribed" in payload:
                self.ready.set_result(True)

    def connection_lost(self, exc):
        Client.closed += 1


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--pid", type=int, required=True)
    parser.add_argument("--ws", required=True)
    parser.add_argument("--connections", type=int, default=10000)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--settle", type=float, default=5)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, args.connections + 100)), hard))
    host, port = args.ws.rsplit(":", 1)
    loop = asyncio.get_running_loop()
    readies = []
    for i in range(args.connections):
        ready = loop.create_future()
        await loop.create_connection(lambda: Client(f"idle-{i % 100}", ready), host, int(port))
        readies.append(ready)
    await asyncio.wait_for(asyncio.gather(*readies), 120)
    await asyncio.sleep(args.settle)
    pings_before, cpu_before, started = Client.pings, cpu_seconds(args.pid), time.monotonic()
    await asyncio.sleep(args.seconds)
    cpu, wall = cpu_seconds(args.pid) - cpu_before, time.monotonic() - started
    print(json.dumps({"connections": args.connections, "seconds": round(wall, 1), "node_cpu_s": round(cpu, 2),
                      "node_cpu_percent": round(100 * cpu / wall, 2), "pings_received": Client.pings - pings_before,
                      "closed_by_node": Client.closed}))


asyncio.run(main())
