// MARK: - Remote side: deltas, snapshots, digests, sync requests

extension InterestTable {
    /// MUST be called for every ``InterestMessage`` received from peer `peer` (after
    /// ``InterestMessage/decode(_:)``). Never throws: unusable input yields `.ignored`.
    public mutating func apply(_ message: InterestMessage, from peer: String) -> [InterestDirective] {
        switch message {
        case .delta(let delta): return self.onDelta(delta)
        case .ack(let ack): return self.onAck(ack, from: peer)
        case .digest(let digest): return self.onDigest(digest, from: peer)
        case .syncRequest(let request): return self.onSyncRequest(request, from: peer)
        case .snapshot(let chunk): return self.onSnapshotChunk(chunk)
        }
    }

    // MARK: Deltas

    /// Applies `delta` if contiguous with the known view of its owner; acks it; otherwise buffers
    /// it (snapshot in progress), ignores it (stale / already applied) or requests a sync.
    public mutating func onDelta(_ delta: InterestDelta) -> [InterestDirective] {
        let owner = delta.owner
        guard owner != self.nodeName else { return [.ignored(.ownTable)] }
        guard let known = self.remotes[owner] else {
            // First time we hear of this owner: a delta from version 1 is a complete history.
            guard delta.fromVersion == 1 else { return self.bufferOrRequestSync(delta) }
            self.remotes[owner] = Remote(epoch: delta.epoch, version: 0, channels: [])
            return self.applyContiguous(delta, skip: 0)
        }
        if delta.epoch < known.epoch { return [.ignored(.staleEpoch(owner: owner))] }
        if delta.epoch > known.epoch {
            // The owner restarted. Its first delta of the new epoch starts from an empty set.
            guard delta.fromVersion == 1 else { return self.bufferOrRequestSync(delta) }
            var directives = self.install(owner: owner, epoch: delta.epoch, version: 0, channels: [], ack: false)
            directives += self.applyContiguous(delta, skip: 0)
            return directives
        }
        if delta.toVersion <= known.version {
            return [.ignored(.alreadyApplied(owner: owner)), self.ackDirective(owner: owner)]
        }
        if delta.fromVersion > known.version + 1 { return self.bufferOrRequestSync(delta) }
        return self.applyContiguous(delta, skip: Int(known.version + 1 - delta.fromVersion))
    }

    private mutating func applyContiguous(_ delta: InterestDelta, skip: Int) -> [InterestDirective] {
        let owner = delta.owner
        guard var remote = self.remotes.removeValue(forKey: owner) else { return [] }
        var changed = false
        for op in delta.ops.dropFirst(skip) {
            switch op {
            case .add(let channel):
                if remote.channels.insert(channel).inserted {
                    self.addRoute(channel, owner: owner)
                    changed = true
                }
            case .remove(let channel):
                if remote.channels.remove(channel) != nil {
                    self.removeRoute(channel, owner: owner)
                    changed = true
                }
            }
        }
        remote.version = delta.toVersion
        self.remotes[owner] = remote
        var directives: [InterestDirective] = changed ? [.routesChanged(owner: owner)] : []
        directives.append(self.ackDirective(owner: owner))
        return directives
    }

    private mutating func bufferOrRequestSync(_ delta: InterestDelta) -> [InterestDirective] {
        let owner = delta.owner
        if var assembly = self.assemblies.removeValue(forKey: owner) {
            let fits = assembly.epoch == delta.epoch && delta.toVersion > assembly.version
            if fits && assembly.bufferedDeltas.count < self.settings.maxBufferedDeltas {
                assembly.bufferedDeltas.append(delta)
                self.assemblies[owner] = assembly
                return []
            }
            self.assemblies[owner] = assembly
        }
        return [.ignored(.gap(owner: owner))] + self.requestSync(from: owner, force: false)
    }

    /// Sends a sync request to `owner` unless one is outstanding (or `force`).
    private mutating func requestSync(from owner: String, force: Bool) -> [InterestDirective] {
        if !force, self.syncPending[owner] != nil { return [] }
        self.syncPending[owner] = 0
        let known = self.remotes[owner]
        let request = InterestSyncRequest(
            owner: owner,
            knownEpoch: known?.epoch ?? 0,
            knownVersion: known?.version ?? 0
        )
        return [.send(.syncRequest(request), to: owner)]
    }

    private func ackDirective(owner: String) -> InterestDirective {
        let known = self.remotes[owner]
        let ack = InterestAck(owner: owner, epoch: known?.epoch ?? 0, version: known?.version ?? 0)
        return .send(.ack(ack), to: owner)
    }

    // MARK: Snapshots

