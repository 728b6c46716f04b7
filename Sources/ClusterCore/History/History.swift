/// Channel history across the cluster, with no broker: each channel's stream of messages (an epoch, offsets
/// 1, 2, 3, ... without gaps, a bounded ring of the last ones) is kept by its owner and copied to its backup,
/// the first two alive members in ``Rendezvous`` order of the channel name.
///
/// The protocol lives in ``Cluster/Instance`` (see `Cluster+History.swift`): the types here are its values.
///
/// **Fencing.** Offsets under one epoch are given by one node at a time, the stream's *holder*, under a
/// *lease* number that grows by one when the holder or its backup changes (never on a retry):
/// - An epoch is created only by an owner that asked every member it can reach and found no copy, and its name
///   embeds the creator's name, incarnation and a per-process counter. Two nodes that both believe they own a
///   fresh channel (views that differ for a moment) therefore create two different epochs: they never give
///   offsets under one epoch.
/// - The holder hands out (delivers, answers) an offset only once its backup acknowledged the copy under the
///   holder's current lease. A node keeps copies only from the holder of the lease it last accepted, so a
///   backup that took over, or that accepted a newer lease from anyone, refuses the old holder's copies: an old
///   holder cannot hand out one more offset through it.
/// - A node replaces its copy only by a whole stream (a sync or a transfer) that *extends* it: that reaches its
///   last offset and holds the same message there (for a holder: its last handed-out offset; what waits for a
///   backup was never given). A copy it drops leaves a fence with the same rule. So a stale holder that comes
///   back cannot overwrite offsets that a newer holder gave, wherever they were copied.
/// - The holder changes by a transfer (the old holder stops, ships the stream, the new one serves once it has
///   it) or by a takeover, which only the first node in the ranking makes, with a copy, once the holder is dead
///   or left in its view or nobody answers a claim as holder; other copies are offered to it and it keeps the
///   best offer that extends what it has.
/// What this cannot fence (no two-copy scheme without a quorum can): a partition that lasts past the death
/// timeout and leaves owner and backup on different sides, each with a third node as its new backup. Then both
/// sides continue the epoch. A node that is left alone serves without a backup only when started alone
/// (`soloAllowed`), so a lone survivor of a larger cluster waits for a peer instead of forking.
public enum History {}

extension History {
    /// Bounds of every channel's ring.
    public struct Settings: Sendable, Hashable {
        /// Messages kept per channel; 0 turns history off.
        public var size: Int = 0
        /// Seconds a kept message stays recoverable (against the messages' own Unix timestamps).
        public var ttlSeconds: Int = 300
        /// How long an emit or a read waits for a channel's owner to be ready before giving up.
        public var waitLimit: Duration = .seconds(5)
        /// How often a request that the owner could not take yet is sent again.
        public var retryInterval: Duration = .milliseconds(20)
        /// How long a sync, a transfer or a claim waits for its answer before it is tried again.
        public var answerTimeout: Duration = .seconds(1)
        /// Whether a holder without any backup may serve: true for a node started without seeds (a cluster of
        /// one), false otherwise (a lone survivor waits for a peer, so an answered message always has two copies).
        public var soloAllowed = true

        public var isEnabled: Bool { size > 0 }

        public init() {}
    }

    /// Identifies one emitted message across retries: the accepting node's `name#incarnation` and its request ID.
    public struct MessageKey: Sendable, Hashable {
        public var origin: String
        public var id: UInt64
        public init(origin: String, id: UInt64) {
            self.origin = origin
            self.id = id
        }
    }

    /// One kept message.
    public struct Entry<Data: Sendable>: Sendable {
        public var offset: UInt64
        /// Unix seconds of acceptance (`__ts`).
        public var timestamp: Int
        public var key: MessageKey
        public var data: Data
        /// The data's size, counted in `rocketws_history_bytes`.
        public var bytes: Int
        public init(offset: UInt64, timestamp: Int, key: MessageKey, data: Data, bytes: Int) {
            self.offset = offset
            self.timestamp = timestamp
            self.key = key
            self.data = data
            self.bytes = bytes
        }
    }

    /// What an emit to a history channel came to.
    public enum AppendOutcome: Sendable, Equatable {
        /// Kept by owner and backup and delivered: its position and the counts of the nodes that reached someone.
        case appended(epoch: String, offset: UInt64, counts: [NodeCount])
        /// No owner was ready within ``Settings/waitLimit``: not accepted, the caller may retry (-32006).
        case notAccepted
    }

    /// A channel's kept messages as its owner answered a read.
    public struct Range<Data: Sendable>: Sendable {
        public var epoch: String
        /// The offset of the last message handed out so far (0 when none).
        public var top: UInt64
        /// The oldest offset still kept (top + 1 when the ring is empty).
        public var firstKept: UInt64
        /// The messages asked for, oldest first.
        public var entries: [Entry<Data>]
        public init(epoch: String, top: UInt64, firstKept: UInt64, entries: [Entry<Data>]) {
            self.epoch = epoch
            self.top = top
            self.firstKept = firstKept
            self.entries = entries
        }

        /// Whether a subscriber that saw `offset` of `epoch` last can be given every message after it.
        public func canRecover(epoch: String, after offset: UInt64) -> Bool {
            guard epoch == self.epoch, offset <= top else { return false }
            return offset == top || firstKept <= offset + 1
        }
    }

    /// What a read came to: the range, or nil when no owner answered within ``Settings/waitLimit``.
    public typealias ReadOutcome<Data: Sendable> = Range<Data>?
}
