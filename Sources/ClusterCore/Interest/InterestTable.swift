/// The channel interest table: which node holds local subscribers for which channel.
///
/// A pure, `Sendable` value type in the style of `SWIM.Instance`: no I/O, no clock, no throwing.
/// Every input is a `mutating` method that returns ``InterestDirective``s which the shell MUST
/// carry out in order.
///
/// ## Model
/// The cluster is a full mesh of ordered connections, and every node is the **sole authority for
/// its own interest**. Each owner has an `epoch` (fresh and larger at every process start, chosen
/// by the owner) and a `version` that grows by one with every op (a `0 -> 1` add or `1 -> 0`
/// remove of a channel in its local subscriber count). Receivers keep, per owner,
/// `(epoch, version, channels)` plus a reverse index `channel -> owners`, so ``route(_:)`` is one
/// dictionary lookup.
///
/// ## Propagation
/// - Local changes (``localSubscribed(channel:)``, ``localUnsubscribed(channel:)``) queue ops;
///   ``flush()`` turns them into bounded ``InterestDelta`` broadcasts.
/// - A receiver applies a delta only if it is contiguous (same epoch,
///   `fromVersion <= known + 1 <= toVersion`; the already known prefix is skipped, a fully known
///   delta is ignored idempotently) and acks it. A gap, or a newer epoch not starting at version 1,
///   makes it send an ``InterestSyncRequest`` to the owner. An older epoch is ignored.
/// - The owner answers a sync request with a **chunked snapshot** of its current published
///   channel set (an "incremental" sync is also a snapshot: only the owner holds its history
///   and it keeps none). Chunks are bounded by ``Settings/maxChannelsPerChunk`` and
///   ``Settings/maxBytesPerMessage``.
/// - While a snapshot is being assembled the receiver **keeps routing with its old view**; at the
///   last chunk it swaps in the new set by diff, so a channel present in both views is never
///   absent from ``route(_:)`` at any moment. Deltas that arrive between chunks are buffered and
///   replayed after the swap.
/// - Anti-entropy: every ``Settings/digestInterval`` the shell calls ``onDigestTick(peers:)``
///   which sends each peer an ``InterestDigest``. A receiver requests a sync when the sender's
///   entry about **itself** is ahead of its view, and treats the sender's entry about the
///   receiver as an ack (this repairs lost acks).
///
/// ## Subscribe visibility
/// ``LocalChange/visibleAt`` is the local version whose acknowledgement by every alive peer
/// means every peer routes the channel here. The shell replies "subscribed" once
/// ``isAcknowledged(version:by:)`` holds for the alive peers (re-checked on every
/// ``InterestDirective/acknowledged(peer:version:)`` and membership change). Removals are lazy:
/// nobody waits for them; a few extra forwards are dropped by the receiver.
///
/// ## Shell usage
/// ```swift
/// // A client subscribes (after the local registry counted it):
/// let change = table.localSubscribed(channel: "chat")
/// execute(table.flush())                    // .broadcast(.delta) to every alive peer
/// if table.isAcknowledged(version: change.visibleAt, by: alivePeers) { reply("subscribed") }
/// else { waiters.append((change.visibleAt, reply)) }
///
/// // Bytes from peer `p` on the interest stream:
/// if let message = InterestMessage.decode(bytes) { execute(table.apply(message, from: p)) }
/// // .acknowledged(peer:version:) -> resolve the waiters now acknowledged by all alive peers.
///
/// // Every settings.digestInterval:
/// execute(table.onDigestTick(peers: alivePeers))
///
/// // Membership: dead/left -> table.removeNode(n) (and re-check waiters);
/// //             alive (new or restarted) -> execute(table.nodeJoined(n)).
/// // Emit: for node in table.route(channel) { mesh.forward(to: node, ...) }
/// ```
public struct InterestTable: Sendable {
    /// This node's name.
    public let nodeName: String
    /// This process's epoch (> 0, larger than any previous process of the same node).
    public let epoch: UInt64
    /// Tunables.
    public var settings: Settings

