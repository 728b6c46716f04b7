// The history protocol of ``Cluster/Instance``: ownership by rendezvous order, the holder's append, copy and
// release, syncs, transfers, takeovers and claims, and the emits and reads that wait for an owner. The rules
// that keep two nodes from giving offsets under one epoch are argued on ``History``.

extension Cluster.Instance {
    // MARK: Views

    /// Members that may own `channel`, in rendezvous order: the alive and suspect ones, this node included
    /// unless it is leaving.
    public func historyRanking(_ channel: String) -> [String] {
        let names = membership.members.compactMap { member -> String? in
            guard member.state.isActive, !(stopping && member.name == myself.name) else { return nil }
            return member.name
        }
        return Rendezvous.order(channel: channel, members: names)
    }

    /// This node's copy of `channel`'s stream, if it keeps one.
    public func historyStream(_ channel: String) -> History.Stream<Data>? { history.streams[channel] }

    /// How this process names itself in message keys: `name#incarnation`.
    public var historyOrigin: String { "\(myself.name)#\(myself.incarnation)" }

    /// History emits and reads this node still waits for.
    public var historyRequestCount: Int { history.appends.count + history.reads.count }

    // MARK: Inputs

    /// Emits a message to a history channel: it goes to the channel's owner, which gives it the next offset,
    /// copies it to the backup, delivers it to every node with subscribers (this one included) and answers.
    /// While no owner is ready the emit is sent again, for at most ``History/Settings/waitLimit``.
    /// `tag` names the message in its key (unique per process; the request ID when nil), so that the node can
    /// tell its own messages when they come back (a `send_data` skips its sender).
    public mutating func historyAppend(channel: String, data: Data, bytes: Int, timestamp: Int, tag: UInt64? = nil, now: Duration) -> (Cluster.Answer<History.AppendOutcome>, [Cluster.Directive<Data>]) {
        var out: [Cluster.Directive<Data>] = []
        history.lastNow = now
        let id = makeRequestID()
        history.unixNow = max(history.unixNow, timestamp)
        let key = History.MessageKey(origin: historyOrigin, id: tag ?? id)
        let entry = History.Entry(offset: 0, timestamp: timestamp, key: key, data: data, bytes: bytes)
        history.appends[id] = Cluster.OriginAppend(channel: channel, entry: entry, deadline: now + history.settings.waitLimit, retryAt: now)
        sendAppend(id, now: now, into: &out)
        scheduleHistoryTick(now: now)
        arm(&out)
        return (.later(id), out)
    }

    /// Reads a history channel's released messages from its owner: those after `after` (recovery), or the last
    /// `limit` (nil: all kept). `unixTime` is the caller's clock (for TTL).
    public mutating func historyRead(channel: String, after: UInt64?, limit: Int?, unixTime: Int, now: Duration) -> (Cluster.Answer<History.ReadOutcome<Data>>, [Cluster.Directive<Data>]) {
        var out: [Cluster.Directive<Data>] = []
        history.lastNow = now
        let id = makeRequestID()
        history.unixNow = max(history.unixNow, unixTime)
        history.reads[id] = Cluster.OriginRead(channel: channel, after: after, limit: limit, deadline: now + history.settings.waitLimit, retryAt: now)
        sendRead(id, now: now, into: &out)
        scheduleHistoryTick(now: now)
        arm(&out)
        return (.later(id), out)
    }

    /// The count of this node's own subscribers an entry of ``Cluster/Directive/deliverHistory(channel:epoch:entry:from:ack:)``
    /// from this node reached.
    public mutating func historyDelivered(requestID: Cluster.RequestID, count: Int, now: Duration) -> [Cluster.Directive<Data>] {
        var out: [Cluster.Directive<Data>] = []
        let me = myself.name
        answered(requestID, by: me, into: &out) { $0.counts.append(NodeCount(node: me, count: count)) }
        arm(&out)
        return out
    }

    // MARK: Origin side

