extension Cluster {
    /// Timing of the cluster instance and the settings of the two protocols it owns.
    public struct Settings: Sendable, Hashable {
        /// SWIM/Lifeguard membership.
        public var membership = Membership.Settings()
        /// Channel interest table (its `digestInterval` paces the digest exchange).
        public var interest = InterestTable.Settings()
        /// Presence gossip (its digests go out with the interest digests).
        public var presence = PresenceTable.Settings()
        /// How long a user gone from a channel everywhere is held back before their leave is announced.
        public var presenceHold: Duration = .seconds(5)
        /// How long local joins and leaves are gathered before they go out as one delta.
        public var presenceFlushDelay: Duration = .milliseconds(5)
        /// How long an emit waits for the delivered counts of the nodes it was forwarded to; also how long a
        /// frame waits in a peer's outbox for the link to come back.
        public var forwardTimeout: Duration = .seconds(2)
        /// How long a first subscriber waits for every active peer to acknowledge the channel; peers that do
        /// not answer in time are probed at once.
        public var visibilityTimeout: Duration = .seconds(1)
        /// How long status queries wait for the other nodes' counts.
        public var statsTimeout: Duration = .seconds(1)
        /// How often frames waiting in an outbox are offered to the mesh again.
        public var outboxRetryInterval: Duration = .milliseconds(10)
        /// Channel history (off unless `size` > 0).
        public var history = History.Settings()

        public init() {}
    }
}
