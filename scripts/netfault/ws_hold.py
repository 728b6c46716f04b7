#!/usr/bin/env python3
"""A WebSocket client that subscribes to channels and then only holds its connection: it reads what comes
(and answers pings only when --answer-pings) and prints one line per event. Used by the network-fault tests,
run inside a client network namespace: `ws_hold.py HOST PORT CHANNEL...`.
Prints `subscribed CHANNEL` after each acknowledgement, `message ...`, `ping`, `closed` (EOF)."""
import argparse, base64, json, os, socket, struct, sys

def frame(opcode, payload):
    mask = os.urandom(4)
    head = bytes([0x80 | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", n)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))

def read_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data

def read_frame(sock):
    b0, b1 = read_exact(sock, 2)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", read_exact(sock, 2))[0]
    elif n == 127:
        n = struct.unpack("!Q", read_exact(sock, 8))[0]
    return b0 & 0x0F, read_exact(sock, n)

def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("channels", nargs="+")
    parser.add_argument("--answer-pings", action="store_true")
    args = parser.parse_args()
    sock = socket.create_connection((args.host, args.port), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET / HTTP/1.1\r\nHost: {args.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += read_exact(sock, 1)
    if b" 101 " not in head.split(b"\r\n")[0]:
        print("refused", head.split(b"\r\n")[0].decode(), flush=True)
        return 1
    for i, channel in enumerate(args.channels):
        request = {"jsonrpc": "2.0", "id": i + 1, "method": "subscribe", "params": {"channel": channel}}
        sock.sendall(frame(1, json.dumps(request).encode()))
        while True:
            opcode, payload = read_frame(sock)
            if opcode == 1 and json.loads(payload).get("id") == i + 1:
                print("subscribed", channel, flush=True)
                break
    sock.settimeout(None)
    try:
        while True:
            opcode, payload = read_frame(sock)
            if opcode == 9:
                print("ping", flush=True)
                if args.answer_pings:
                    sock.sendall(frame(10, payload))
            elif opcode == 8:
                print("close", struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 0, flush=True)
            elif opcode == 1:
                print("message", payload.decode(), flush=True)
    except (EOFError, OSError):
        print("closed", flush=True)
    return 0

if __name__ == "__main__":
    sys.exit(main())
