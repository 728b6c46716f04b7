/// The leave hold: a user who vanished from a channel is announced as left only if they are still gone
/// `hold` later, and one who comes back within it produces neither a leave nor a second join. Pure; the owner
/// calls ``due(now:)`` at ``nextDeadline``.
public struct PresenceHold: Sendable {
    public let hold: Duration

    struct Key: Hashable, Sendable {
        var channel: String
        var user: String
    }

    /// Users gone but not yet announced, with the deadline and the info their leave will carry.
    private var held: [Key: (deadline: Duration, info: String)] = [:]
    /// Deadlines in the order they were set (one fixed hold, so sorted); stale entries are skipped.
    private var queue: [(deadline: Duration, key: Key)] = []
    private var head = 0

    public init(hold: Duration = .seconds(5)) {
        self.hold = hold
    }

    /// Users currently held back (gone, leave not yet announced).
    public var heldCount: Int { held.count }

    /// The earliest deadline that may be due.
    public var nextDeadline: Duration? { head < queue.count ? queue[head].deadline : nil }

    /// Feeds one change of the member view; answers the events to announce now.
    public mutating func apply(_ change: PresenceChange, now: Duration) -> [PresenceEvent] {
        switch change {
        case .appeared(let channel, let user, let info):
            if held.removeValue(forKey: Key(channel: channel, user: user)) != nil { return [] }
            return [PresenceEvent(kind: .join, channel: channel, user: user, info: info)]
        case .vanished(let channel, let user, let info):
            let key = Key(channel: channel, user: user)
            let deadline = now + hold
            held[key] = (deadline, info)
            queue.append((deadline, key))
            return []
        }
    }

    /// The leaves whose hold ran out by `now`.
    public mutating func due(now: Duration) -> [PresenceEvent] {
        var out: [PresenceEvent] = []
        while head < queue.count, queue[head].deadline <= now {
            let (deadline, key) = queue[head]
            head += 1
            if let entry = held[key], entry.deadline == deadline {
                held.removeValue(forKey: key)
                out.append(PresenceEvent(kind: .leave, channel: key.channel, user: key.user, info: entry.info))
            }
        }
        if head == queue.count {
            queue.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 1024, head * 2 >= queue.count {
            queue.removeFirst(head)
            head = 0
        }
        return out
    }
}