    private mutating func sendAppend(_ id: Cluster.RequestID, now: Duration, into out: inout [Cluster.Directive<Data>]) {
        guard var request = history.appends[id] else { return }
        guard let owner = historyRanking(request.channel).first else {
            request.retryAt = now + history.settings.retryInterval
            history.appends[id] = request
            return
        }
        if owner == myself.name {
            request.retryAt = now + history.settings.retryInterval
            history.appends[id] = request
            _ = holderAppend(channel: request.channel, entry: request.entry, reply: .local(id), now: now, into: &out)
        } else {
            // Sent again after a while even without an answer: frames can be lost, and the key makes it idempotent.
            request.retryAt = now + history.settings.answerTimeout
            history.appends[id] = request
            out.append(.send(.history(.append(requestID: id, channel: request.channel, entry: request.entry)), to: [owner]))
        }
    }

    private mutating func sendRead(_ id: Cluster.RequestID, now: Duration, into out: inout [Cluster.Directive<Data>]) {
        guard var request = history.reads[id] else { return }
        guard let owner = historyRanking(request.channel).first else { return }
        if owner == myself.name {
            request.retryAt = now + history.settings.retryInterval
            history.reads[id] = request
            if let range = holderRead(channel: request.channel, after: request.after, limit: request.limit, now: now, into: &out) {
                history.reads[id] = nil
                out.append(.completeHistoryRead(id, range))
            }
        } else {
            request.retryAt = now + history.settings.answerTimeout / 4
            history.reads[id] = request
            out.append(.send(.history(.read(requestID: id, channel: request.channel, after: request.after, limit: request.limit)), to: [owner]))
        }
    }

    /// The owner's answer reached the accepting node (or the owner is this node).
    private mutating func originAnswered(_ id: Cluster.RequestID, _ result: History.Appended?, now: Duration, into out: inout [Cluster.Directive<Data>]) {
        guard var request = history.appends[id] else { return }
        guard let result else {
            request.retryAt = now + history.settings.retryInterval
            history.appends[id] = request
            return
        }
        history.appends[id] = nil
        out.append(.completeHistoryAppend(id, .appended(epoch: result.epoch, offset: result.offset, counts: result.counts)))
    }

    /// A released message's deliveries are counted: its emit is answered.
    mutating func historyReleased(_ reply: Cluster.AppendReply, _ appended: History.Appended, into out: inout [Cluster.Directive<Data>]) {
        switch reply {
        case .local(let id):
            guard history.appends.removeValue(forKey: id) != nil else { return }
            out.append(.completeHistoryAppend(id, .appended(epoch: appended.epoch, offset: appended.offset, counts: appended.counts)))
        case .remote(let peer, let id):
            out.append(.send(.history(.appended(requestID: id, result: appended)), to: [peer]))
        }
    }

    // MARK: Holder side

    /// Whether this node gives offsets for `channel` right now; starts what makes it ready (a claim, a sync).
    private mutating func isReadyHolder(_ channel: String, now: Duration, into out: inout [Cluster.Directive<Data>]) -> Bool {
        let ranking = historyRanking(channel)
        guard ranking.first == myself.name else { return false }
        reconcile(channel, now: now, into: &out)
        guard history.streams[channel]?.holder == myself.name else {
            startClaim(channel, now: now, into: &out)
            return false
        }
        guard let stream = history.streams[channel], stream.holder == myself.name, let holder = history.holding[channel],
            holder.pendingSync == nil
        else { return false }
        return holder.syncedBackup != nil || (ranking.count == 1 && history.settings.soloAllowed)
    }

    /// Takes an emit as the channel's holder; false when not ready (the accepting node sends it again).
    private mutating func holderAppend(channel: String, entry: History.Entry<Data>, reply: Cluster.AppendReply, now: Duration, into out: inout [Cluster.Directive<Data>]) -> Bool {
        history.unixNow = max(history.unixNow, entry.timestamp)
        guard isReadyHolder(channel, now: now, into: &out), let found = history.streams[channel], history.holding[channel] != nil else {
            return false
        }
        if let offset = found.offset(of: entry.key) {
            // Sent again: answered once more if already handed out and counted; else its answer is still to come.
            let counting = pending.values.contains { if case .history(reply, _, _) = $0.kind { true } else { false } }
            if offset <= found.released, !counting {
                historyReleased(reply, History.Appended(epoch: found.epoch, offset: offset, counts: []), into: &out)
            }
            return true
        }
        // Mutated in place: a copy of the stream would copy its ring.
        let kept = history.streams[channel]!.append(timestamp: entry.timestamp, key: entry.key, data: entry.data, bytes: entry.bytes)
        history.streams[channel]!.trim(size: history.settings.size, ttlSeconds: history.settings.ttlSeconds, unixNow: history.unixNow)
        history.holding[channel]!.inflight[kept.offset] = reply
        if history.holding[channel]!.inflightSince == nil { history.holding[channel]!.inflightSince = now }
        if let backup = history.holding[channel]!.syncedBackup {
            out.append(.send(.history(.copy(channel: channel, epoch: found.epoch, lease: found.lease, entry: kept)), to: [backup]))
        } else {
            releaseAcknowledged(channel, everything: true, now: now, into: &out)
        }
        publishHistoryStats(into: &out)
        return true
    }

