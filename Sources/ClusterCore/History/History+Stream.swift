extension History {
    /// One node's copy of a channel's stream: the epoch, the lease it is held under, who holds it, and the ring.
    public struct Stream<Data: Sendable>: Sendable {
        public var epoch: String
        public var lease: UInt64
        /// The node that gives offsets under `lease` (this node or another).
        public var holder: String
        /// The last offset given (released or not).
        public private(set) var top: UInt64
        /// The last offset handed out (delivered and answerable); entries above it wait for the backup.
        public var released: UInt64
        public private(set) var entries: [Entry<Data>] = []
        public private(set) var bytes = 0
        private var keys: [MessageKey: UInt64] = [:]

        public init(epoch: String, lease: UInt64, holder: String, top: UInt64 = 0, released: UInt64 = 0, entries: [Entry<Data>] = []) {
            self.epoch = epoch
            self.lease = lease
            self.holder = holder
            self.top = top
            self.released = released
            for entry in entries { insert(entry) }
        }

        /// The oldest offset kept (top + 1 when empty).
        public var firstKept: UInt64 { entries.first?.offset ?? top + 1 }

        /// The offset a message was given, when it is kept.
        public func offset(of key: MessageKey) -> UInt64? { keys[key] }

        /// Gives the next offset to a message and keeps it.
        public mutating func append(timestamp: Int, key: MessageKey, data: Data, bytes: Int) -> Entry<Data> {
            let entry = Entry(offset: top + 1, timestamp: timestamp, key: key, data: data, bytes: bytes)
            insert(entry)
            return entry
        }

        /// Keeps a copy of an entry given by the holder (the next offset only).
        public mutating func insert(_ entry: Entry<Data>) {
            precondition(entry.offset == top + 1, "entries are kept in offset order without gaps")
            top = entry.offset
            entries.append(entry)
            keys[entry.key] = entry.offset
            bytes += entry.bytes
        }

        /// Drops the entries not yet released (their emits were not accepted) and gives their offsets back.
        public mutating func dropUnreleased() {
            while let last = entries.last, last.offset > released {
                entries.removeLast()
                keys.removeValue(forKey: last.key)
                bytes -= last.bytes
            }
            top = released
        }

        /// Keeps at most `size` released entries, none older than `ttlSeconds` before `unixNow`; entries not yet
        /// released are never dropped here.
        public mutating func trim(size: Int, ttlSeconds: Int, unixNow: Int) {
            var drop = 0
            let oldest = unixNow - ttlSeconds
            while drop < entries.count, entries[drop].offset <= released,
                entries.count - drop > size || entries[drop].timestamp < oldest
            {
                drop += 1
            }
            guard drop > 0 else { return }
            for entry in entries[0..<drop] {
                keys.removeValue(forKey: entry.key)
                bytes -= entry.bytes
            }
            entries.removeFirst(drop)
        }

        /// Released entries after `offset` (all released when nil), at most the last `limit`.
        public func range(after offset: UInt64?, limit: Int?) -> Range<Data> {
            var selected = entries.filter { $0.offset <= released && $0.offset > (offset ?? 0) }
            if let limit, selected.count > limit { selected.removeFirst(selected.count - limit) }
            let first = entries.first.map { min($0.offset, released + 1) } ?? released + 1
            return Range(epoch: epoch, top: released, firstKept: first, entries: selected)
        }
    }
}
