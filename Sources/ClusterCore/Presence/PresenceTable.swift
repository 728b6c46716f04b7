/// Who is present where: per node, per channel, per user. A pure value with no clock, in the style of
/// ``InterestTable``.
///
/// - Locally it counts connections per channel and user; only a user's first connection in a channel on this
///   node (a `join` op) and their last one leaving (a `leave` op) are versioned and queued; ``flush()`` sends
///   the queued ops as bounded deltas.
/// - For every other node it keeps the entries that node published, applied from contiguous deltas of the
///   same epoch; a gap, a new epoch or a digest showing the owner ahead asks the owner for a chunked snapshot,
///   swapped in by diff at its last chunk (deltas arriving meanwhile are replayed after the swap).
/// - The cluster-wide view (this node included) is kept per channel and user with the nodes holding them, so
///   the member count of a channel is one lookup; a user appearing in or vanishing from it is reported as a
///   ``PresenceChange`` (the leave hold is ``PresenceHold``'s business).
/// - A node declared dead or left takes its entries with it at once (``removeNode(_:)``).
public struct PresenceTable: Sendable {
    public struct Settings: Sendable, Hashable {
        /// Most ops in one delta.
        public var maxOpsPerDelta = 256
        /// Most entries in one snapshot chunk.
        public var maxEntriesPerChunk = 256
        /// Soft bound on one message's encoded size (an entry with a 1 KiB info always fits).
        public var maxBytesPerMessage = 65_536
        /// Digests from an owner still ahead after a sync request before it is asked again.
        public var syncRetryDigests = 1
        /// Most deltas kept for an owner while its snapshot is being assembled.
        public var maxBufferedDeltas = 64

        public init() {}
    }

    public let nodeName: String
    public let epoch: UInt64
    public var settings: Settings

    struct LocalUser: Sendable {
        var connections: Int
        var info: String
    }

    /// channel -> user -> this node's connections.
    private var local: [String: [String: LocalUser]] = [:]
    /// channel -> this node's connections in it.
    private var localConnections: [String: Int] = [:]
    /// This node's entries as of `flushedVersion` (what snapshots carry).
    private var published: [String: [String: String]] = [:]
    private var pendingOps: [PresenceOp] = []
    public private(set) var version: UInt64 = 0
    public private(set) var flushedVersion: UInt64 = 0

    struct Remote: Sendable {
        var epoch: UInt64
        var version: UInt64
        /// channel -> user -> info
        var entries: [String: [String: String]]
    }

    struct Assembly: Sendable {
        var epoch: UInt64
        var version: UInt64
        var nextIndex: UInt32
        var entries: [String: [String: String]]
        var buffered: [PresenceMessage]
    }

    private var remotes: [String: Remote] = [:]
    private var assemblies: [String: Assembly] = [:]
    private var syncPending: [String: Int] = [:]
    /// The cluster-wide view: channel -> user -> node -> info.
    private var view: [String: [String: [String: String]]] = [:]

    public init(nodeName: String, epoch: UInt64, settings: Settings = Settings()) {
        self.nodeName = nodeName
        self.epoch = epoch
        self.settings = settings
    }

    // MARK: Views

    /// Users present in `channel` anywhere in the cluster (one lookup).
    public func userCount(in channel: String) -> Int { view[channel]?.count ?? 0 }

    /// The members of `channel` cluster-wide with one `info` each (the first holder's by node name).
    public func members(of channel: String) -> [(user: String, info: String)] {
        guard let users = view[channel] else { return [] }
        return users.keys.sorted().map { user in
            let holders = users[user]!
            return (user, holders[holders.keys.min()!]!)
        }
    }

    /// Whether `user` is present in `channel` anywhere.
    public func isPresent(_ user: String, in channel: String) -> Bool { view[channel]?[user] != nil }

    /// The nodes holding `user` in `channel`.
    public func holders(of user: String, in channel: String) -> Set<String> { Set(view[channel]?[user].map { Array($0.keys) } ?? []) }

    /// This node's connections in `channel`.
    public func localConnectionCount(in channel: String) -> Int { localConnections[channel] ?? 0 }

