extension Membership {
    /// A member was learned, changed state, or (while keeping its state) changed incarnation or address in this
    /// node's view.
    ///
    /// The shell uses it to tell the peer mesh to connect or disconnect, and the interest table to drop
    /// the channels of a node that became `dead` or `left`.
    public struct MemberChange: Sendable, Hashable, CustomStringConvertible {
        /// The member after the change.
        public var member: Member
        /// The state before the change; `nil` when the member was not known before.
        public var previousState: MemberState?
        /// The incarnation before the change; `nil` when the member was not known before. A change from `alive` to
        /// `alive` with a higher incarnation is a refutation (+1) or a restart of the process (a new start value):
        /// consumers that keep per-process state about the member (its interest) can tell them apart with it.
        public var previousIncarnation: UInt64?

        public init(member: Member, previousState: MemberState?, previousIncarnation: UInt64? = nil) {
            self.member = member
            self.previousState = previousState
            self.previousIncarnation = previousIncarnation
        }

        public var name: String { member.name }
        public var newState: MemberState { member.state }

        public var description: String {
            "\(member.name): \(previousState.map(\.description) ?? "unknown") -> \(member.state) #\(member.incarnation)"
        }
    }
}
