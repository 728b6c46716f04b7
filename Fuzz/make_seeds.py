#!/usr/bin/env python3
"""Writes the hand-made seed inputs of each fuzz target into Fuzz/Corpus/<target>/seed-*.
The committed corpus also holds what the fuzzer grew (merged, minimized); rerunning this only rewrites seed-*."""
import hashlib, hmac, os, struct

here = os.path.dirname(os.path.abspath(__file__))

def write(target, name, data):
    d = os.path.join(here, "Corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)

# --- JSON-RPC bodies -------------------------------------------------------------------------------------
rpc = {
    "subscribe": b'{"jsonrpc":"2.0","method":"subscribe","params":{"channel":"news"},"id":1}',
    "emit": b'{"jsonrpc":"2.0","method":"emit","params":{"channel":"news","data":{"text":"hi","n":[1,-2.5e3,true,false,null]}},"id":"a"}',
    "notify_all": b'{"jsonrpc":"2.0","method":"notify_all","params":{"data":{}}}',
    "send_data_ws": b'{ "jsonrpc" : "2.0" , "method" : "send_data" , "params" : { "data" : { } , "channel" : "c\\u00e9\\ud83d\\ude00" } , "id" : null }',
    "batch": b'[{"jsonrpc":"2.0","method":"ping","id":1},{"jsonrpc":"2.0","method":"total_subscribers","params":{"channel":"x"},"id":2},3,{"jsonrpc":"1.0"}]',
    "escapes": b'{"jsonrpc":"2.0","method":"emit","params":{"channel":"\\"\\\\\\/\\b\\f\\n\\r\\t\\u0000","data":{"k\\u20ac":"\\ud800"}},"id":0.5e+1}',
    "params_array": b'{"jsonrpc":"2.0","method":"available_channels","params":[],"id":7}',
    "empty_batch": b'[]',
    "not_json": b'{"jsonrpc":"2.0",',
    "deep": b'{"jsonrpc":"2.0","method":"emit","params":{"channel":"d","data":{"a":[[[[{"b":[]}]]]]}},"id":1}',
}
for name, body in rpc.items():
    write("FuzzJSONRPC", name, body)

# --- WebSocket client byte streams (masked with key 0, so the payload is readable) ----------------------
def frame(opcode, payload, fin=True, key=b"\0\0\0\0"):
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack(">H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack(">Q", n)
    masked = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return head + key + masked

def text(s, **kw):
    return frame(0x1, s if isinstance(s, bytes) else s.encode(), **kw)

conn = "fuzz-1-1"
token = hmac.new(b"fuzz-secret", f"{conn}:private-room".encode(), hashlib.sha256).hexdigest()
ws = {
    "subscribe_send": text('{"jsonrpc":"2.0","method":"subscribe","params":{"channel":"news"},"id":1}')
        + text('{"jsonrpc":"2.0","method":"send_data","params":{"channel":"news","data":{"a":1}},"id":2}')
        + text('{"jsonrpc":"2.0","method":"unsubscribe","params":{"channel":"news"},"id":3}'),
    "fragmented": text('{"jsonrpc":"2.0","method":', fin=False) + frame(0x9, b"ping") + frame(0x0, b'"heartbeat","id":"h"}'),
    "batch": text('[{"jsonrpc":"2.0","method":"connection_id","id":1},{"jsonrpc":"2.0","method":"heartbeat"},{"jsonrpc":"2.0","method":"nope","id":2}]'),
    "private": text('{"jsonrpc":"2.0","method":"subscribe","params":{"channel":"private-room","token":"%s"},"id":1}' % token)
        + text('{"jsonrpc":"2.0","method":"subscribe","params":{"channel":"private-room","token":"00"},"id":2}'),
    "close": text('{"jsonrpc":"2.0","method":"heartbeat","id":1}') + frame(0x8, struct.pack(">H", 1000) + b"bye"),
    "masked_key": text('{"jsonrpc":"2.0","method":"heartbeat","id":1}', key=b"\x12\x34\x56\x78"),
    "utf8": text('{"jsonrpc":"2.0","method":"subscribe","params":{"channel":"caf\u00e9 \U0001F600"},"id":1}'),
    "binary": frame(0x2, b"\x00\x01"),
    "pong_ping": frame(0xA, b"") + frame(0x9, b"x" * 125),
    "long_text": text('{"jsonrpc":"2.0","method":"heartbeat","id":"%s"}' % ("x" * 200)),
}
for name, stream in ws.items():
    write("FuzzWebSocket", name, stream)

# --- Peer mesh streams: byte 0 = chunk size - 1, then [kind u8][len u32][payload] frames -----------------
def pf(kind, payload):
    return bytes([kind]) + struct.pack(">I", len(payload)) + payload

def ch8(s):
    b = s.encode()
    return bytes([len(b)]) + b

def varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])

def vstr(s):
    b = s.encode()
    return varint(len(b)) + b

def gossip(entries):
    out = varint(len(entries))
    for name, addr, inc, state, by in entries:
        out += vstr(name) + vstr(addr) + varint(inc) + bytes([state | (4 if by else 0)])
        if by:
            out += vstr(by)
    return out