    /// This node's connections in `channel` per user.
    public func localUserCounts(in channel: String) -> [String: Int] { (local[channel] ?? [:]).mapValues(\.connections) }

    /// Every remote owner's `(epoch, version)` as applied here.
    public func knownState(of owner: String) -> (epoch: UInt64, version: UInt64)? {
        remotes[owner].map { ($0.epoch, $0.version) }
    }

    /// Whether ops wait for ``flush()``.
    public var hasPendingOps: Bool { !pendingOps.isEmpty }

    // MARK: Local side

    /// A connection of `user` joined `channel` on this node; returns the view's changes (the user's first
    /// connection anywhere appears at once).
    public mutating func localJoined(channel: String, user: String, info: String) -> [PresenceDirective] {
        localConnections[channel, default: 0] += 1
        if var entry = local[channel]?[user] {
            entry.connections += 1
            local[channel]![user] = entry
            return []
        }
        local[channel, default: [:]][user] = LocalUser(connections: 1, info: info)
        queue(.join(channel: channel, user: user, info: info))
        return addHolder(channel: channel, user: user, node: nodeName, info: info).map { [.changed($0)] } ?? []
    }

    /// A connection of `user` left `channel` on this node (unsubscribed or closed).
    public mutating func localLeft(channel: String, user: String) -> [PresenceDirective] {
        guard var entry = local[channel]?[user] else { return [] }
        localConnections[channel]! -= 1
        if localConnections[channel]! == 0 { localConnections.removeValue(forKey: channel) }
        entry.connections -= 1
        if entry.connections > 0 {
            local[channel]![user] = entry
            return []
        }
        local[channel]!.removeValue(forKey: user)
        if local[channel]!.isEmpty { local.removeValue(forKey: channel) }
        queue(.leave(channel: channel, user: user))
        return removeHolder(channel: channel, user: user, node: nodeName).map { [.changed($0)] } ?? []
    }

    private mutating func queue(_ op: PresenceOp) {
        version += 1
        pendingOps.append(op)
    }

    /// The queued ops as bounded deltas for every active peer.
    public mutating func flush() -> [PresenceDirective] {
        guard !pendingOps.isEmpty else { return [] }
        var out: [PresenceDirective] = []
        var batch: [PresenceOp] = []
        var bytes = PresenceWire.deltaHeaderSize(owner: nodeName)
        var from = flushedVersion + 1
        for op in pendingOps {
            let size = PresenceWire.opSize(op)
            if !batch.isEmpty, batch.count >= settings.maxOpsPerDelta || bytes + size > settings.maxBytesPerMessage {
                out.append(.broadcast(.delta(owner: nodeName, epoch: epoch, fromVersion: from, ops: batch)))
                from += UInt64(batch.count)
                batch.removeAll(keepingCapacity: true)
                bytes = PresenceWire.deltaHeaderSize(owner: nodeName)
            }
            batch.append(op)
            bytes += size
            switch op {
            case .join(let channel, let user, let info): published[channel, default: [:]][user] = info
            case .leave(let channel, let user):
                published[channel]?.removeValue(forKey: user)
                if published[channel]?.isEmpty == true { published.removeValue(forKey: channel) }
            }
        }
        out.append(.broadcast(.delta(owner: nodeName, epoch: epoch, fromVersion: from, ops: batch)))
        pendingOps.removeAll()
        flushedVersion = version
        return out
    }

    /// This node's digest for every active peer.
    public func digest() -> PresenceMessage {
        .digest(owner: nodeName, epoch: epoch, version: flushedVersion)
    }

    // MARK: Remote side