    /// Hands out, in offset order, the in-flight entries the backup holds (`everything`: all of them).
    private mutating func releaseAcknowledged(_ channel: String, everything: Bool, now: Duration, into out: inout [Cluster.Directive<Data>]) {
        guard history.streams[channel] != nil, history.holding[channel] != nil else { return }
        while let stream = history.streams[channel], stream.released < stream.top {
            let offset = stream.released + 1
            guard everything || history.holding[channel]!.acked.contains(offset) else { break }
            history.streams[channel]!.released = offset
            history.holding[channel]!.acked.remove(offset)
            let reply = history.holding[channel]!.inflight.removeValue(forKey: offset) ?? nil
            let entry = stream.entries[Int(offset - stream.firstKept)]
            handOut(channel, epoch: stream.epoch, entry: entry, reply: reply, now: now, into: &out)
        }
        history.holding[channel]!.inflightSince = history.holding[channel]!.inflight.isEmpty ? nil : now
        history.streams[channel]!.trim(size: history.settings.size, ttlSeconds: history.settings.ttlSeconds, unixNow: history.unixNow)
    }

    /// Delivers a released entry here and to every node with subscribers; its emit is answered once counted.
    private mutating func handOut(_ channel: String, epoch: String, entry: History.Entry<Data>, reply: Cluster.AppendReply?, now: Duration, into out: inout [Cluster.Directive<Data>]) {
        let targets = Array(interest.route(channel)).filter { $0 != myself.name }.sorted()
        let id = makeRequestID()
        if let reply {
            pending[id] = Cluster.PendingRequest(kind: .history(reply: reply, epoch: epoch, offset: entry.offset), waiting: Set(targets + [myself.name]))
            forwardDeadlines.append(now + settings.forwardTimeout, id)
        }
        out.append(.deliverHistory(channel: channel, epoch: epoch, entry: entry, from: myself.name, ack: reply == nil ? nil : id))
        if !targets.isEmpty {
            sendInOrder(.history(.push(requestID: reply == nil ? 0 : id, channel: channel, epoch: epoch, entry: entry)), to: targets, now: now, into: &out)
        }
    }

    private mutating func holderRead(channel: String, after: UInt64?, limit: Int?, now: Duration, into out: inout [Cluster.Directive<Data>]) -> History.Range<Data>? {
        let ranking = historyRanking(channel)
        guard ranking.first == myself.name else { return nil }
        reconcile(channel, now: now, into: &out)
        guard var stream = history.streams[channel], stream.holder == myself.name else {
            startClaim(channel, now: now, into: &out)
            return nil
        }
        guard history.holding[channel]?.pendingSync?.transfer != true else { return nil }
        stream.trim(size: history.settings.size, ttlSeconds: history.settings.ttlSeconds, unixNow: history.unixNow)
        history.streams[channel] = stream
        return stream.range(after: after, limit: limit)
    }

    /// Stops holding `channel` (a newer holder exists): what was not handed out is dropped and its emits sent again.
    private mutating func fenced(_ channel: String, holder newHolder: String, now: Duration, into out: inout [Cluster.Directive<Data>]) {
        guard var stream = history.streams[channel] else { return }
        let replies = history.holding.removeValue(forKey: channel)?.inflight.values.compactMap { $0 } ?? []
        stream.dropUnreleased()
        stream.holder = newHolder
        history.streams[channel] = stream
        for reply in replies { notReady(reply, now: now, into: &out) }
    }

    private mutating func notReady(_ reply: Cluster.AppendReply, now: Duration, into out: inout [Cluster.Directive<Data>]) {
        switch reply {
        case .local(let id): originAnswered(id, nil, now: now, into: &out)
        case .remote(let peer, let id): out.append(.send(.history(.appended(requestID: id, result: nil)), to: [peer]))
        }
    }

