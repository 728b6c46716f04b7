#!/usr/bin/env python3
"""Checks that one node serves on loopback: a WebSocket client subscribes, a backend emit with the API key
reaches it, a request without the key gets 401.

    node_serves.py --ws-port N --ms-port N --api-key KEY [--label TEXT]

Prints PASS/FAIL lines; exit 1 when one failed. Used by scripts/test-deploy-hosts.sh (supervisor, systemd).
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compose_test import Backend, Subscriber, WebSocketClosed  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--ws-port", type=int, required=True)
    parser.add_argument("--ms-port", type=int, required=True)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--label", default="node")
    args = parser.parse_args()
    backend = Backend(args.ms_port, args.api_key)
    failures = 0
    deadline = time.monotonic() + 15
    subscriber = None
    while subscriber is None:
        try:
            subscriber = Subscriber(args.ws_port, "probe")
        except (OSError, WebSocketClosed) as error:
            if time.monotonic() > deadline:
                print(f"FAIL: {args.label}: a WebSocket client subscribes ({error})")
                return 1
            time.sleep(0.2)
    status, answer = backend.emit("hello")
    ok = status == 200 and subscriber.wait_for("hello", 5)
    print(f"{'PASS' if ok else 'FAIL'}: {args.label}: a WebSocket client subscribes and receives an emit sent with the API key"
          + ("" if ok else f" ({status} {answer})"))
    failures += not ok
    status, _ = backend.post("ping", key=False)
    ok = status == 401
    print(f"{'PASS' if ok else 'FAIL'}: {args.label}: without the API key the answer is 401" + ("" if ok else f" (got {status})"))
    failures += not ok
    subscriber.ws.close()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
