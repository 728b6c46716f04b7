/// Everything the interest protocol sends between nodes.
///
/// The shell carries these opaque to the peer mesh (``encoded()`` /
/// ``decode(_:)``) and hands every received one to ``InterestTable/apply(_:from:)``.
/// Each node only ever sends deltas and snapshots of its **own** table, directly to every peer
/// (full mesh, ordered per connection).
public enum InterestMessage: Sendable, Hashable {
    /// Owner -> every peer: a batch of contiguous ops.
    case delta(InterestDelta)
    /// Receiver -> owner: applied up to a version.
    case ack(InterestAck)
    /// Any node -> each peer, periodically: anti-entropy summary.
    case digest(InterestDigest)
    /// Receiver -> owner: please send a snapshot.
    case syncRequest(InterestSyncRequest)
    /// Owner -> one receiver: a piece of a chunked snapshot.
    case snapshot(InterestSnapshotChunk)
}
