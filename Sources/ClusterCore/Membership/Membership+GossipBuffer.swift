extension Membership {
    /// Updates waiting to be piggybacked (SWIM section 4.1, memberlist's transmit-limited queue).
    ///
    /// Holds at most one update per member (newer news about a member replaces the older). Each message takes
    /// the least-transmitted updates first; an update is dropped after `limit` transmissions.
    struct GossipBuffer: Sendable, Hashable {
        struct Entry: Sendable, Hashable {
            var gossip: Gossip
            var transmissions: Int
            /// Insertion order, to break ties deterministically (older first).
            var order: UInt64
        }

        private(set) var entries: [Entry] = []
        private var nextOrder: UInt64 = 0

        var isEmpty: Bool { entries.isEmpty }
        var count: Int { entries.count }

        /// Adds (or replaces) the update about `gossip.member.name`, with a fresh transmission count.
        mutating func enqueue(_ gossip: Gossip) {
            nextOrder += 1
            let entry = Entry(gossip: gossip, transmissions: 0, order: nextOrder)
            if let i = entries.firstIndex(where: { $0.gossip.member.name == gossip.member.name }) {
                entries[i] = entry
            } else {
                entries.append(entry)
            }
        }

        /// The pending update about `name`, if any.
        func pending(about name: String) -> Gossip? {
            entries.first(where: { $0.gossip.member.name == name })?.gossip
        }

        /// Takes up to `max` updates for one message, counts the transmission and drops exhausted entries.
        /// An update about `priority` (the receiver: Lifeguard's buddy system) goes first.
        mutating func take(max: Int, limit: Int, priority: String?) -> [Gossip] {
            guard !entries.isEmpty, max > 0 else { return [] }
            var chosen: [Int] = []
            chosen.reserveCapacity(max)
            var priorityIndex = -1
            if let priority, let i = entries.firstIndex(where: { $0.gossip.member.name == priority }) {
                priorityIndex = i
                chosen.append(i)
            }
            // Partial selection of the least-transmitted (then oldest) entries: O(count × max), no sorting.
            let slots = max - chosen.count
            var best: [Int] = []
            best.reserveCapacity(slots + 1)
            if slots > 0 {
                for i in entries.indices where i != priorityIndex {
                    if best.count == slots, !precedes(i, best[best.count - 1]) { continue }
                    var position = best.count
                    while position > 0 && precedes(i, best[position - 1]) { position -= 1 }
                    best.insert(i, at: position)
                    if best.count > slots { best.removeLast() }
                }
            }
            chosen.append(contentsOf: best)
            var result: [Gossip] = []
            result.reserveCapacity(chosen.count)
            var exhausted = false
            for i in chosen {
                result.append(entries[i].gossip)
                entries[i].transmissions += 1
                if entries[i].transmissions >= limit { exhausted = true }
            }
            if exhausted {
                entries.removeAll { $0.transmissions >= limit }
            }
            return result
        }

        private func precedes(_ a: Int, _ b: Int) -> Bool {
            let ta = entries[a].transmissions
            let tb = entries[b].transmissions
            return ta != tb ? ta < tb : entries[a].order < entries[b].order
        }
    }
}
