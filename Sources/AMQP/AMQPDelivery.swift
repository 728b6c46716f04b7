import NIOCore

/// A message the broker delivered: its body, and what is needed to acknowledge it on the connection it came
/// on (a tag of an earlier connection is never sent on a later one).
public struct AMQPDelivery: Sendable {
    /// Which connection of the consumer delivered it (counted from 1).
    public var connection: UInt64
    public var deliveryTag: UInt64
    /// The broker delivered it before, to this or another consumer, without an acknowledgement.
    public var redelivered: Bool
    public var body: ByteBuffer

    public init(connection: UInt64, deliveryTag: UInt64, redelivered: Bool, body: ByteBuffer) {
        self.connection = connection
        self.deliveryTag = deliveryTag
        self.redelivered = redelivered
        self.body = body
    }
}
