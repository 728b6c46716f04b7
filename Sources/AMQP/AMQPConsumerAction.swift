import NIOCore

/// What the I/O shell must do after an event of `AMQPConsumerStateMachine`, in order.
public enum AMQPConsumerAction: Sendable {
    /// Open a TCP connection to the broker; report `transportOpened` or `transportClosed`.
    case openTransport
    /// Write these bytes (one or more frames) on the open connection.
    case send(ByteBuffer)
    /// Call `tick` at this time (replaces any tick scheduled before).
    case scheduleTick(at: NIODeadline)
    /// Handle this message, then report `handled(_:requeue:now:)`.
    case deliver(AMQPDelivery)
    /// The queue is declared and consumed: deliveries follow.
    case consuming(queue: String, messageCount: UInt32, consumerCount: UInt32)
    /// A delivery over `maxBodyBytes` was acknowledged without being handed on.
    case discardedOversized(bodyBytes: UInt64)
    /// Close the TCP connection (then report `transportClosed`).
    case closeTransport
    /// The connection is gone (after consuming or not): why, for logs and metrics.
    case disconnected(AMQPDisconnectReason)
    /// Call `reconnectDue` after this delay.
    case scheduleReconnect(after: TimeAmount)
    /// `stop` is complete: nothing more will happen.
    case stopped
}

/// Why a connection to the broker ended.
public enum AMQPDisconnectReason: Equatable, Sendable, CustomStringConvertible {
    /// The TCP connection failed or was closed by the other side without an AMQP close.
    case transport(String)
    /// The broker closed the connection (connection.close).
    case closedByBroker(AMQPCloseReason)
    /// The broker closed the consumer's channel (channel.close), e.g. 406 for a queue declared with other arguments.
    case channelClosedByBroker(AMQPCloseReason)
    /// The broker cancelled the consumer (basic.cancel: the queue was deleted).
    case consumerCancelled
    /// Nothing from the broker for two heartbeat intervals.
    case missedHeartbeats(TimeAmount)
    /// The handshake did not reach consuming in time.
    case handshakeTimedOut
    /// The broker broke the protocol; we closed with this reason.
    case protocolError(AMQPCloseReason)
    /// The broker offers no mechanism we speak (PLAIN).
    case noSupportedMechanism(String)
    /// We asked to stop.
    case stopped

    public var description: String {
        switch self {
        case .transport(let what): "connection lost: \(what)"
        case .closedByBroker(let reason): "closed by the broker: \(reason)"
        case .channelClosedByBroker(let reason): "channel closed by the broker: \(reason)"
        case .consumerCancelled: "consumer cancelled by the broker (queue deleted?)"
        case .missedHeartbeats(let interval): "no heartbeat from the broker for \(interval.nanoseconds / 500_000_000 ) s (two intervals)"
        case .handshakeTimedOut: "handshake did not complete in time"
        case .protocolError(let reason): "protocol error: \(reason)"
        case .noSupportedMechanism(let offered): "the broker offers no PLAIN authentication (offers: \(offered))"
        case .stopped: "stopped"
        }
    }
}
