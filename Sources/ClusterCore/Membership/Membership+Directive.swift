extension Membership {
    /// What the shell must do after handing an event to ``Membership/Instance``.
    ///
    /// The shell MUST carry out every directive, in order, with an exhaustive `switch`.
    public enum Directive: Sendable, Hashable {
        /// Send `message` to the member called `to` over the peer mesh. If there is no connection to it the
        /// shell may queue or drop the message: the protocol tolerates loss.
        case send(Message, to: String)
        /// Make sure there is (or soon will be) a mesh connection to `name` at `address`: dial it if not
        /// connected, do nothing if connected. Once the connection is established (and on every later
        /// reconnect) the shell calls ``Membership/Instance/onPeerConnected(name:address:incarnation:now:)``.
        /// Emitted when a member is learned or revived through gossip, and periodically for recently dead
        /// members so that a healed partition rejoins.
        case connect(name: String, address: String)
        /// A member was learned or changed state. On `dead` or `left` the shell drops the member's interest
        /// (channels) and may close the mesh connection; on `alive` it keeps or opens it.
        case memberChanged(MemberChange)
        /// A `dead` or `left` member was forgotten after ``Membership/Settings/reapTimeout``; it no longer
        /// appears in ``Membership/Instance/members``.
        case memberRemoved(Member)
        /// Replace the single pending tick timer (if any) with one that calls
        /// ``Membership/Instance/onTick(now:)`` after `after`. Every `onTick` returns exactly one of these;
        /// other events return one only when they need an earlier tick than the one already scheduled. Extra,
        /// early or late `onTick` calls are harmless: due work is done, the rest is rescheduled.
        case scheduleTick(after: Duration)
    }
}
