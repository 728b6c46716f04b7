import NIOCore

/// What a queue consumer connects with and how it behaves.
public struct AMQPConsumerSettings: Sendable {
    public var url: AMQPURL
    /// The durable queue to declare and consume.
    public var queue: String
    /// Unacknowledged deliveries the broker may have in flight to this consumer (basic.qos prefetch-count).
    public var prefetch: UInt16 = 256
    /// The queue's `x-message-ttl`; nil declares no TTL. Must match an existing queue's (else the broker
    /// closes the channel with 406 PRECONDITION_FAILED).
    public var messageTTLMilliseconds: Int64? = 3_600_000
    /// Heartbeat interval asked for in seconds (the smaller of this and a non-zero one of the broker's is used; 0: no heartbeats).
    public var heartbeatSeconds: UInt16 = 30
    /// Largest frame asked for (the smaller of this and the broker's is used).
    public var frameMax: UInt32 = 131_072
    /// Larger bodies are acknowledged without being handed on (`discardedOversized`).
    public var maxBodyBytes: Int = 1 << 20
    /// From TCP connected to consuming, at most.
    public var handshakeTimeout: TimeAmount = .seconds(10)
    /// On stop: how long deliveries in hand may take to be acknowledged before the connection is closed.
    public var drainTimeout: TimeAmount = .seconds(5)
    /// How long to wait for the broker's close-ok.
    public var closeTimeout: TimeAmount = .seconds(2)
    public var reconnectInitial: TimeAmount = .milliseconds(250)
    public var reconnectMaximum: TimeAmount = .seconds(5)
    /// Shown to the broker (management UI, `rabbitmqctl list_connections client_properties`).
    public var connectionName: String = "rocketws"
    /// Seed of the reconnect jitter.
    public var seed: UInt64 = 1

    public init(url: AMQPURL, queue: String) {
        self.url = url
        self.queue = queue
    }
}