    /// A message from `peer` (the caller drops those of nodes that are not active members).
    public mutating func apply(_ message: PresenceMessage, from peer: String) -> [PresenceDirective] {
        switch message {
        case .delta(let owner, let epoch, let fromVersion, let ops):
            guard owner == peer, owner != nodeName else { return [] }
            if var assembly = assemblies[owner] {
                if assembly.buffered.count < settings.maxBufferedDeltas { assembly.buffered.append(message) }
                assemblies[owner] = assembly
                return []
            }
            return applyDelta(owner: owner, epoch: epoch, fromVersion: fromVersion, ops: ops)
        case .digest(let owner, let epoch, let version):
            guard owner == peer, owner != nodeName else { return [] }
            return onDigest(owner: owner, epoch: epoch, version: version)
        case .syncRequest(let owner):
            guard owner == nodeName, peer != nodeName else { return [] }
            return snapshot(for: peer)
        case .snapshot(let owner, let epoch, let version, let index, let isLast, let entries):
            guard owner == peer, owner != nodeName else { return [] }
            return onChunk(owner: owner, epoch: epoch, version: version, index: index, isLast: isLast, entries: entries)
        }
    }

    private mutating func applyDelta(owner: String, epoch: UInt64, fromVersion: UInt64, ops: [PresenceOp]) -> [PresenceDirective] {
        guard fromVersion >= 1, !ops.isEmpty else { return [] }
        let knownVersion: UInt64
        if let known = remotes[owner] {
            guard epoch >= known.epoch else { return [] }
            // A new epoch of a known owner: its old entries go by a snapshot's diff, not by replaying ops on them.
            guard epoch == known.epoch else { return requestSyncOnce(owner) }
            knownVersion = known.version
        } else {
            guard fromVersion == 1 else { return requestSyncOnce(owner) }
            knownVersion = 0
            remotes[owner] = Remote(epoch: epoch, version: 0, entries: [:])
        }
        let last = fromVersion + UInt64(ops.count) - 1
        guard last > knownVersion else { return [] }
        guard fromVersion <= knownVersion + 1 else { return requestSyncOnce(owner) }
        var out: [PresenceDirective] = []
        for op in ops.dropFirst(Int(knownVersion + 1 - fromVersion)) {
            switch op {
            case .join(let channel, let user, let info):
                remotes[owner]!.entries[channel, default: [:]][user] = info
                if let change = addHolder(channel: channel, user: user, node: owner, info: info) { out.append(.changed(change)) }
            case .leave(let channel, let user):
                remotes[owner]!.entries[channel]?.removeValue(forKey: user)
                if remotes[owner]!.entries[channel]?.isEmpty == true { remotes[owner]!.entries.removeValue(forKey: channel) }
                if let change = removeHolder(channel: channel, user: user, node: owner) { out.append(.changed(change)) }
            }
        }
        remotes[owner]!.version = last
        syncPending.removeValue(forKey: owner)
        return out
    }

    private mutating func onDigest(owner: String, epoch: UInt64, version: UInt64) -> [PresenceDirective] {
        let known = remotes[owner]
        if let known, epoch < known.epoch { return [] }
        if let known, known.epoch == epoch, known.version >= version {
            syncPending.removeValue(forKey: owner)
            return []
        }
        if version == 0 {
            // The owner has no entries in this epoch: nothing to ask for.
            return swap(owner: owner, to: Remote(epoch: epoch, version: 0, entries: [:]))
        }
        guard assemblies[owner] == nil else { return [] }
        if let seen = syncPending[owner] {
            guard seen >= settings.syncRetryDigests else {
                syncPending[owner] = seen + 1
                return []
            }
        }
        return requestSync(owner)
    }

    /// A gap: one sync request until it is answered (lost ones are repeated by the digests).
    private mutating func requestSyncOnce(_ owner: String) -> [PresenceDirective] {
        syncPending[owner] == nil ? requestSync(owner) : []
    }

    private mutating func requestSync(_ owner: String) -> [PresenceDirective] {
        syncPending[owner] = 0
        return [.send(.syncRequest(owner: owner), to: owner)]
    }

    private mutating func onChunk(owner: String, epoch: UInt64, version: UInt64, index: UInt32, isLast: Bool, entries: [PresenceEntry]) -> [PresenceDirective] {
        if let known = remotes[owner], epoch < known.epoch || (epoch == known.epoch && version < known.version) { return [] }
        if index == 0 {
            let buffered = assemblies[owner]?.buffered ?? []
            assemblies[owner] = Assembly(epoch: epoch, version: version, nextIndex: 0, entries: [:], buffered: buffered)
        }
        guard var assembly = assemblies[owner], assembly.epoch == epoch, assembly.version == version, assembly.nextIndex == index else {
            return []
        }
        for entry in entries { assembly.entries[entry.channel, default: [:]][entry.user] = entry.info }
        assembly.nextIndex += 1
        guard isLast else {
            assemblies[owner] = assembly
            syncPending[owner] = 0
            return []
        }
        assemblies.removeValue(forKey: owner)
        syncPending.removeValue(forKey: owner)
        var out = swap(owner: owner, to: Remote(epoch: epoch, version: version, entries: assembly.entries))
        for message in assembly.buffered { out += apply(message, from: owner) }
        return out
    }

