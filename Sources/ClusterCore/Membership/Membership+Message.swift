extension Membership {
    /// A message between the membership instances of two nodes.
    ///
    /// The shell sends it over the peer mesh (``Membership/Message/encoded()``), and on receipt hands it to
    /// ``Membership/Instance/onMessage(_:from:now:)`` together with the authenticated name of the sending peer.
    /// Every kind carries a bounded list of gossip (at most ``Membership/Settings/maxPiggybackedUpdates``
    /// for the probe messages, ``Membership/Settings/maxSyncEntriesPerMessage`` for a sync chunk).
    public enum Message: Sendable, Hashable {
        /// Direct probe (SWIM section 3). The receiver answers `ack` with the same sequence number.
        case ping(sequence: UInt64, gossip: [Gossip])
        /// Ask the receiver to probe `target` on the sender's behalf (SWIM ping-req). The receiver pings
        /// `target`, forwards its `ack`, or answers `nack` when the target stays silent (Lifeguard IV-A).
        case pingRequest(sequence: UInt64, target: String, gossip: [Gossip])
        /// The probed node (or an intermediary relaying for it) answers.
        case ack(sequence: UInt64, gossip: [Gossip])
        /// An intermediary is healthy but did not hear from the target in time.
        case nack(sequence: UInt64, gossip: [Gossip])
        /// One chunk of the sender's full membership state (join, reconnect, periodic anti-entropy).
        /// When `replyWanted` is set the receiver answers with its own full state.
        case sync(entries: [Gossip], replyWanted: Bool)

        /// The gossip carried by this message.
        public var gossip: [Gossip] {
            switch self {
            case .ping(_, let gossip), .pingRequest(_, _, let gossip), .ack(_, let gossip), .nack(_, let gossip):
                gossip
            case .sync(let entries, _):
                entries
            }
        }
    }
}