    // MARK: Local state

    /// Local subscriber count per channel (only channels with count >= 1).
    var localCounts: [String: Int] = [:]
    /// For channels currently present locally: the version of the op that added them.
    var addedAt: [String: UInt64] = [:]
    /// This node's channel set as of ``flushedVersion`` (what peers see once caught up).
    var publishedChannels: Set<String> = []
    /// Ops with versions `flushedVersion + 1 ... version`, not yet broadcast.
    private var pendingOps: [InterestOp] = []
    /// Version of the last local op created (0 before the first).
    public private(set) var version: UInt64 = 0
    /// Version of the last local op handed out by ``flush()``.
    public private(set) var flushedVersion: UInt64 = 0
    /// Highest version of this node's current epoch acknowledged by each peer.
    var peerAcks: [String: UInt64] = [:]

    // MARK: Remote state

    struct Remote: Sendable {
        var epoch: UInt64
        var version: UInt64
        var channels: Set<String>
    }

    struct Assembly: Sendable {
        var epoch: UInt64
        var version: UInt64
        var nextIndex: UInt32
        var channels: Set<String>
        var bufferedDeltas: [InterestDelta]
    }

    /// Per remote owner: the applied view.
    var remotes: [String: Remote] = [:]
    /// Reverse index channel -> remote owners holding it (never holds empty sets).
    var routes: [String: Set<String>] = [:]
    /// Snapshots being received, per owner.
    var assemblies: [String: Assembly] = [:]
    /// Owners we asked for a sync, with the number of "still ahead" digests seen since.
    var syncPending: [String: Int] = [:]

    /// Creates the table of node `nodeName` for a process started with `epoch`.
    ///
    /// - Parameter epoch: MUST be > 0 and larger than the epoch of any earlier process of this
    ///   node (e.g. start time in milliseconds, or a persisted counter).
    public init(nodeName: String, epoch: UInt64, settings: Settings = Settings()) {
        precondition(epoch > 0, "epoch 0 means 'unknown' on the wire")
        precondition(!nodeName.isEmpty && nodeName.utf8.count <= 255, "node names are 1...255 bytes")
        self.nodeName = nodeName
        self.epoch = epoch
        self.settings = settings
    }
}

// MARK: - Local side

extension InterestTable {
    /// The result of a local subscriber count change.
    public struct LocalChange: Sendable, Hashable {
        /// The channel.
        public var channel: String
        /// The new local subscriber count.
        public var count: Int
        /// The op queued by this change (only on `0 -> 1` or `1 -> 0`), to go out at the next
        /// ``InterestTable/flush()``.
        public var op: InterestOp?
        /// While the channel is present locally: the version that added it; the subscription is
        /// visible cluster-wide once every alive peer acknowledged it
        /// (``InterestTable/isAcknowledged(version:by:)``). After a removal: the removal's
        /// version. 0 when nothing changed and the channel is absent.
        public var visibleAt: UInt64
    }

    /// MUST be called when a local client subscribes to `channel` (after validation: a channel
    /// is 1...255 bytes of UTF-8). Only the first local subscriber queues an op.
    @discardableResult
    public mutating func localSubscribed(channel: String) -> LocalChange {
        self.localCountChanged(channel: channel, count: self.localCounts[channel, default: 0] + 1)
    }

    /// MUST be called when a local client unsubscribes from `channel` or disconnects. Only the
    /// last local subscriber queues an op; unsubscribing an absent channel changes nothing.
    @discardableResult
    public mutating func localUnsubscribed(channel: String) -> LocalChange {
        self.localCountChanged(channel: channel, count: max(0, self.localCounts[channel, default: 0] - 1))
    }

