/// The presence protocol between nodes, in the style of the interest table's: every node is the only
/// authority for its own entries, numbered by `(epoch, version)`.
public enum PresenceMessage: Sendable, Hashable {
    /// Ops `fromVersion ..< fromVersion + ops.count` of `owner`'s entries.
    case delta(owner: String, epoch: UInt64, fromVersion: UInt64, ops: [PresenceOp])
    /// Anti-entropy, sent every digest interval: the sender's own `(epoch, version)`.
    case digest(owner: String, epoch: UInt64, version: UInt64)
    /// The receiver (`owner`) is asked for a snapshot of its entries.
    case syncRequest(owner: String)
    /// Part `index` of `owner`'s entries as of `(epoch, version)`; the receiver swaps its view at the last part.
    case snapshot(owner: String, epoch: UInt64, version: UInt64, index: UInt32, isLast: Bool, entries: [PresenceEntry])
}

/// One user present in one channel on one node.
public struct PresenceEntry: Sendable, Hashable {
    public var channel: String
    public var user: String
    /// The user's `info` as JSON text.
    public var info: String

    public init(channel: String, user: String, info: String) {
        self.channel = channel
        self.user = user
        self.info = info
    }
}
