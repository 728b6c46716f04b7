/// Who a connection is, from its verified connection token: the backend's user id, what presence shows
/// about them, and the `private-` channels the token admits without a per-channel token.
public struct ConnectionIdentity: Sendable, Equatable {
    /// The token's `sub`: the user id presence is counted by.
    public var user: String
    /// The token's `info` object as compact JSON text (`{}` when the token has none), at most 1 KiB.
    public var info: String
    /// The token's `channels`: channel names this connection may subscribe to without a private-channel token.
    public var channels: Set<String>

    public init(user: String, info: String = "{}", channels: Set<String> = []) {
        self.user = user
        self.info = info
        self.channels = channels
    }
}
