/// What a pushed message is, written as its `__type`.
public enum PushKind: UInt8, Sendable {
    /// `emit` or `send_data` to a channel: `"__type": "message"` plus `"__channel"`.
    case message = 1
    /// `notify_all`: `"__type": "broadcast"`, no channel.
    case broadcast = 2
    /// A user's first connection in a presence channel: `"__type": "join"` plus `"__channel"`.
    case join = 3
    /// A user's last connection gone from a presence channel (after the hold): `"__type": "leave"`.
    case leave = 4
}