    // MARK: Ownership changes

    /// Brings `channel`'s copy here in line with the ranking: a holder that is no longer first transfers the
    /// stream; a holder whose backup changed syncs the new one; a copy whose holder is gone is taken over by the
    /// first in the ranking, or transferred to it.
    private mutating func reconcile(_ channel: String, now: Duration, into out: inout [Cluster.Directive<Data>]) {
        guard var stream = history.streams[channel] else { return }
        let ranking = historyRanking(channel)
        let me = myself.name
        if stream.holder == me {
            var holder = history.holding[channel] ?? Cluster.HolderState()
            if let sync = holder.pendingSync, sync.deadline > now, ranking.contains(sync.target) { return }
            let backup = ranking.count > 1 ? ranking[1] : nil
            if let sync = holder.pendingSync, sync.lease == stream.lease, sync.target == (sync.transfer ? ranking.first : backup) {
                // Unanswered: sent again under the same lease (a lease grows only when the holder or backup changes,
                // so a holder cut off from everyone does not outbid the node that took over meanwhile).
                holder.pendingSync?.deadline = now + history.settings.answerTimeout
                history.holding[channel] = holder
                out.append(.send(.history(.sync(channel: channel, snapshot: stream.snapshot, transfer: sync.transfer)), to: [sync.target]))
                scheduleHistoryTick(now: now)
                return
            }
            holder.pendingSync = nil
            guard let owner = ranking.first else {
                history.holding[channel] = holder
                return
            }
            if let since = holder.inflightSince, now - since >= history.settings.answerTimeout { holder.syncedBackup = nil }
            if let synced = holder.syncedBackup, !ranking.contains(synced) { holder.syncedBackup = nil }
            history.holding[channel] = holder
            if owner != me {
                // Hand the stream over; what is in flight is handed out first while the backup still answers.
                if !holder.inflight.isEmpty, holder.syncedBackup != nil { return }
                fenced(channel, holder: me, now: now, into: &out)
                stream = history.streams[channel]!
                stream.lease += 1
                history.streams[channel] = stream
                var transferring = Cluster.HolderState()
                transferring.pendingSync = Cluster.PendingSync(target: owner, lease: stream.lease, transfer: true, deadline: now + history.settings.answerTimeout)
                history.holding[channel] = transferring
                out.append(.send(.history(.sync(channel: channel, snapshot: stream.snapshot, transfer: true)), to: [owner]))
                scheduleHistoryTick(now: now)
            } else if let backup, backup != holder.syncedBackup {
                stream.lease += 1
                history.streams[channel] = stream
                holder.syncedBackup = nil
                holder.pendingSync = Cluster.PendingSync(target: backup, lease: stream.lease, transfer: false, deadline: now + history.settings.answerTimeout)
                history.holding[channel] = holder
                out.append(.send(.history(.sync(channel: channel, snapshot: stream.snapshot, transfer: false)), to: [backup]))
                scheduleHistoryTick(now: now)
            } else if backup == nil, history.settings.soloAllowed, !holder.inflight.isEmpty {
                releaseAcknowledged(channel, everything: true, now: now, into: &out)
            }
            return
        }
        let holderActive = membership.member(named: stream.holder)?.state.isActive == true
        if holderActive {
            // A copy for a holder that lives: kept while this node may be its backup, else dropped.
            if !ranking.prefix(2).contains(me) {
                // What it held is remembered, so that a stale stream offered later cannot replace it.
                history.fences[channel] = Cluster.Fence(epoch: stream.epoch, top: stream.top, key: stream.entries.last?.key)
                history.streams[channel] = nil
                publishHistoryStats(into: &out)
            }
            return
        }
        guard let owner = ranking.first else { return }
        if owner == me {
            takeOver(channel, now: now, into: &out)
        } else {
            propose(channel, to: owner, into: &out)
        }
    }

    /// Holds this node's copy of `channel` under a higher lease (its holder is gone, or nobody holds it).
    private mutating func takeOver(_ channel: String, now: Duration, into out: inout [Cluster.Directive<Data>]) {
        guard var stream = history.streams[channel], stream.holder != myself.name else { return }
        stream.lease += 1
        stream.released = stream.top
        stream.holder = myself.name
        history.streams[channel] = stream
        history.holding[channel] = Cluster.HolderState()
        out.append(.count(.channelOwnerChanges, by: 1))
        reconcile(channel, now: now, into: &out)
    }

