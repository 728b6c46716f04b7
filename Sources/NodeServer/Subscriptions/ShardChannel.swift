/// One channel on one event loop: its subscribers there and the frames published to them since the last flush.
final class ShardChannel {
    let subscribers = SubscriberList<WebSocketSession>()
    var batch = FrameBatch()
    /// History subscribers waiting for their replay (usually none).
    var held: [HeldSubscriber] = []

    var isUnused: Bool { subscribers.isEmpty && held.isEmpty }
}
