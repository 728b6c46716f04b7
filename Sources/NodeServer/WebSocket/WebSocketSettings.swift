import NIOCore

/// Settings of the WebSocket listener and of each client connection.
public struct WebSocketSettings: Sendable {
    /// Largest message (one frame, or a fragmented message in total) accepted; bigger ones are closed with 1009.
    public var maxMessageBytes: Int = 1 << 20 {
        willSet { precondition(newValue > 0, "maxMessageBytes must be positive") }
    }
    /// Bound of one client's send queue in bytes. A client whose queue passes it reads too slowly and is
    /// closed with 1008; the default leaves room for a burst of 100,000 small messages.
    public var maxQueueBytes: Int = 16 << 20 {
        willSet { precondition(newValue >= 1024, "maxQueueBytes must be at least 1 KiB") }
    }
    /// The shortest time between two write rounds of pushed frames on one event loop while CPU is spare.
    /// Zero (the default): an idle loop writes a message as soon as it gets to it, and batches grow only with
    /// the load (what is published during a round goes out in the next). Longer: every client gets at most one
    /// write per this interval, at this much added latency (a round after a quiet spell still starts at once).
    public var flushDelay: TimeAmount = .zero
    /// The longest the time between rounds stretches to while the loop is starved of CPU (its back-to-back
    /// rounds start late): fewer, larger writes then let more messages through. Back to `flushDelay` once
    /// rounds start on time again. Equal to (or shorter than) `flushDelay`: never stretched.
    public var maxFlushDelay: TimeAmount = .milliseconds(150)
    /// How long a closing client may take to answer our close frame before the TCP connection is cut.
    public var closeGrace: TimeAmount = .seconds(2)
    /// Most channels one connection may subscribe to.
    public var maxChannelsPerConnection: Int = 128
    /// Requests one connection may send per second (a token bucket with this size as its burst); more are
    /// answered with -32001 until tokens refill.
    public var maxRequestsPerSecond: Int = 200 {
        willSet { precondition(newValue > 0, "maxRequestsPerSecond must be positive") }
    }
    /// The secret backends sign private-channel tokens with; `private-` channels are refused without it.
    public var privateChannelSecret: String?
    /// `--token-secret`: the HS256 key of connection tokens; when set, every connection needs a token.
    public var tokenSecret: String?
    /// Most WebSocket connections this node accepts; further upgrades get HTTP 503.
    public var maxConnections: Int = 100_000
    /// When not empty, the `Origin` values allowed to open a WebSocket (browsers send one); others get 403.
    public var allowedOrigins: [String] = []
    /// When a silent client is pinged and dropped (`--ping-interval-s`, `--pong-timeout-s`).
    public var liveness = LivenessSettings()
    /// A connection whose first HTTP request head is not complete this long after it opened is closed
    /// (`--handshake-timeout-s`).
    public var handshakeTimeout: TimeAmount = .seconds(10)

    public init() {}
}
