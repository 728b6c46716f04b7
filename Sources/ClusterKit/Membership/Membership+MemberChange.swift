extension Membership {
    /// A member changed state (or was learned) in this node's view.
    ///
    /// The shell uses it to tell the peer mesh to connect or disconnect, and the interest table to drop
    /// the channels of a node that became `dead` or `left`.
    public struct MemberChange: Sendable, Hashable, CustomStringConvertible {
        /// The member after the change.
        public var member: Member
        /// The state before the change; `nil` when the member was not known before.
        public var previousState: MemberState?

        public init(member: Member, previousState: MemberState?) {
            self.member = member
            self.previousState = previousState
        }

        public var name: String { member.name }
        public var newState: MemberState { member.state }

        public var description: String {
            "\(member.name): \(previousState.map(\.description) ?? "unknown") -> \(member.state) #\(member.incarnation)"
        }
    }
}
