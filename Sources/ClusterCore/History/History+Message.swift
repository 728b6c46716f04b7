extension History {
    /// The peer frames of the history protocol (ClusterKit's kinds 32 to 42).
    public enum Message<Data: Sendable>: Sendable {
        /// Accepting node -> owner: keep, copy and deliver this message, then answer `appended`.
        case append(requestID: Cluster.RequestID, channel: String, entry: Entry<Data>)
        /// Owner -> accepting node: the message's position and counts (nil: not ready yet, send again).
        case appended(requestID: Cluster.RequestID, result: Appended?)
        /// Holder -> backup: keep this entry under `lease`.
        case copy(channel: String, epoch: String, lease: UInt64, entry: Entry<Data>)
        /// Backup -> holder: what it did with `copy` of `offset`.
        case copyAck(channel: String, epoch: String, lease: UInt64, offset: UInt64, verdict: CopyVerdict)
        /// Holder -> backup (`transfer` false) or -> new owner (`transfer` true): the whole stream under `lease`.
        case sync(channel: String, snapshot: Snapshot<Data>, transfer: Bool)
        /// The receiver of a `sync` took it (or refused it: a newer lease or another epoch won).
        case syncAck(channel: String, epoch: String, lease: UInt64, accepted: Bool)
        /// An owner that does not hold the stream asks who does (and who keeps a copy) before it takes its own
        /// copy over or starts a new epoch; copies kept for others are offered to it (`sync` with `transfer`).
        case claim(channel: String)
        case claimAnswer(channel: String, hasCopy: Bool, holds: Bool)
        /// Any node -> owner: the released entries after `after` (nil: the last `limit`, or all).
        case read(requestID: Cluster.RequestID, channel: String, after: UInt64?, limit: Int?)
        /// Owner -> reader (nil: not ready yet, ask again).
        case readResult(requestID: Cluster.RequestID, range: Range<Data>?)
        /// Owner -> a node with subscribers: deliver this entry, acknowledge with ``Cluster/Frame/ack(requestID:count:)``.
        case push(requestID: Cluster.RequestID, channel: String, epoch: String, entry: Entry<Data>)
    }

    /// An accepted message's position and the counts of the nodes that delivered it.
    public struct Appended: Sendable, Equatable {
        public var epoch: String
        public var offset: UInt64
        public var counts: [NodeCount]
        public init(epoch: String, offset: UInt64, counts: [NodeCount]) {
            self.epoch = epoch
            self.offset = offset
            self.counts = counts
        }
    }

    /// A backup's answer to one copy.
    public enum CopyVerdict: UInt8, Sendable, Hashable {
        /// Kept.
        case kept = 0
        /// The backup has no matching copy (it restarted or dropped it): the holder syncs it again.
        case resync = 1
        /// The backup holds a newer lease of this channel: the sender is no longer the holder and must stop.
        case fenced = 2
    }

    /// A whole stream on its way to a backup or a new owner.
    public struct Snapshot<Data: Sendable>: Sendable {
        public var epoch: String
        public var lease: UInt64
        public var released: UInt64
        /// The offset before the first entry (entries follow without gaps).
        public var base: UInt64
        public var entries: [Entry<Data>]
        public init(epoch: String, lease: UInt64, released: UInt64, base: UInt64, entries: [Entry<Data>]) {
            self.epoch = epoch
            self.lease = lease
            self.released = released
            self.base = base
            self.entries = entries
        }

        /// The offset of the last entry.
        public var top: UInt64 { base + UInt64(entries.count) }

        /// Whether this stream continues a copy whose last offset is `top` with the message `key` there (nil:
        /// not known): it reaches that far and holds the same message at that offset when it still keeps it.
        public func extends(top other: UInt64, key: History.MessageKey?) -> Bool {
            guard top >= other else { return false }
            guard let key, other > base, other > 0 else { return true }
            return entries[Int(other - base - 1)].key == key
        }
    }
}

extension History.Stream {
    /// Everything this copy holds, under its lease.
    public var snapshot: History.Snapshot<Data> {
        History.Snapshot(epoch: epoch, lease: lease, released: released, base: firstKept - 1, entries: entries)
    }

    /// A copy rebuilt from a snapshot, held by `holder`.
    public init(_ snapshot: History.Snapshot<Data>, holder: String) {
        self.init(epoch: snapshot.epoch, lease: snapshot.lease, holder: holder, top: snapshot.base, released: snapshot.released, entries: snapshot.entries)
    }
}