    /// Merges one chunk of an owner's snapshot. The old view keeps routing until the last chunk,
    /// then the new set replaces it by diff (channels in both views are never unrouted).
    public mutating func onSnapshotChunk(_ chunk: InterestSnapshotChunk) -> [InterestDirective] {
        let owner = chunk.owner
        guard owner != self.nodeName else { return [.ignored(.ownTable)] }
        if chunk.index == 0 {
            if let known = self.remotes[owner] {
                if chunk.epoch < known.epoch { return [.ignored(.staleEpoch(owner: owner))] }
                if chunk.epoch == known.epoch && chunk.version <= known.version {
                    // Already have this (or newer): idempotent; the ack tells the owner where we are.
                    self.syncPending.removeValue(forKey: owner)
                    return [.ignored(.alreadyApplied(owner: owner)), self.ackDirective(owner: owner)]
                }
            }
            if chunk.isLast {
                let buffered = self.assemblies.removeValue(forKey: owner)?.bufferedDeltas ?? []
                return self.install(
                    owner: owner,
                    epoch: chunk.epoch,
                    version: chunk.version,
                    channels: Set(chunk.channels),
                    ack: true
                ) + self.replay(buffered)
            }
            // A new snapshot starts; deltas buffered for a previous attempt of the same epoch stay.
            let previous = self.assemblies.removeValue(forKey: owner)
            let buffered = previous?.epoch == chunk.epoch ? previous?.bufferedDeltas ?? [] : []
            self.assemblies[owner] = Assembly(
                epoch: chunk.epoch,
                version: chunk.version,
                nextIndex: 1,
                channels: Set(chunk.channels),
                bufferedDeltas: buffered
            )
            if self.syncPending[owner] != nil { self.syncPending[owner] = 0 }
            return []
        }
        guard var assembly = self.assemblies.removeValue(forKey: owner) else {
            return [.ignored(.unexpectedChunk(owner: owner))]
        }
        guard assembly.epoch == chunk.epoch, assembly.version == chunk.version else {
            // A chunk of another snapshot (an older duplicate): keep assembling ours.
            self.assemblies[owner] = assembly
            return [.ignored(.unexpectedChunk(owner: owner))]
        }
        guard assembly.nextIndex == chunk.index else {
            // A chunk was lost: this snapshot cannot complete. Ask again.
            return [.ignored(.unexpectedChunk(owner: owner))] + self.requestSync(from: owner, force: true)
        }
        assembly.channels.formUnion(chunk.channels)
        assembly.nextIndex += 1
        if self.syncPending[owner] != nil {
            // The snapshot is progressing: do not re-request it while it streams in.
            self.syncPending[owner] = 0
        }
        guard chunk.isLast else {
            self.assemblies[owner] = assembly
            return []
        }
        return self.install(
            owner: owner,
            epoch: assembly.epoch,
            version: assembly.version,
            channels: assembly.channels,
            ack: true
        ) + self.replay(assembly.bufferedDeltas)
    }

    private mutating func replay(_ deltas: [InterestDelta]) -> [InterestDirective] {
        var directives: [InterestDirective] = []
        for delta in deltas { directives += self.onDelta(delta) }
        return directives
    }

    /// Replaces `owner`'s view by `channels` at `(epoch, version)`, updating routes by diff.
    private mutating func install(
        owner: String,
        epoch: UInt64,
        version: UInt64,
        channels: Set<String>,
        ack: Bool
    ) -> [InterestDirective] {
        let old = self.remotes.removeValue(forKey: owner)
        if let old, old.epoch < epoch {
            // A new process of that node: it knows nothing of our table yet.
            self.peerAcks.removeValue(forKey: owner)
        }
        var changed = false
        if let old {
            for channel in old.channels where !channels.contains(channel) {
                self.removeRoute(channel, owner: owner)
                changed = true
            }
        }
        for channel in channels where !(old?.channels.contains(channel) ?? false) {
            self.addRoute(channel, owner: owner)
            changed = true
        }
        self.remotes[owner] = Remote(epoch: epoch, version: version, channels: channels)
        self.syncPending.removeValue(forKey: owner)
        var directives: [InterestDirective] = changed ? [.routesChanged(owner: owner)] : []
        if ack { directives.append(self.ackDirective(owner: owner)) }
        return directives
    }

    /// The chunked snapshot of this node's published channel set (as of ``flushedVersion``),
    /// as `.send(.snapshot(...), to: requester)` directives; empty if the requester already has
    /// exactly that state. An "incremental" sync is this full snapshot: the owner keeps no
    /// history of ops.
    public func makeSync(for requester: String, knownEpoch: UInt64, knownVersion: UInt64) -> [InterestDirective] {
        if knownEpoch == self.epoch && knownVersion == self.flushedVersion { return [] }
        return self.makeSnapshot().map { .send(.snapshot($0), to: requester) }
    }

