/// What ``PresenceTable`` asks its owner to do, in order.
public enum PresenceDirective: Sendable, Hashable {
    /// Send `message` to every active peer.
    case broadcast(PresenceMessage)
    /// Send `message` to one peer.
    case send(PresenceMessage, to: String)
    /// The cluster-wide member set changed (feed it to ``PresenceHold``).
    case changed(PresenceChange)
}
