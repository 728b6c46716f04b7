extension Membership {
    /// One piece of membership news, piggybacked on protocol messages or carried in a full-state sync.
    public struct Gossip: Sendable, Hashable, CustomStringConvertible {
        /// The member the news is about, in the state it is claimed to be.
        public var member: Member
        /// For `suspect` news: the node that suspected the member. Lifeguard (section IV-B) counts distinct
        /// suspecting nodes as independent confirmations that shorten the suspicion timeout.
        public var suspectedBy: String?

        public init(member: Member, suspectedBy: String? = nil) {
            self.member = member
            self.suspectedBy = suspectedBy
        }

        public var description: String {
            if let suspectedBy { return "\(member) by \(suspectedBy)" }
            return member.description
        }
    }
}
