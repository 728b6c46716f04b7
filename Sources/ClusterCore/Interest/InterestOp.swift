/// One change to an owner's channel set, as carried inside an ``InterestDelta``.
///
/// Only the transitions of the owner's *local* subscriber count are ever sent:
/// `0 -> 1` becomes ``add(_:)`` and `1 -> 0` becomes ``remove(_:)``. Intermediate counts never
/// leave the owner.
public enum InterestOp: Sendable, Hashable {
    /// The owner now holds at least one local subscriber for the channel.
    case add(String)
    /// The owner no longer holds any local subscriber for the channel.
    case remove(String)

    /// The channel the op is about.
    public var channel: String {
        switch self {
        case .add(let channel), .remove(let channel): return channel
        }
    }
}