    /// This node's published channel set as snapshot chunks, each within
    /// ``Settings/maxChannelsPerChunk`` channels and ``Settings/maxBytesPerMessage`` bytes.
    public func makeSnapshot() -> [InterestSnapshotChunk] {
        let header = InterestWire.snapshotHeaderSize(owner: self.nodeName)
        var chunks: [InterestSnapshotChunk] = []
        var current: [String] = []
        var bytes = header
        for channel in self.publishedChannels {
            let size = InterestWire.stringSize(channel)
            if !current.isEmpty,
                current.count >= self.settings.maxChannelsPerChunk || bytes + size > self.settings.maxBytesPerMessage
            {
                chunks.append(self.chunk(index: chunks.count, isLast: false, channels: current))
                current.removeAll(keepingCapacity: true)
                bytes = header
            }
            current.append(channel)
            bytes += size
        }
        chunks.append(self.chunk(index: chunks.count, isLast: true, channels: current))
        return chunks
    }

    private func chunk(index: Int, isLast: Bool, channels: [String]) -> InterestSnapshotChunk {
        InterestSnapshotChunk(
            owner: self.nodeName,
            epoch: self.epoch,
            version: self.flushedVersion,
            index: UInt32(index),
            isLast: isLast,
            channels: channels
        )
    }

    /// Answers a sync request addressed to this node with snapshot chunks.
    public mutating func onSyncRequest(_ request: InterestSyncRequest, from peer: String) -> [InterestDirective] {
        guard request.owner == self.nodeName, peer != self.nodeName else { return [.ignored(.notForThisNode)] }
        return self.makeSync(for: peer, knownEpoch: request.knownEpoch, knownVersion: request.knownVersion)
    }

    // MARK: Anti-entropy

    /// This node's whole view: its own `(epoch, flushedVersion)` and every known owner's, sorted
    /// by name (for status pages and debugging; the periodic digest is ``digest(for:)``).
    public func digest() -> InterestDigest {
        var entries = [InterestDigest.Entry(owner: self.nodeName, epoch: self.epoch, version: self.flushedVersion)]
        for (owner, remote) in self.remotes {
            entries.append(.init(owner: owner, epoch: remote.epoch, version: remote.version))
        }
        entries.sort { $0.owner < $1.owner }
        return InterestDigest(entries: entries)
    }

    /// The digest sent to `peer`: the two entries ``onDigest(_:from:)`` acts on, this node's own
    /// `(epoch, flushedVersion)` and this node's view of `peer` (if any). Keeping it to two entries
    /// makes anti-entropy cost O(peers) bytes per node and round instead of O(peers²).
    public func digest(for peer: String) -> InterestDigest {
        let mine = InterestDigest.Entry(owner: self.nodeName, epoch: self.epoch, version: self.flushedVersion)
        guard peer != self.nodeName, let remote = self.remotes[peer] else { return InterestDigest(entries: [mine]) }
        let theirs = InterestDigest.Entry(owner: peer, epoch: remote.epoch, version: remote.version)
        return InterestDigest(entries: mine.owner < theirs.owner ? [mine, theirs] : [theirs, mine])
    }

    /// MUST be called every ``Settings/digestInterval`` with the alive peers: flushes pending ops
    /// and sends each peer its ``digest(for:)``.
    public mutating func onDigestTick(peers: some Sequence<String>) -> [InterestDirective] {
        var directives = self.flush()
        for peer in peers where peer != self.nodeName {
            directives.append(.send(.digest(self.digest(for: peer)), to: peer))
        }
        return directives
    }

    /// Compares a peer's digest with this view: requests a sync when the peer's entry about
    /// itself is ahead of ours (retrying after ``Settings/syncRetryDigests`` digests), and takes
    /// its entry about this node as an acknowledgement.
    public mutating func onDigest(_ digest: InterestDigest, from peer: String) -> [InterestDirective] {
        guard peer != self.nodeName else { return [.ignored(.ownTable)] }
        var directives: [InterestDirective] = []
        if let mine = digest.entry(for: self.nodeName), mine.epoch == self.epoch {
            directives += self.onAck(
                InterestAck(owner: self.nodeName, epoch: mine.epoch, version: mine.version),
                from: peer
            )
        }
        guard let theirs = digest.entry(for: peer) else { return directives }
        let known = self.remotes[peer]
        let ahead: Bool
        if known == nil || theirs.epoch > known!.epoch {
            if theirs.version == 0 {
                // A fresh process with no channels: nothing to fetch.
                directives += self.install(owner: peer, epoch: theirs.epoch, version: 0, channels: [], ack: false)
                ahead = false
            } else {
                ahead = true
            }
        } else {
            ahead = theirs.epoch == known!.epoch && theirs.version > known!.version
        }
        if !ahead {
            self.syncPending.removeValue(forKey: peer)
        } else if let waited = self.syncPending[peer], waited < self.settings.syncRetryDigests {
            self.syncPending[peer] = waited + 1
        } else {
            directives += self.requestSync(from: peer, force: true)
        }
        return directives
    }
}
