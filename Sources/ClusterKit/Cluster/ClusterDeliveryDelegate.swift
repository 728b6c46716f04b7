import NIOCore

/// What the cluster shell needs from the serving side: local delivery of what other nodes forward, and the
/// node's own counts. Called on mesh event loops; must not block.
public protocol ClusterDeliveryDelegate: AnyObject, Sendable {
    /// Pushes a channel message forwarded by another node to the local subscribers; returns how many.
    func deliverForwarded(channel: String, data: ByteBuffer, timestamp: Int) -> Int
    /// Pushes a `notify_all` forwarded by another node to every local client; returns how many.
    func deliverForwardedBroadcast(data: ByteBuffer, timestamp: Int) -> Int
    /// This node's counts, for another node's status query.
    func localStats() -> LocalStats
}