    /// Sets the local subscriber count of `channel` to `count` (>= 0). Equivalent to a series of
    /// ``localSubscribed(channel:)`` / ``localUnsubscribed(channel:)``.
    @discardableResult
    public mutating func localCountChanged(channel: String, count: Int) -> LocalChange {
        precondition(count >= 0, "a subscriber count is never negative")
        precondition(!channel.isEmpty && channel.utf8.count <= 255, "channel names are 1...255 bytes")
        let old = self.localCounts[channel, default: 0]
        switch (old, count) {
        case (0, 0):
            return LocalChange(channel: channel, count: 0, op: nil, visibleAt: 0)
        case (0, _):
            self.localCounts[channel] = count
            let op = InterestOp.add(channel)
            let version = self.queue(op)
            self.addedAt[channel] = version
            return LocalChange(channel: channel, count: count, op: op, visibleAt: version)
        case (_, 0):
            self.localCounts.removeValue(forKey: channel)
            self.addedAt.removeValue(forKey: channel)
            let op = InterestOp.remove(channel)
            let version = self.queue(op)
            return LocalChange(channel: channel, count: 0, op: op, visibleAt: version)
        default:
            self.localCounts[channel] = count
            return LocalChange(channel: channel, count: count, op: nil, visibleAt: self.addedAt[channel] ?? 0)
        }
    }

    private mutating func queue(_ op: InterestOp) -> UInt64 {
        self.version += 1
        self.pendingOps.append(op)
        return self.version
    }

    /// Whether ops are waiting for ``flush()``.
    public var hasPendingOps: Bool { !self.pendingOps.isEmpty }

    /// Turns all pending ops into `.broadcast(.delta(...))` directives, each delta holding at most
    /// ``Settings/maxOpsPerDelta`` ops and about ``Settings/maxBytesPerMessage`` bytes.
    ///
    /// Call it after a burst of local changes (immediately, or at the end of the event-loop
    /// tick to batch); a subscriber waiting for visibility waits at least until its op is flushed.
    public mutating func flush() -> [InterestDirective] {
        guard !self.pendingOps.isEmpty else { return [] }
        let header = InterestWire.deltaHeaderSize(owner: self.nodeName)
        var directives: [InterestDirective] = []
        var batch: [InterestOp] = []
        var bytes = header
        var from = self.flushedVersion + 1
        for op in self.pendingOps {
            let size = InterestWire.opSize(op)
            if !batch.isEmpty,
                batch.count >= self.settings.maxOpsPerDelta || bytes + size > self.settings.maxBytesPerMessage
            {
                directives.append(self.deltaDirective(from: from, ops: batch))
                from += UInt64(batch.count)
                batch.removeAll(keepingCapacity: true)
                bytes = header
            }
            batch.append(op)
            bytes += size
            switch op {
            case .add(let channel): self.publishedChannels.insert(channel)
            case .remove(let channel): self.publishedChannels.remove(channel)
            }
        }
        directives.append(self.deltaDirective(from: from, ops: batch))
        self.pendingOps.removeAll()
        self.flushedVersion = self.version
        return directives
    }

    private func deltaDirective(from: UInt64, ops: [InterestOp]) -> InterestDirective {
        .broadcast(.delta(InterestDelta(owner: self.nodeName, epoch: self.epoch, fromVersion: from, ops: ops)))
    }

    /// The local subscriber count of `channel`.
    public func localCount(of channel: String) -> Int { self.localCounts[channel, default: 0] }

    /// Number of channels with at least one local subscriber.
    public var localChannelCount: Int { self.localCounts.count }

    /// This node's channel set as peers will see it once they applied ``flushedVersion``.
    public var publishedLocalChannels: Set<String> { self.publishedChannels }
}

// MARK: - Acknowledgements (subscribe visibility)

