/// A question or order a node sends every other node about presence; each answers with a ``PresenceReply``.
public enum PresenceRequest: Sendable, Hashable {
    /// This node's connections in `channel` (with `perUser`, per user: for the member list).
    case counts(channel: String, perUser: Bool)
    /// Close every connection of `user` here (code 4000).
    case disconnect(user: String)
    /// Unsubscribe every connection of `user` here from `channel`.
    case unsubscribe(user: String, channel: String)
}

/// One node's answer to a ``PresenceRequest``.
public enum PresenceReply: Sendable, Hashable {
    /// Connections in the channel on that node, and (when asked) per user.
    case counts(connections: Int, perUser: [String: Int])
    /// Connections closed or unsubscribed there.
    case affected(Int)
}
