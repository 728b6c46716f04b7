import NIOCore

/// A message handed to a `SubscriptionShard` from any thread, applied on the shard's loop when its window closes.
struct ShardDelivery: @unchecked Sendable {
    /// The encoded frame, shared by every shard and subscriber.
    let frame: ByteBuffer
    /// The channel, or nil for a broadcast to every session.
    let channel: String?
    /// A subscriber that must not get it (the sender of a `send_data`); kept alive until the frame is applied,
    /// so its identity cannot be taken over by a new session in between. Only read on its own loop.
    let excluded: WebSocketSession?
    /// Completed once the frame is written, when the publisher waits for it (backpressure).
    let written: EventLoopPromise<Void>?
    /// The message's offset in its history channel (0: not a history message).
    var offset: UInt64 = 0
}
