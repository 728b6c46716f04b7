import NIOCore

/// When a silent WebSocket client is pinged and when it is dropped (`--ping-interval-s`, `--pong-timeout-s`).
public struct LivenessSettings: Sendable, Equatable {
    /// A client that has sent nothing for this long gets a ping frame.
    public var pingInterval: TimeAmount
    /// A pinged client that sends nothing (no pong, no frame) for this long is dropped.
    public var pongTimeout: TimeAmount

    public init(pingInterval: TimeAmount = .seconds(25), pongTimeout: TimeAmount = .seconds(10)) {
        precondition(pingInterval > .zero && pongTimeout > .zero, "ping interval and pong timeout must be positive")
        self.pingInterval = pingInterval
        self.pongTimeout = pongTimeout
    }

    /// How often each event loop's sweep looks at its connections: a tenth of the shorter of the two times,
    /// at most 1 s and at least 10 ms. A silent client is gone within ping interval + pong timeout plus at
    /// most two periods.
    public var sweepPeriod: TimeAmount {
        let tenth = TimeAmount.nanoseconds(min(pingInterval.nanoseconds, pongTimeout.nanoseconds) / 10)
        return min(.seconds(1), max(.milliseconds(10), tenth))
    }
}
