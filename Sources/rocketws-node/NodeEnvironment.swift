import RocketWSProtocol

extension Environment {
    /// The node's flags that a `ROCKETWS_*` variable can give (``Environment/merged(_:options:)``).
    static let nodeOptions = [
        "ws-conn", "ms-conn", "peer-conn", "node-name", "advertise", "join", "cluster-secret", "peer-queue-bytes", "api-key",
        "max-message-bytes", "max-queue-bytes", "max-channels", "max-connections", "allowed-origins", "max-requests-per-second", "private-channel-secret", "token-secret", "flush-delay-us", "max-flush-delay-us", "fan-out-nice", "threads", "log-level",
        "ping-interval-s", "pong-timeout-s", "handshake-timeout-s", "http-idle-timeout-s",
        "amqp-url", "amqp-queue", "amqp-prefetch", "amqp-message-ttl-s", "amqp-heartbeat-s",
        "history-size", "history-ttl-s",
    ]
}

extension String {
    /// Without leading and trailing spaces and tabs.
    var trimmed: String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}
