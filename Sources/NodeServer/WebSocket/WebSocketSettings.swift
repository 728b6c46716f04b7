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
    /// The shortest time between two flushes of pushed frames on one event loop: under load, one write per
    /// client carries every message of the window instead of one syscall each; a message after a quiet spell
    /// this long leaves at once. Adds at most this to latency (0: every loop pass flushes).
    public var flushDelay: TimeAmount = .milliseconds(50)
    /// The longest the window between flushes stretches while the machine's CPUs are saturated (the fan-out
    /// loops' timers run late): fewer, larger writes then let more messages through. Back to `flushDelay` once
    /// CPU is spare again. Equal to (or shorter than) `flushDelay`: never stretched.
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
