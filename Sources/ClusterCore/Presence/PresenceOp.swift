/// One change of a node's presence entries: a user's first connection in a channel on that node (`join`,
/// with the user's `info` as JSON text) or their last one leaving it (`leave`). Further connections of the
/// same user on the same node change only local counts and never travel.
public enum PresenceOp: Sendable, Hashable {
    case join(channel: String, user: String, info: String)
    case leave(channel: String, user: String)
}