    /// Offers this node's copy, under the next lease, to the owner that has none held: it takes the best
    /// offer that extends what it has (``acceptSync``), and this copy stays as it is until then.
    private func propose(_ channel: String, to owner: String, into out: inout [Cluster.Directive<Data>]) {
        guard var snapshot = history.streams[channel]?.snapshot else { return }
        snapshot.lease += 1
        out.append(.send(.history(.sync(channel: channel, snapshot: snapshot, transfer: true)), to: [owner]))
    }

    /// Membership changed: every copy is reconciled, and requests whose owner changed are sent again.
    mutating func historyMembersChanged(now: Duration, into out: inout [Cluster.Directive<Data>]) {
        history.lastNow = now
        for channel in history.streams.keys.sorted() { reconcile(channel, now: now, into: &out) }
        for id in history.appends.keys.sorted() { history.appends[id]?.retryAt = now }
        for id in history.reads.keys.sorted() { history.reads[id]?.retryAt = now }
        scheduleHistoryTick(now: now)
    }

    private mutating func startClaim(_ channel: String, now: Duration, into out: inout [Cluster.Directive<Data>]) {
        if let claim = history.claims[channel], claim.deadline > now { return }
        let peers = activePeers.sorted()
        history.claims[channel] = Cluster.Claim(waiting: Set(peers), deadline: now + history.settings.answerTimeout)
        if peers.isEmpty {
            finishClaim(channel, now: now, into: &out)
        } else {
            out.append(.send(.history(.claim(channel: channel)), to: peers))
            scheduleHistoryTick(now: now)
        }
    }

    /// Every reachable member answered that it keeps no copy: this node starts a new epoch, named after itself.
    private mutating func finishClaim(_ channel: String, now: Duration, into out: inout [Cluster.Directive<Data>]) {
        guard let claim = history.claims.removeValue(forKey: channel), !claim.someoneHolds,
            historyRanking(channel).first == myself.name, history.streams[channel]?.holder != myself.name
        else { return }
        if history.streams[channel] != nil {
            // Nobody holds it: this node's copy goes on (offers from the others may still extend it).
            takeOver(channel, now: now, into: &out)
            return
        }
        guard !claim.someoneHasCopy else { return }
        history.epochsCreated += 1
        let epoch = "\(myself.name)-\(myself.incarnation)-\(history.epochsCreated)"
        history.streams[channel] = History.Stream(epoch: epoch, lease: 1, holder: myself.name)
        history.holding[channel] = Cluster.HolderState()
        out.append(.count(.channelOwnerChanges, by: 1))
        reconcile(channel, now: now, into: &out)
    }

    // MARK: Frames

