extension Cluster {
    /// A request waiting for answers from several peers.
    struct PendingRequest: Sendable {
        enum Kind: Sendable, Equatable {
            case counts, stats, presence
            /// A history message handed out: its answer goes to `reply` once the deliveries are counted.
            case history(reply: AppendReply, epoch: String, offset: UInt64)
        }
        var kind: Kind
        var waiting: Set<String>
        var counts: [NodeCount] = []
        var stats: [LocalStats] = []
        var replies: [PresenceReply] = []
    }

    /// A first subscriber (the activation) or a later one waiting for the same channel to be acknowledged.
    struct VisibilityWaiter: Sendable {
        var id: RequestID
        var channel: String
        var version: UInt64
        var deadline: Duration
        /// The waiter of the subscription that published the channel (its timeout probes the laggards).
        var isActivation: Bool
    }

    /// A frame waiting for the link to its member.
    struct OutboxEntry<Data: Sendable>: Sendable {
        var frame: Frame<Data>
        var deadline: Duration
    }

    /// Deadlines added in non-decreasing order (one fixed timeout): a FIFO whose head is the earliest.
    struct DeadlineQueue: Sendable {
        private var entries: [(deadline: Duration, id: RequestID)] = []
        private var head = 0

        var first: Duration? { head < entries.count ? entries[head].deadline : nil }

        mutating func append(_ deadline: Duration, _ id: RequestID) {
            entries.append((deadline, id))
        }

        /// The ID of the head entry if it is due, removed.
        mutating func popDue(_ now: Duration) -> RequestID? {
            guard head < entries.count, entries[head].deadline <= now else { return nil }
            let id = entries[head].id
            head += 1
            if head == entries.count {
                entries.removeAll(keepingCapacity: true)
                head = 0
            } else if head >= 1024, head * 2 >= entries.count {
                entries.removeFirst(head)
                head = 0
            }
            return id
        }
    }
}
