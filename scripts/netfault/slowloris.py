#!/usr/bin/env python3
"""Opens COUNT connections to HOST:PORT, sends each an unfinished request head (`GET / HTTP/1.1\r\nHost: x\r\n`)
and then nothing; waits up to WAIT seconds for the server to close them. Prints one JSON line:
{"opened": N, "closed": N, "max_close_s": T} (closed = connections the server ended). Used by the fault tests."""
import json, resource, selectors, socket, sys, time

def main():
    host, port, count, wait = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, count + 64)), hard))
    selector = selectors.DefaultSelector()
    started = time.monotonic()
    opened = 0
    for _ in range(count):
        sock = socket.create_connection((host, port), timeout=10)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ)
        opened += 1
    print(json.dumps({"event": "opened", "opened": opened}), flush=True)
    closed, last = 0, 0.0
    deadline = started + wait
    while closed < opened and time.monotonic() < deadline:
        for key, _ in selector.select(timeout=0.2):
            sock = key.fileobj
            try:
                data = sock.recv(4096)
            except (ConnectionResetError, OSError):
                data = b""
            if not data:
                selector.unregister(sock)
                sock.close()
                closed += 1
                last = time.monotonic() - started
    print(json.dumps({"event": "done", "opened": opened, "closed": closed, "max_close_s": round(last, 3)}), flush=True)

if __name__ == "__main__":
    main()