    mutating func onHistory(_ message: History.Message<Data>, from peer: String, now: Duration, into out: inout [Cluster.Directive<Data>]) {
        history.lastNow = now
        switch message {
        case .append(let id, let channel, let entry):
            if !holderAppend(channel: channel, entry: entry, reply: .remote(peer: peer, id), now: now, into: &out) {
                out.append(.send(.history(.appended(requestID: id, result: nil)), to: [peer]))
            }
        case .appended(let id, let result):
            originAnswered(id, result, now: now, into: &out)
        case .copy(let channel, let epoch, let lease, let entry):
            out.append(.send(.history(.copyAck(channel: channel, epoch: epoch, lease: lease, offset: entry.offset, verdict: keepCopy(channel, epoch: epoch, lease: lease, entry: entry, from: peer))), to: [peer]))
            publishHistoryStats(into: &out)
        case .copyAck(let channel, let epoch, let lease, let offset, let verdict):
            guard let stream = history.streams[channel], stream.holder == myself.name, stream.epoch == epoch, stream.lease == lease,
                var holder = history.holding[channel], holder.syncedBackup == peer
            else { return }
            switch verdict {
            case .kept:
                holder.acked.insert(offset)
                history.holding[channel] = holder
                releaseAcknowledged(channel, everything: false, now: now, into: &out)
            case .resync:
                holder.syncedBackup = nil
                history.holding[channel] = holder
                reconcile(channel, now: now, into: &out)
            case .fenced:
                fenced(channel, holder: peer, now: now, into: &out)
            }
        case .sync(let channel, let snapshot, let transfer):
            let accepted = acceptSync(channel, snapshot: snapshot, transfer: transfer, from: peer, now: now, into: &out)
            out.append(.send(.history(.syncAck(channel: channel, epoch: snapshot.epoch, lease: snapshot.lease, accepted: accepted)), to: [peer]))
            if accepted, transfer { reconcile(channel, now: now, into: &out) }
            publishHistoryStats(into: &out)
        case .syncAck(let channel, let epoch, let lease, let accepted):
            guard var stream = history.streams[channel], stream.epoch == epoch, var holder = history.holding[channel],
                let sync = holder.pendingSync, sync.target == peer, sync.lease == lease
            else { return }
            holder.pendingSync = nil
            if !accepted {
                history.holding[channel] = holder
                fenced(channel, holder: peer, now: now, into: &out)
            } else if sync.transfer {
                stream.holder = peer
                history.streams[channel] = stream
                history.holding[channel] = nil
                reconcile(channel, now: now, into: &out)
            } else {
                holder.syncedBackup = peer
                history.holding[channel] = holder
                releaseAcknowledged(channel, everything: true, now: now, into: &out)
            }
        case .claim(let channel):
            let stream = history.streams[channel]
            let holds = stream?.holder == myself.name
            out.append(.send(.history(.claimAnswer(channel: channel, hasCopy: stream != nil, holds: holds)), to: [peer]))
            // A copy held for someone else is offered to the claimant, which keeps the best that extends its own.
            if stream != nil, !holds { propose(channel, to: peer, into: &out) }
            reconcile(channel, now: now, into: &out)
        case .claimAnswer(let channel, let hasCopy, let holds):
            guard var claim = history.claims[channel], claim.waiting.remove(peer) != nil else { return }
            claim.someoneHasCopy = claim.someoneHasCopy || hasCopy
            claim.someoneHolds = claim.someoneHolds || holds
            history.claims[channel] = claim
            if claim.waiting.isEmpty { finishClaim(channel, now: now, into: &out) }
        case .read(let id, let channel, let after, let limit):
            let range = holderRead(channel: channel, after: after, limit: limit, now: now, into: &out)
            out.append(.send(.history(.readResult(requestID: id, range: range)), to: [peer]))
        case .readResult(let id, let range):
            guard var request = history.reads[id] else { return }
            if let range {
                history.reads[id] = nil
                out.append(.completeHistoryRead(id, range))
            } else {
                request.retryAt = now + history.settings.retryInterval
                history.reads[id] = request
            }
        case .push(let id, let channel, let epoch, let entry):
            out.append(.deliverHistory(channel: channel, epoch: epoch, entry: entry, from: peer, ack: id == 0 ? nil : id))
        }
    }

    /// A backup keeps a copy only from the holder of the lease it last accepted, and only the next offset.
    private mutating func keepCopy(_ channel: String, epoch: String, lease: UInt64, entry: History.Entry<Data>, from peer: String) -> History.CopyVerdict {
        guard let stream = history.streams[channel], stream.epoch == epoch else { return .resync }
        if stream.lease > lease || (stream.lease == lease && stream.holder != peer) { return .fenced }
        guard stream.lease == lease else { return .resync }
        if entry.offset <= stream.top { return stream.offset(of: entry.key) == entry.offset ? .kept : .resync }
        guard entry.offset == stream.top + 1 else { return .resync }
        history.unixNow = max(history.unixNow, entry.timestamp)
        // In place (a copy would copy the ring). A backup does not know what its holder handed out: its copy is
        // bounded like a released ring.
        history.streams[channel]!.insert(entry)
        history.streams[channel]!.released = entry.offset
        history.streams[channel]!.trim(size: history.settings.size, ttlSeconds: history.settings.ttlSeconds, unixNow: history.unixNow)
        return .kept
    }

