// ClusterKit peer mesh: overview (kept as a comment so SwiftPM sees no unhandled resource).
//
// # ClusterKit peer mesh
//
// One persistent HTTP/2 (h2c, prior knowledge) connection per peer pair. libnghttp2 does the HTTP/2
// framing (`nghttp2_session_mem_recv` / `mem_send`); SwiftNIO owns the sockets.
//
// | file | what |
// |---|---|
// | `PeerMesh.swift` | public facade: listener, `send`, link registry, tie breaks, shutdown |
// | `PeerMesh+Dialing.swift` | dial targets, jittered exponential backoff, redial after loss |
// | `PeerLink.swift` | one authenticated link: bounded outbound queue (mutex + buffer swap), counters |
// | `PeerConnectionHandler*.swift` | the ChannelHandler: drives the session, handshake, health, PING, drain |
// | `NghttpSession.swift` | owns `nghttp2_session*`; C callbacks -> a Swift delegate |
// | `PeerFrameDecoder.swift` | pure `[kind u8][len u32 BE][payload]` decoder (fuzzable) |
// | `PeerHandshake.swift` | header names, reserved kinds, HMAC proofs |
// | `MeshBenchmark.swift` | `MeshBenchmark.run(frames:size:)`, used by `rocketws-admin bench --mesh` |
//
// ## Wire protocol
// - The dialer opens `POST /v1/mesh` with `x-mesh-node`, `x-mesh-address`, `x-mesh-incarnation`,
//   `x-mesh-nonce`. The listener answers `200` with its own four values plus, with a cluster secret,
//   `x-mesh-proof = hex(HMAC-SHA256(secret, "rocketws-mesh-v1|listener|dn|ln|dialer|listener"))`.
// - The request body (dialer -> listener) and the response body (listener -> dialer) are the two
//   directions of one long-lived stream carrying mesh frames. No HEADERS per message.
// - Reserved kinds: 0 `proof` (dialer's HMAC with role `dialer`, first frame), 1 `welcome`
//   (listener accepted), 2 `duplicate` (listener kept another connection). Kinds 3-15 are ignored,
//   16-255 belong to the application. A frame of any other kind before `welcome`/`proof` closes the
//   connection and is counted as a refusal; an oversize length closes it as a protocol error.
// - `GET /v1/health` -> `200 {"status":"ok","node":"NAME"}` on any connection. With a secret, any
//   other path answers 401 (counted); without, 404.
//
// ## Ordering, acknowledgements, backpressure
// - Per-sender order: one queue per link, one stream per connection, TCP underneath.
// - The mesh has no delivery acknowledgements of its own: frames queued on a link that dies are
//   lost (at-most-once), and `send` answers `.notConnected` while no link exists. Acknowledgements
//   are application frames (the integrator's kinds), as in `MeshBenchmark`.
// - `send` appends to a per-link buffer under a mutex (bounded by `maxQueueBytes`, default 64 MiB;
//   overflow -> `.dropped`, counted) and wakes the event loop once per batch. The handler swaps the
//   whole buffer out, promises bytes to nghttp2 (`NGHTTP2_DATA_FLAG_NO_COPY`) and writes them as
//   slices; HTTP/2 flow control (16 MiB stream / 64 MiB connection windows, set explicitly) and the
//   channel's write-buffer water mark stop production when the peer stops reading, so memory per
//   link is bounded by the queue + the windows + the water mark.
//
// ## One link per pair
// When a second authenticated connection to the same peer name appears: a higher incarnation
// replaces the old link at once; a lower one is refused; with equal incarnations the connection
// dialed by the lexicographically smaller node name wins on both sides, and between two connections
// dialed by the same node the newer wins. A dial target that lost the tie break parks until that
// peer's link goes away, then redials with backoff.
//
// ## Limits and notes
// - The client opens exactly one stream per connection, so stream ids never run out in practice;
//   the PING timer still rotates (drains and redials) a connection past `rotateAfterStreamID`.
// - `nghttp2_session_del` does not call stream-close callbacks: the handler frees its per-stream
//   state in `tearDown`. `user_data` is an unretained pointer valid because the handler owns the
//   session and every call happens on its event loop.
//
// ## Performance (release, `MeshBenchmark.run(frames: 5_000_000, size: 100)`, 2-core shared box)
// - 105-120 ns of process CPU per 100-byte frame in steady state, end to end (producer
//   `PeerSender.send`, sender loop, kernel loopback, receiver decode + delegate, acks back):
//   about 40% is the producer (mutex + encode), the rest the two event loops and the kernel's
//   socket copies. Two idle cores would carry roughly 2 / 115 ns, well above 5 M frames/s.
// - Measured wall-clock rates swing with how much CPU the process gets: 6-7.7 M frames/s in
//   runs that had the cores, 2-4.5 M frames/s while the load average was 10-18 from other jobs.
// - What made it fast: NGHTTP2_DATA_FLAG_NO_COPY (queue slices written directly), 1 MiB DATA
//   frames, one wakeup per send batch with a buffer swap instead of per-frame hops, payloads as
//   slices of the socket read buffer, and no per-frame property access in the receive loop.
//   Copying DATA into the aggregation buffer instead of slicing measured ~40% more CPU per frame.
