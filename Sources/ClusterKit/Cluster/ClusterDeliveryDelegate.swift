import NIOCore

/// What the cluster shell needs from the serving side: local delivery of what other nodes forward, and the
/// node's own counts. Called on mesh event loops; must not block.
public protocol ClusterDeliveryDelegate: AnyObject, Sendable {
    /// Pushes a channel message forwarded by another node to the local subscribers.
    func deliverForwarded(channel: String, data: ByteBuffer, timestamp: Int) -> DeliveryReceipt
    /// Pushes a `notify_all` forwarded by another node to every local client.
    func deliverForwardedBroadcast(data: ByteBuffer, timestamp: Int) -> DeliveryReceipt
    /// Pushes an entry of a history channel (its frame carries `epoch` and the entry's offset) to the local
    /// subscribers; an entry this node accepted (its key's origin) skips the `send_data` sender.
    func deliverHistory(channel: String, epoch: String, entry: History.Entry<ByteBuffer>) -> DeliveryReceipt
    /// This node's counts, for another node's status query.
    func localStats() -> LocalStats
    /// Pushes presence joins and leaves to the local subscribers of their channels.
    func deliverPresence(_ events: [PresenceEvent])
    /// Carries out a backend's `disconnect` or `unsubscribe` of a user on this node; the future (on any loop)
    /// carries how many connections it affected.
    func applyPresenceOrder(_ request: PresenceRequest) -> EventLoopFuture<Int>
}
