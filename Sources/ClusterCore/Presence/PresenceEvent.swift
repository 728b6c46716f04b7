/// What a node's presence subscribers hear: a user's first connection in a channel anywhere in the cluster
/// (`join`), or their last one gone everywhere for longer than the leave hold (`leave`).
public struct PresenceEvent: Sendable, Hashable {
    public enum Kind: Sendable, Hashable { case join, leave }
    public var kind: Kind
    public var channel: String
    public var user: String
    /// The user's `info` as JSON text.
    public var info: String

    public init(kind: Kind, channel: String, user: String, info: String) {
        self.kind = kind
        self.channel = channel
        self.user = user
        self.info = info
    }
}

/// A change of the cluster-wide member set of a channel, as the replicated table sees it (before the hold).
public enum PresenceChange: Sendable, Hashable {
    /// The user had no connection in the channel anywhere and now has one.
    case appeared(channel: String, user: String, info: String)
    /// The user's last node in the channel dropped them (or died).
    case vanished(channel: String, user: String, info: String)
}
