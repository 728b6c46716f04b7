extension Membership {
    /// The state of a member as seen by one node (contract: `alive`, `suspect`, `dead`, `left`).
    ///
    /// For the same incarnation number the states are ordered `alive < suspect < dead < left`: a piece of
    /// news about a member overrides what is known iff its `(incarnation, state)` pair is strictly greater
    /// (SWIM section 4.2, extended with `left`, which is final for an incarnation).
    public enum MemberState: UInt8, Sendable, Hashable, Comparable, CustomStringConvertible {
        /// Answers probes (directly or through others).
        case alive = 0
        /// Failed a probe; declared `dead` when its suspicion timeout runs out unless it refutes first.
        case suspect = 1
        /// Confirmed failed. Not probed any more; reaped after ``Membership/Settings/reapTimeout``.
        case dead = 2
        /// Left gracefully through ``Membership/Instance/leave(now:)``. Never probed again.
        case left = 3

        public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }

        public var description: String {
            switch self {
            case .alive: "alive"
            case .suspect: "suspect"
            case .dead: "dead"
            case .left: "left"
            }
        }

        /// `alive` or `suspect`: a member that is still probed and counted in the cluster size.
        public var isActive: Bool { self == .alive || self == .suspect }
    }
}
