/// What a pushed message is, written as its `__type`.
public enum PushKind: UInt8, Sendable {
    /// `emit` or `send_data` to a channel: `"__type": "message"` plus `"__channel"`.
    case message = 1
    /// `notify_all`: `"__type": "broadcast"`, no channel.
    case broadcast = 2
}