g = gossip([("node-a", "10.0.0.1:59998", 3, 0, None), ("node-b", "10.0.0.2:59998", 300, 1, "node-a")])
membership = {
    "ping": bytes([1, 1]) + varint(42) + g,
    "pingreq": bytes([1, 2]) + varint(2**40) + vstr("node-c") + gossip([]),
    "ack": bytes([1, 3]) + varint(7) + g,
    "nack": bytes([1, 4]) + varint(0) + gossip([("n", "h:1", 0, 2, None)]),
    "sync": bytes([1, 5, 1]) + g,
}
u64 = lambda n: struct.pack(">Q", n)
u32 = lambda n: struct.pack(">I", n)
interest = {
    "delta": bytes([1, 1]) + ch8("node-a") + u64(1) + u64(1) + u32(2) + bytes([1]) + ch8("news") + bytes([2]) + ch8("old"),
    "ack": bytes([1, 2]) + ch8("node-a") + u64(1) + u64(5),
    "digest": bytes([1, 3]) + u32(2) + ch8("node-a") + u64(1) + u64(5) + ch8("node-b") + u64(2) + u64(0),
    "syncreq": bytes([1, 4]) + ch8("node-a") + u64(0) + u64(0),
    "snapshot": bytes([1, 5]) + ch8("node-a") + u64(3) + u64(9) + u32(0) + bytes([1]) + u32(2) + ch8("a") + ch8("b\u00e9"),
}
cluster = {
    "forward": pf(18, u64(1) + struct.pack(">q", 1700000000) + ch8("news") + b'{"a":1}'),
    "broadcast": pf(20, u64(0) + struct.pack(">q", -1) + b"{}"),
    "ack": pf(19, u64(1) + u32(3)),
    "stats": pf(21, u64(9)) + pf(22, u64(9) + u32(10) + u32(4) + u32(2) + ch8("news") + u32(3) + ch8("x") + u32(1)),
    "mesh": pf(1, b"hello") + pf(0, b""),
}
for name, payload in membership.items():
    write("FuzzPeerFrame", "membership-" + name, bytes([255]) + pf(16, payload))
for name, payload in interest.items():
    write("FuzzPeerFrame", "interest-" + name, bytes([255]) + pf(17, payload))
for name, stream in cluster.items():
    write("FuzzPeerFrame", "cluster-" + name, bytes([255]) + stream)
write("FuzzPeerFrame", "chunked", bytes([2]) + cluster["forward"] + pf(16, membership["ping"]) + pf(17, interest["delta"]))

# --- AMQP 0-9-1 broker streams (byte 0: chunk size; then frames as RabbitMQ sends them) --------------------
def af(kind, channel, payload):
    return struct.pack(">BHI", kind, channel, len(payload)) + payload + b"\xce"
def shortstr(s):
    return bytes([len(s)]) + s
def longstr(s):
    return struct.pack(">I", len(s)) + s
def method(cls, mid, args=b"", channel=0):
    return af(1, channel, struct.pack(">HH", cls, mid) + args)
table = (shortstr(b"product") + b"S" + longstr(b"RabbitMQ") + shortstr(b"capabilities") + b"F"
         + longstr(shortstr(b"basic.nack") + b"t\x01") + shortstr(b"n") + b"A" + longstr(b"I\x00\x00\x00\x01V")
         + shortstr(b"d") + b"d" + struct.pack(">d", 1.5) + shortstr(b"D") + b"D\x02" + struct.pack(">I", 314))
start = method(10, 10, b"\x00\x09" + longstr(table) + longstr(b"AMQPLAIN PLAIN") + longstr(b"en_US"))
tune = method(10, 30, struct.pack(">HIH", 2047, 131072, 60))
handshake = (start + tune + method(10, 41, shortstr(b"")) + method(20, 11, longstr(b""), 1)
             + method(50, 11, shortstr(b"rocketws") + struct.pack(">II", 3, 1), 1) + method(60, 11, b"", 1)
             + method(60, 21, shortstr(b"amq.ctag-1"), 1))
body = b'{"jsonrpc":"2.0","method":"emit","params":{"channel":"news","data":{"n":1}}}'
deliver = (method(60, 60, shortstr(b"amq.ctag-1") + struct.pack(">Q", 1) + b"\x00" + shortstr(b"") + shortstr(b"rocketws"), 1)
           + af(2, 1, struct.pack(">HHQH", 60, 0, len(body), 0x1000) + b"\x02") + af(3, 1, body[:30]) + af(3, 1, body[30:]))
amqp = {
    "handshake": handshake,
    "deliver": handshake + deliver + af(8, 0, b""),
    "close": handshake + method(10, 50, struct.pack(">H", 320) + shortstr(b"CONNECTION_FORCED") + struct.pack(">HH", 0, 0)),
    "channel_close": handshake + method(20, 40, struct.pack(">H", 406) + shortstr(b"PRECONDITION_FAILED") + struct.pack(">HH", 50, 10), 1),
    "cancel": handshake + method(60, 30, shortstr(b"amq.ctag-1") + b"\x00", 1),
    "version": b"AMQP\x00\x00\x09\x01",
}
for name, stream in amqp.items():
    write("FuzzAMQPFrame", name, bytes([255]) + stream)
write("FuzzAMQPFrame", "chunked", bytes([3]) + handshake + deliver)