    /// Replaces `owner`'s entries, reporting only what differs (a user in both views never vanishes).
    private mutating func swap(owner: String, to new: Remote) -> [PresenceDirective] {
        let old = remotes[owner]?.entries ?? [:]
        remotes[owner] = new
        var out: [PresenceDirective] = []
        for (channel, users) in new.entries {
            for (user, info) in users where old[channel]?[user] == nil {
                if let change = addHolder(channel: channel, user: user, node: owner, info: info) { out.append(.changed(change)) }
            }
        }
        for (channel, users) in old {
            for user in users.keys where new.entries[channel]?[user] == nil {
                if let change = removeHolder(channel: channel, user: user, node: owner) { out.append(.changed(change)) }
            }
        }
        return out
    }

    /// This node's published entries for `peer`, in bounded chunks.
    private func snapshot(for peer: String) -> [PresenceDirective] {
        var chunks: [[PresenceEntry]] = [[]]
        var bytes = PresenceWire.snapshotHeaderSize(owner: nodeName)
        for channel in published.keys.sorted() {
            for (user, info) in published[channel]! {
                let entry = PresenceEntry(channel: channel, user: user, info: info)
                let size = PresenceWire.entrySize(entry)
                if !chunks[chunks.count - 1].isEmpty,
                    chunks[chunks.count - 1].count >= settings.maxEntriesPerChunk || bytes + size > settings.maxBytesPerMessage
                {
                    chunks.append([])
                    bytes = PresenceWire.snapshotHeaderSize(owner: nodeName)
                }
                chunks[chunks.count - 1].append(entry)
                bytes += size
            }
        }
        return chunks.enumerated().map { index, entries in
            .send(
                .snapshot(
                    owner: nodeName, epoch: epoch, version: flushedVersion, index: UInt32(index),
                    isLast: index == chunks.count - 1, entries: entries
                ),
                to: peer
            )
        }
    }

    // MARK: Node lifecycle

    /// `name` was declared dead or left: its users leave the view at once.
    public mutating func removeNode(_ name: String) -> [PresenceDirective] {
        guard name != nodeName else { return [] }
        assemblies.removeValue(forKey: name)
        syncPending.removeValue(forKey: name)
        guard let remote = remotes.removeValue(forKey: name) else { return [] }
        var out: [PresenceDirective] = []
        for (channel, users) in remote.entries.sorted(by: { $0.key < $1.key }) {
            for user in users.keys.sorted() {
                if let change = removeHolder(channel: channel, user: user, node: name) { out.append(.changed(change)) }
            }
        }
        return out
    }

    /// A new (or restarted) active peer: it gets this node's entries at once.
    public func nodeJoined(_ name: String) -> [PresenceDirective] {
        guard name != nodeName else { return [] }
        return snapshot(for: name)
    }

    // MARK: The view

    private mutating func addHolder(channel: String, user: String, node: String, info: String) -> PresenceChange? {
        let isNew = view[channel]?[user] == nil
        view[channel, default: [:]][user, default: [:]][node] = info
        return isNew ? .appeared(channel: channel, user: user, info: info) : nil
    }

    private mutating func removeHolder(channel: String, user: String, node: String) -> PresenceChange? {
        guard let info = view[channel]?[user]?.removeValue(forKey: node) else { return nil }
        guard view[channel]![user]!.isEmpty else { return nil }
        view[channel]!.removeValue(forKey: user)
        if view[channel]!.isEmpty { view.removeValue(forKey: channel) }
        return .vanished(channel: channel, user: user, info: info)
    }
}