extension InterestTable {
    /// Records that `peer` applied this node's table up to `ack.version`. Also reached through
    /// ``apply(_:from:)``.
    public mutating func onAck(_ ack: InterestAck, from peer: String) -> [InterestDirective] {
        guard ack.owner == self.nodeName, ack.epoch == self.epoch, peer != self.nodeName else {
            return [.ignored(.notForThisNode)]
        }
        let acked = min(ack.version, self.flushedVersion)
        guard acked > self.peerAcks[peer, default: 0] else { return [] }
        self.peerAcks[peer] = acked
        return [.acknowledged(peer: peer, version: acked)]
    }

    /// The highest version of this node's table `peer` acknowledged (0 if none).
    public func acknowledgedVersion(by peer: String) -> UInt64 { self.peerAcks[peer, default: 0] }

    /// Whether every node of `peers` (this node's name is skipped) acknowledged `version` of this
    /// node's table. With `version == 0` or no peers, `true`.
    public func isAcknowledged(version: UInt64, by peers: some Sequence<String>) -> Bool {
        guard version > 0 else { return true }
        for peer in peers where peer != self.nodeName && self.peerAcks[peer, default: 0] < version {
            return false
        }
        return true
    }
}

// MARK: - Routing and views

extension InterestTable {
    /// The remote nodes holding subscribers for `channel` (this node excluded): one dictionary
    /// lookup, no copy of the set's storage.
    public func route(_ channel: String) -> Set<String> { self.routes[channel] ?? [] }

    /// Every channel some remote node holds, with its nodes.
    public var remoteRoutes: [String: Set<String>] { self.routes }

    /// The remote owners this table has a view of.
    public var knownOwners: [String] { Array(self.remotes.keys) }

    /// `owner`'s channels as known here (this node: ``publishedLocalChannels``).
    public func channels(of owner: String) -> Set<String> {
        owner == self.nodeName ? self.publishedChannels : self.remotes[owner]?.channels ?? []
    }

    /// The `(epoch, version)` of `owner` applied here (this node: its epoch and flushed version).
    public func knownState(of owner: String) -> (epoch: UInt64, version: UInt64)? {
        if owner == self.nodeName { return (self.epoch, self.flushedVersion) }
        return self.remotes[owner].map { ($0.epoch, $0.version) }
    }
}

// MARK: - Node lifecycle

extension InterestTable {
    /// MUST be called when membership declares `name` dead or left: drops its routes, its acks,
    /// any snapshot in progress. If it comes back it is re-learned from scratch. The shell
    /// SHOULD drop later messages from a node membership no longer lists (a late one would
    /// re-create a view of it).
    @discardableResult
    public mutating func removeNode(_ name: String) -> [InterestDirective] {
        guard name != self.nodeName else { return [] }
        self.peerAcks.removeValue(forKey: name)
        self.assemblies.removeValue(forKey: name)
        self.syncPending.removeValue(forKey: name)
        guard let remote = self.remotes.removeValue(forKey: name) else { return [] }
        for channel in remote.channels { self.removeRoute(channel, owner: name) }
        return remote.channels.isEmpty ? [] : [.routesChanged(owner: name)]
    }

    /// SHOULD be called when membership reports a new (or restarted) alive peer `name`: forgets its
    /// acks (a new process knows nothing of this table) and returns a snapshot of this node's
    /// table to send to it, so it routes here without waiting for a digest round.
    public mutating func nodeJoined(_ name: String) -> [InterestDirective] {
        guard name != self.nodeName else { return [] }
        self.peerAcks.removeValue(forKey: name)
        return self.makeSync(for: name, knownEpoch: 0, knownVersion: 0)
    }

    mutating func addRoute(_ channel: String, owner: String) {
        self.routes[channel, default: []].insert(owner)
    }

    mutating func removeRoute(_ channel: String, owner: String) {
        guard var owners = self.routes.removeValue(forKey: channel) else { return }
        owners.remove(owner)
        if !owners.isEmpty { self.routes[channel] = owners }
    }
}
