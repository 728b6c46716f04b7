#!/usr/bin/env python3
"""Delays every packet of an NFQUEUE queue by a fixed time, for kernels without `tc netem`.
`nfq_delay.py QUEUE MILLISECONDS`: binds netfilter queue QUEUE (iptables `-j NFQUEUE --queue-num QUEUE
--queue-bypass`) and accepts each packet MILLISECONDS after it arrived, in arrival order. Speaks the
nfnetlink_queue protocol directly (no library). Prints `ready` once bound; runs until killed."""
import collections, select, socket, struct, sys, time

NETLINK_NETFILTER = 12
NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_PACKET, NFQNL_MSG_VERDICT, NFQNL_MSG_CONFIG = 0, 1, 2
NFQA_CFG_CMD, NFQA_CFG_PARAMS = 1, 2
NFQA_PACKET_HDR, NFQA_VERDICT_HDR = 1, 2
NFQNL_CFG_CMD_BIND = 1
NFQNL_COPY_META = 1
NF_ACCEPT = 1
NLM_F_REQUEST, NLM_F_ACK = 1, 4
NLMSG_ERROR = 2

def attr(kind, payload):
    length = 4 + len(payload)
    return struct.pack("=HH", length, kind) + payload + b"\0" * ((4 - length % 4) % 4)

def message(kind, queue, attrs, flags=NLM_F_REQUEST, seq=0):
    body = struct.pack("=BBH", socket.AF_UNSPEC, 0, socket.htons(queue)) + b"".join(attrs)
    return struct.pack("=IHHII", 16 + len(body), (NFNL_SUBSYS_QUEUE << 8) | kind, flags, seq, 0) + body

def main():
    queue, delay = int(sys.argv[1]), float(sys.argv[2]) / 1000
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
    sock.bind((0, 0))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.send(message(NFQNL_MSG_CONFIG, queue, [attr(NFQA_CFG_CMD, struct.pack("=BBH", NFQNL_CFG_CMD_BIND, 0, 0))], NLM_F_REQUEST | NLM_F_ACK, 1))
    sock.send(message(NFQNL_MSG_CONFIG, queue, [attr(NFQA_CFG_PARAMS, struct.pack("!IB", 0, NFQNL_COPY_META))], NLM_F_REQUEST | NLM_F_ACK, 2))
    print("ready", flush=True)
    pending = collections.deque()
    while True:
        now = time.monotonic()
        while pending and pending[0][0] <= now:
            _, packet_id = pending.popleft()
            sock.send(message(NFQNL_MSG_VERDICT, queue, [attr(NFQA_VERDICT_HDR, struct.pack("!II", NF_ACCEPT, packet_id))]))
        timeout = max(0.0, pending[0][0] - now) if pending else 1.0
        readable, _, _ = select.select([sock], [], [], timeout)
        if not readable:
            continue
        data = sock.recv(1 << 16)
        arrived = time.monotonic()
        offset = 0
        while offset + 16 <= len(data):
            length, kind, _, _, _ = struct.unpack_from("=IHHII", data, offset)
            if length < 16:
                break
            if kind == (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET:
                position = offset + 20
                while position + 4 <= offset + length:
                    alen, atype = struct.unpack_from("=HH", data, position)
                    if alen < 4:
                        break
                    if atype & 0x7FFF == NFQA_PACKET_HDR:
                        pending.append((arrived + delay, struct.unpack_from("!I", data, position + 4)[0]))
                    position += (alen + 3) & ~3
            elif kind == NLMSG_ERROR:
                code = struct.unpack_from("=i", data, offset + 16)[0]
                if code != 0:
                    print("netlink error", code, flush=True)
                    return 1
            offset += (length + 3) & ~3

if __name__ == "__main__":
    sys.exit(main())