    /// Takes a whole stream as backup (`transfer` false) or as its new holder: only a higher lease of the same
    /// epoch (or an equal one from the same holder), or any stream when this node keeps none. Two different
    /// epochs (two owners started one each): the one with more messages wins.
    private mutating func acceptSync(_ channel: String, snapshot: History.Snapshot<Data>, transfer: Bool, from peer: String, now: Duration, into out: inout [Cluster.Directive<Data>]) -> Bool {
        if let local = history.streams[channel] {
            if local.epoch == snapshot.epoch {
                let sameHolder = local.holder == peer && !transfer
                guard snapshot.lease > local.lease || (snapshot.lease == local.lease && sameHolder) else { return false }
                // Only a stream that extends this copy (for the holder: what it handed out; its entries still
                // waiting for the backup were never given): anything beyond was given by a newer holder.
                let mine = local.holder == myself.name ? local.released : local.top
                let key = mine >= local.firstKept ? local.entries[Int(mine - local.firstKept)].key : nil
                guard snapshot.extends(top: mine, key: key) else { return false }
            } else if local.holder == myself.name {
                guard (snapshot.top, snapshot.epoch) > (local.released, local.epoch) else { return false }
            }
            if local.holder == myself.name { fenced(channel, holder: peer, now: now, into: &out) }
        } else if let fence = history.fences[channel], fence.epoch == snapshot.epoch {
            guard snapshot.extends(top: fence.top, key: fence.key) else { return false }
        }
        history.fences[channel] = nil
        let holder = transfer ? myself.name : peer
        history.streams[channel] = History.Stream(snapshot, holder: holder)
        if transfer {
            var state = Cluster.HolderState()
            // The sender keeps the same copy under this lease, so it is a synced backup already.
            state.syncedBackup = peer
            history.holding[channel] = state
            out.append(.count(.channelOwnerChanges, by: 1))
        } else {
            history.holding[channel] = nil
        }
        // A new holder starts from everything it was given; a backup's copy is bounded like a released ring.
        history.streams[channel]!.released = snapshot.top
        return true
    }

    // MARK: Time

    mutating func scheduleHistoryTick(now: Duration) {
        let at = now + history.settings.retryInterval
        if history.tickAt.map({ at < $0 }) ?? true { history.tickAt = at }
    }

    /// Retries due requests, gives up those past their wait, and re-checks pending syncs and claims.
    mutating func historyTick(now: Duration, into out: inout [Cluster.Directive<Data>]) {
        if history.statsChanged {
            history.statsChanged = false
            out.append(.publishHistory(messages: history.keptMessages, bytes: history.keptBytes))
        }
        for id in history.appends.keys.sorted() {
            guard let request = history.appends[id] else { continue }
            if request.deadline <= now {
                history.appends[id] = nil
                out.append(.completeHistoryAppend(id, .notAccepted))
            } else if request.retryAt <= now {
                sendAppend(id, now: now, into: &out)
            }
        }
        for id in history.reads.keys.sorted() {
            guard let request = history.reads[id] else { continue }
            if request.deadline <= now {
                history.reads[id] = nil
                out.append(.completeHistoryRead(id, nil))
            } else if request.retryAt <= now {
                sendRead(id, now: now, into: &out)
            }
        }
        for channel in history.claims.keys.sorted() where history.claims[channel]!.deadline <= now {
            history.claims[channel] = nil
        }
        for channel in history.holding.keys.sorted() {
            guard let holder = history.holding[channel], holder.pendingSync != nil || !holder.inflight.isEmpty else { continue }
            reconcile(channel, now: now, into: &out)
        }
        let busy = !history.appends.isEmpty || !history.reads.isEmpty || !history.claims.isEmpty
            || history.holding.values.contains { $0.pendingSync != nil || !$0.inflight.isEmpty }
        if busy { scheduleHistoryTick(now: now) }
    }

    /// Gives up every history request (the node stops).
    mutating func historyStop(into out: inout [Cluster.Directive<Data>]) {
        for id in history.appends.keys.sorted() { out.append(.completeHistoryAppend(id, .notAccepted)) }
        for id in history.reads.keys.sorted() { out.append(.completeHistoryRead(id, nil)) }
        history.appends.removeAll()
        history.reads.removeAll()
        history.tickAt = nil
    }

    /// The kept counts are summed over every stream at the next history tick, not per message.
    private mutating func publishHistoryStats(into out: inout [Cluster.Directive<Data>]) {
        history.statsChanged = true
        if history.tickAt == nil { history.tickAt = history.lastNow + history.settings.retryInterval }
    }
}
