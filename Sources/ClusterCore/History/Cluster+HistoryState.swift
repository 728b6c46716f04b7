extension Cluster {
    /// Where the answer to a history emit goes once its message is handed out.
    enum AppendReply: Sendable, Equatable {
        /// An emit accepted on this node (its request ID).
        case local(RequestID)
        /// An emit accepted on `peer` (its request ID there).
        case remote(peer: String, RequestID)
    }

    /// What the holder of a channel's stream keeps beside the stream.
    struct HolderState: Sendable {
        /// The node that holds a copy under the current lease (nil: none yet, or it is gone).
        var syncedBackup: String?
        /// A sync or transfer waiting for its answer.
        var pendingSync: PendingSync?
        /// Offsets given but not yet handed out, and where their answers go (nil: the emit is not waited for).
        var inflight: [UInt64: AppendReply?] = [:]
        /// Offsets of `inflight` the backup acknowledged.
        var acked: Set<UInt64> = []
        /// When the oldest in-flight entry was copied (a lost copy is repaired by a sync after `answerTimeout`).
        var inflightSince: Duration?
    }

    struct PendingSync: Sendable {
        var target: String
        var lease: UInt64
        var transfer: Bool
        var deadline: Duration
    }

    /// An emit accepted here, on its way to the channel's owner (sent again until answered or given up).
    struct OriginAppend<Data: Sendable>: Sendable {
        var channel: String
        var entry: History.Entry<Data>
        var deadline: Duration
        var retryAt: Duration
    }

    /// A read asked here, on its way to the channel's owner.
    struct OriginRead: Sendable {
        var channel: String
        var after: UInt64?
        var limit: Int?
        var deadline: Duration
        var retryAt: Duration
    }

    /// An owner without a copy asking the others whether one exists before it starts an epoch.
    struct Claim: Sendable {
        var waiting: Set<String>
        var someoneHasCopy = false
        var someoneHolds = false
        var deadline: Duration
    }

    /// What a dropped copy held: a stream offered later must extend it.
    struct Fence: Sendable {
        var epoch: String
        var top: UInt64
        var key: History.MessageKey?
    }

    /// The history part of one node's cluster instance.
    struct HistoryState<Data: Sendable>: Sendable {
        var settings: History.Settings
        var streams: [String: History.Stream<Data>] = [:]
        var holding: [String: HolderState] = [:]
        var fences: [String: Fence] = [:]
        var claims: [String: Claim] = [:]
        var appends: [RequestID: OriginAppend<Data>] = [:]
        var reads: [RequestID: OriginRead] = [:]
        /// Epochs this process created (part of each new epoch's name).
        var epochsCreated: UInt64 = 0
        /// The latest Unix time an input carried (the clock of TTL trimming).
        var unixNow = 0
        var tickAt: Duration?
        /// The `now` of the latest input (for deadlines set without one).
        var lastNow: Duration = .zero
        /// Kept messages or bytes changed since they were last published.
        var statsChanged = false

        init(settings: History.Settings) {
            self.settings = settings
        }

        var keptMessages: Int { streams.values.reduce(0) { $0 + $1.entries.count } }
        var keptBytes: Int { streams.values.reduce(0) { $0 + $1.bytes } }
    }
}
