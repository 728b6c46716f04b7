extension Membership {
    /// One member of the cluster as seen by one node.
    public struct Member: Sendable, Hashable, CustomStringConvertible {
        /// Unique name of the node in the cluster (`--node-name`).
        public var name: String
        /// `host:port` other nodes dial to reach this node's peer port (`--advertise`).
        public var address: String
        /// Incarnation number. A process picks a fresh one at start (for example wall-clock milliseconds),
        /// bumps it to refute a suspicion and once more when it leaves.
        public var incarnation: UInt64
        /// What this node believes about the member.
        public var state: MemberState

        public init(name: String, address: String, incarnation: UInt64, state: MemberState = .alive) {
            self.name = name
            self.address = address
            self.incarnation = incarnation
            self.state = state
        }

        public var description: String { "\(name)@\(address)#\(incarnation):\(state)" }

        /// `true` iff news `other` about the same member overrides `self` (SWIM section 4.2).
        func isSuperseded(by other: Member) -> Bool {
            if other.incarnation != incarnation { return other.incarnation > incarnation }
            return other.state > state
        }
    }
}
