extension Cluster {
    /// The cluster layer of one node: a pure value type that owns membership and the interest table.
    ///
    /// Every input (a backend's forward, broadcast or status query, a local subscription change, a frame from a
    /// peer, a link up or down, what the mesh did with a frame, a tick) takes `now` and returns the
    /// ``Directive``s the shell carries out in order. Requests the shell must answer later come back as
    /// ``Answer/later(_:)`` with an ID that a completion directive names; the shell registers its promise
    /// under that ID before carrying out the directives.
    ///
    /// How a shell drives it:
    /// 1. `start(seeds:now:)`, then keep exactly one timer (``Directive/scheduleTick(at:)``).
    /// 2. Link events: ``linkUp(name:address:incarnation:now:)``, ``linkDown(name:now:)``.
    /// 3. Frames: decode and call ``onFrame(_:from:now:)`` (or ``onMalformedFrame(kind:from:)``).
    /// 4. After ``Directive/sendReporting(_:to:)`` and ``Directive/offerOutbox(peer:frames:)``, report the
    ///    mesh's outcomes.
    /// 5. Shutdown: ``leave(now:)``, linger, then ``stop()``.
    public struct Instance<Data: Sendable>: Sendable {
        public let settings: Settings
        public private(set) var membership: Membership.Instance
        public private(set) var interest: InterestTable
        /// Who is present in which channel, cluster-wide (see `Cluster+Presence.swift`).
        public internal(set) var presence: PresenceTable
        var presenceHold: PresenceHold
        var presenceFlushAt: Duration?
        var presenceDeadlines = DeadlineQueue()
        public var myself: Membership.Member { membership.myself }

        var stopping = false
        /// After `stop()`: no more ticks are asked for.
        private var stopped = false
        private var nextRequestID: RequestID = 1
        var pending: [RequestID: PendingRequest] = [:]
        /// Deadlines of pending requests in the order they were made (one timeout per kind, so each queue is
        /// sorted); entries of requests answered before are skipped when they come due.
        var forwardDeadlines = DeadlineQueue()
        private var statsDeadlines = DeadlineQueue()
        private var waiters: [VisibilityWaiter] = []
        private var outboxes: [String: [OutboxEntry<Data>]] = [:]
        private var outboxRetryAt: Duration?
        private var membershipTickAt: Duration?
        private var digestAt: Duration?
        /// The instant the shell's timer is set for (nil: none set or it fired).
        private var armedAt: Duration?
        /// Channel streams, their holders' state and the history requests this node waits for.
        var history: HistoryState<Data>

        public init(myself: Membership.Member, settings: Settings, seed: UInt64) {
            self.settings = settings
            self.history = HistoryState(settings: settings.history)
            self.membership = Membership.Instance(myself: myself, settings: settings.membership, seed: seed)
            self.interest = InterestTable(nodeName: myself.name, epoch: myself.incarnation, settings: settings.interest)
            self.presence = PresenceTable(nodeName: myself.name, epoch: myself.incarnation, settings: settings.presence)
            self.presenceHold = PresenceHold(hold: settings.presenceHold)
        }

        // MARK: Views

        /// Names of the other members that are alive or suspect.
        public var activePeers: [String] {
            membership.members.compactMap { $0.name != myself.name && $0.state.isActive ? $0.name : nil }
        }

        /// Every known member but this node.
        public var memberViews: [MemberView] {
            membership.members.filter { $0.name != myself.name }.map {
                MemberView(name: $0.name, address: $0.address, state: $0.state, incarnation: $0.incarnation, connections: 0, subscriptions: 0)
            }
        }

        /// Requests not yet completed (emits waiting for counts, status queries).
        public var pendingRequestCount: Int { pending.count }
        /// First subscribers waiting for the cluster to acknowledge their channel.
        public var visibilityWaiterCount: Int { waiters.count }
        /// Frames waiting for the link to `peer`.
        public func outboxCount(for peer: String) -> Int { outboxes[peer]?.count ?? 0 }

        // MARK: Lifecycle

        /// Starts membership and the digest exchange, and dials the seeds (all but this node's own address).
        public mutating func start(seeds: [String], now: Duration) -> [Directive<Data>] {
            var out: [Directive<Data>] = []
            absorb(membership.onTick(now: now), now: now, into: &out)
            digestAt = now + settings.interest.digestInterval
            for seed in seeds where seed != myself.address { out.append(.connect(address: seed)) }
            out.append(.publishMembers(memberViews))
            arm(&out)
            return out
        }

        /// Leaves gracefully: every peer learns this node is `left`; no more dialing, no more digests.
        public mutating func leave(now: Duration) -> [Directive<Data>] {
            stopping = true
            digestAt = nil
            var out: [Directive<Data>] = []
            absorb(membership.leave(now: now), now: now, into: &out)
            // This node leaves every ranking: the streams it holds go to their next owners.
            if history.settings.isEnabled { historyMembersChanged(now: now, into: &out) }
            arm(&out)
            return out
        }

        /// Completes every request and waiter with what it has; the instance asks for no more ticks.
        public mutating func stop() -> [Directive<Data>] {
            stopping = true
            stopped = true
            var out: [Directive<Data>] = []
            for id in pending.keys.sorted() { finish(id, into: &out) }
            for waiter in waiters { out.append(.completeVisibility(waiter.id)) }
            waiters.removeAll()
            historyStop(into: &out)
            membershipTickAt = nil
            digestAt = nil
            outboxRetryAt = nil
            forwardDeadlines = DeadlineQueue()
            statsDeadlines = DeadlineQueue()
            presenceDeadlines = DeadlineQueue()
            presenceFlushAt = nil
            armedAt = nil
            return out
        }

        // MARK: Backend requests

        /// Forwards a channel message to every other node the interest table routes `channel` to. With
        /// `awaitCounts` the answer is those nodes' delivered counts (who does not answer in time is left out).
        public mutating func forward(channel: String, data: Data, timestamp: Int, awaitCounts: Bool, now: Duration) -> (Answer<[NodeCount]>, [Directive<Data>]) {
            push(channel: channel, data: data, timestamp: timestamp, to: Array(interest.route(channel)), awaitCounts: awaitCounts, now: now)
        }

        /// Sends a `notify_all` to every other active node.
        public mutating func broadcast(data: Data, timestamp: Int, awaitCounts: Bool, now: Duration) -> (Answer<[NodeCount]>, [Directive<Data>]) {
            push(channel: nil, data: data, timestamp: timestamp, to: activePeers, awaitCounts: awaitCounts, now: now)
        }

        private mutating func push(channel: String?, data: Data, timestamp: Int, to targets: [String], awaitCounts: Bool, now: Duration) -> (Answer<[NodeCount]>, [Directive<Data>]) {
            guard !targets.isEmpty else { return (.now([]), []) }
            let id = awaitCounts ? makeRequestID() : 0
            if awaitCounts {
                pending[id] = PendingRequest(kind: .counts, waiting: Set(targets))
                forwardDeadlines.append(now + settings.forwardTimeout, id)
            }
            var out: [Directive<Data>] = []
            sendInOrder(.push(Push(requestID: id, timestamp: timestamp, channel: channel, data: data)), to: targets, now: now, into: &out)
            arm(&out)
            return (awaitCounts ? .later(id) : .now([]), out)
        }

        /// Asks every other active node for its own counts.
        public mutating func requestStats(now: Duration) -> (Answer<[LocalStats]>, [Directive<Data>]) {
            let peers = activePeers
            guard !peers.isEmpty else { return (.now([]), []) }
            let id = makeRequestID()
            pending[id] = PendingRequest(kind: .stats, waiting: Set(peers))
            statsDeadlines.append(now + settings.statsTimeout, id)
            var out: [Directive<Data>] = []
            sendInOrder(.statsRequest(requestID: id), to: peers, now: now, into: &out)
            arm(&out)
            return (.later(id), out)
        }

        /// Where the mesh could not take a frame at once, it waits in the peer's outbox (in order with all that
        /// follows, up to `forwardTimeout`). Peers with frames already waiting get the frame queued behind them.
        mutating func sendInOrder(_ frame: Frame<Data>, to targets: [String], now: Duration, into out: inout [Directive<Data>]) {
            var direct: [String] = []
            direct.reserveCapacity(targets.count)
            for target in targets {
                if outboxes[target] != nil {
                    enqueue(frame, for: target, now: now)
                    if case .push = frame { out.append(.count(.forwardsSent, by: 1)) }
                } else {
                    direct.append(target)
                }
            }
            if !direct.isEmpty { out.append(.sendReporting(frame, to: direct)) }
        }

        private mutating func enqueue(_ frame: Frame<Data>, for peer: String, now: Duration) {
            outboxes[peer, default: []].append(OutboxEntry(frame: frame, deadline: now + settings.forwardTimeout))
            if outboxRetryAt == nil { outboxRetryAt = now + settings.outboxRetryInterval }
        }

        /// What the mesh did with a ``Directive/sendReporting(_:to:)``: a frame to a peer without a link waits in
        /// its outbox while the peer is a member; a dropped frame is not waited for.
        public mutating func sent(_ frame: Frame<Data>, to peers: [String], outcomes: [SendOutcome], now: Duration) -> [Directive<Data>] {
            var out: [Directive<Data>] = []
            var accepted = 0
            for (peer, outcome) in zip(peers, outcomes) {
                switch outcome {
                case .queued:
                    accepted += 1
                case .notConnected where membership.member(named: peer)?.state.isActive == true:
                    accepted += 1
                    enqueue(frame, for: peer, now: now)
                case .notConnected, .dropped:
                    if let id = frame.requestID { answered(id, by: peer, into: &out) { _ in } }
                }
            }
            if case .push = frame, accepted > 0 { out.append(.count(.forwardsSent, by: accepted)) }
            arm(&out)
            return out
        }

        /// What the mesh did with an ``Directive/offerOutbox(peer:frames:)``: queued frames leave the outbox,
        /// dropped ones are given up; frames past their deadline are given up too.
        public mutating func outboxOffered(to peer: String, outcomes: [SendOutcome], now: Duration) -> [Directive<Data>] {
            guard var entries = outboxes[peer] else { return [] }
            var out: [Directive<Data>] = []
            var given = 0
            var taken = 0
            for outcome in outcomes {
                switch outcome {
                case .queued: taken += 1
                case .dropped:
                    taken += 1
                    given += 1
                    if let id = entries[taken - 1].frame.requestID { answered(id, by: peer, into: &out) { _ in } }
                case .notConnected: break
                }
            }
            entries.removeFirst(min(taken, entries.count))
            while let first = entries.first, first.deadline <= now {
                entries.removeFirst()
                given += 1
                if let id = first.frame.requestID { answered(id, by: peer, into: &out) { _ in } }
            }
            outboxes[peer] = entries.isEmpty ? nil : entries
            if !outboxes.isEmpty, outboxRetryAt == nil { outboxRetryAt = now + settings.outboxRetryInterval }
            if given > 0 { out.append(.count(.forwardsDropped, by: given)) }
            arm(&out)
            return out
        }

        // MARK: Subscribe visibility

        /// This node's first subscriber of `channel` arrived: publishes it and, unless every active peer has
        /// already acknowledged, answers once they have (or after `visibilityTimeout`, probing the laggards).
        public mutating func localChannelActivated(_ channel: String, now: Duration) -> (Answer<Void>, [Directive<Data>]) {
            let change = interest.localCountChanged(channel: channel, count: 1)
            var out: [Directive<Data>] = []
            absorb(interest.flush(), now: now, into: &out)
            guard !interest.isAcknowledged(version: change.visibleAt, by: activePeers) else {
                arm(&out)
                return (.now(()), out)
            }
            let id = makeRequestID()
            waiters.append(VisibilityWaiter(id: id, channel: channel, version: change.visibleAt, deadline: now + settings.visibilityTimeout, isActivation: true))
            arm(&out)
            return (.later(id), out)
        }

        /// Answers once an activation of `channel` still waiting for acknowledgements is done (at once if none).
        public mutating func whenVisible(_ channel: String) -> Answer<Void> {
            guard let activation = waiters.last(where: { $0.channel == channel && $0.isActivation }) else { return .now(()) }
            let id = makeRequestID()
            waiters.append(VisibilityWaiter(id: id, channel: channel, version: activation.version, deadline: activation.deadline, isActivation: false))
            return .later(id)
        }

        /// The last local subscriber of `channel` left; peers learn it lazily (stray forwards are dropped).
        public mutating func localChannelDeactivated(_ channel: String, now: Duration) -> [Directive<Data>] {
            _ = interest.localCountChanged(channel: channel, count: 0)
            var out: [Directive<Data>] = []
            absorb(interest.flush(), now: now, into: &out)
            arm(&out)
            return out
        }

        // MARK: Peers

        /// A mesh link to a peer is up (dialed or accepted, first time or again).
        public mutating func linkUp(name: String, address: String, incarnation: UInt64, now: Duration) -> [Directive<Data>] {
            var out: [Directive<Data>] = []
            absorb(membership.onPeerConnected(name: name, address: address, incarnation: incarnation, now: now), now: now, into: &out)
            absorb(interest.nodeJoined(name), now: now, into: &out)
            absorbPresence(presence.nodeJoined(name), now: now, into: &out)
            // Status queries are idempotent: those still waiting for this peer are asked again.
            for id in pending.keys.sorted() where pending[id]?.kind == .stats && pending[id]?.waiting.contains(name) == true {
                sendInOrder(.statsRequest(requestID: id), to: [name], now: now, into: &out)
            }
            arm(&out)
            return out
        }

        /// A mesh link to a peer went away: forwards sent on it are not waited for (sending again could deliver
        /// twice); status queries wait for the link to come back, within their timeout.
        public mutating func linkDown(name: String, now: Duration) -> [Directive<Data>] {
            var out: [Directive<Data>] = []
            for id in pending.keys.sorted() where pending[id]?.kind != .stats {
                answered(id, by: name, into: &out) { _ in }
            }
            absorb(membership.onPeerDisconnected(name: name, now: now), now: now, into: &out)
            arm(&out)
            return out
        }

        /// A decoded frame from `peer` (its authenticated name).
        public mutating func onFrame(_ frame: Frame<Data>, from peer: String, now: Duration) -> [Directive<Data>] {
            var out: [Directive<Data>] = []
            switch frame {
            case .push(let push):
                out.append(.deliver(push, from: peer, ack: push.requestID == 0 ? nil : push.requestID))
                return out
            case .ack(let id, let count):
                answered(id, by: peer, into: &out) { $0.counts.append(NodeCount(node: peer, count: count)) }
            case .statsRequest(let id):
                out.append(.answerStats(requestID: id, to: peer))
                return out
            case .statsResponse(let id, let stats):
                answered(id, by: peer, into: &out) { $0.stats.append(stats) }
            case .presence(let message):
                guard membership.member(named: peer)?.state.isActive == true else { return out }
                absorbPresence(presence.apply(message, from: peer), now: now, into: &out)
            case .presenceRequest(let id, let request):
                out.append(.answerPresence(requestID: id, request: request, to: peer))
                return out
            case .presenceReply(let id, let reply):
                answered(id, by: peer, into: &out) { $0.replies.append(reply) }
            case .history(let message):
                guard history.settings.isEnabled else { return out }
                onHistory(message, from: peer, now: now, into: &out)
            case .membership(let message):
                absorb(membership.onMessage(message, from: peer, now: now), now: now, into: &out)
            case .interest(let message):
                // Messages from nodes membership no longer counts as members would resurrect stale routes.
                guard membership.member(named: peer)?.state.isActive == true else { return out }
                absorb(interest.apply(message, from: peer), now: now, into: &out)
            }
            arm(&out)
            return out
        }

        /// A frame from `peer` that did not decode: counted and reported, nothing else.
        public func onMalformedFrame(kind: UInt8, from peer: String) -> [Directive<Data>] {
            [.count(.malformedFrames, by: 1), .report(.malformedFrame(kind: kind, from: peer))]
        }

        // MARK: Time

        /// The timer fired: runs whatever is due (membership, digests, outbox retries, timeouts).
        public mutating func onTick(now: Duration) -> [Directive<Data>] {
            armedAt = nil
            var out: [Directive<Data>] = []
            if let at = membershipTickAt, at <= now {
                membershipTickAt = nil
                absorb(membership.onTick(now: now), now: now, into: &out)
            }
            if let at = digestAt, at <= now {
                digestAt = now + settings.interest.digestInterval
                absorb(interest.onDigestTick(peers: activePeers), now: now, into: &out)
                let peers = activePeers
                if !peers.isEmpty { out.append(.send(.presence(presence.digest()), to: peers)) }
            }
            presenceTick(now: now, into: &out)
            if let at = outboxRetryAt, at <= now {
                outboxRetryAt = nil
                for peer in outboxes.keys.sorted() {
                    out.append(.offerOutbox(peer: peer, frames: outboxes[peer, default: []].map(\.frame)))
                }
            }
            while let id = forwardDeadlines.popDue(now) { finish(id, into: &out) }
            while let id = statsDeadlines.popDue(now) { finish(id, into: &out) }
            while let id = presenceDeadlines.popDue(now) { finish(id, into: &out) }
            if let at = history.tickAt, at <= now {
                history.tickAt = nil
                historyTick(now: now, into: &out)
            }
            for waiter in waiters where waiter.deadline <= now && waiter.isActivation {
                visibilityTimedOut(waiter, now: now, into: &out)
            }
            arm(&out)
            return out
        }

        // MARK: Internals

        mutating func makeRequestID() -> RequestID {
            defer { nextRequestID = nextRequestID == .max ? 1 : nextRequestID + 1 }
            return nextRequestID
        }

        /// Asks the shell for a tick at the earliest instant something is due, unless its timer is set earlier.
        mutating func arm(_ out: inout [Directive<Data>]) {
            guard !stopped else { return }
            var next = [
                membershipTickAt, digestAt, outboxRetryAt, forwardDeadlines.first, statsDeadlines.first, presenceDeadlines.first,
                presenceFlushAt, presenceHold.nextDeadline, history.tickAt,
            ].compactMap { $0 }.min()
            for waiter in waiters where next == nil || waiter.deadline < next! { next = waiter.deadline }
            guard let next, armedAt.map({ next < $0 }) ?? true else { return }
            armedAt = next
            out.append(.scheduleTick(at: next))
        }

        private mutating func finish(_ id: RequestID, into out: inout [Directive<Data>]) {
            guard let request = pending.removeValue(forKey: id) else { return }
            switch request.kind {
            case .counts: out.append(.completeCounts(id, request.counts))
            case .stats: out.append(.completeStats(id, request.stats))
            case .presence: out.append(.completePresence(id, request.replies))
            case .history(let reply, let epoch, let offset):
                historyReleased(reply, History.Appended(epoch: epoch, offset: offset, counts: request.counts), into: &out)
            }
        }

        mutating func answered(_ id: RequestID, by peer: String, into out: inout [Directive<Data>], _ record: (inout PendingRequest) -> Void) {
            guard var request = pending[id], request.waiting.remove(peer) != nil else { return }
            record(&request)
            pending[id] = request
            if request.waiting.isEmpty { finish(id, into: &out) }
        }

        /// A peer is gone: no request waits for it.
        private mutating func forgetPending(peer: String, into out: inout [Directive<Data>]) {
            for id in pending.keys.sorted() { answered(id, by: peer, into: &out) { _ in } }
        }

        private mutating func checkVisibility(into out: inout [Directive<Data>]) {
            let peers = activePeers
            let settled = waiters.filter { interest.isAcknowledged(version: $0.version, by: peers) }
            guard !settled.isEmpty else { return }
            waiters.removeAll { waiter in settled.contains { $0.id == waiter.id } }
            for waiter in settled { out.append(.completeVisibility(waiter.id)) }
        }

        private mutating func visibilityTimedOut(_ activation: VisibilityWaiter, now: Duration, into out: inout [Directive<Data>]) {
            let laggards = activePeers.filter { interest.acknowledgedVersion(by: $0) < activation.version }
            out.append(.report(.visibilityTimedOut(channel: activation.channel, laggards: laggards)))
            for peer in laggards { absorb(membership.onPeerDisconnected(name: peer, now: now), now: now, into: &out) }
            let done = waiters.filter { $0.version == activation.version && $0.channel == activation.channel }
            waiters.removeAll { $0.version == activation.version && $0.channel == activation.channel }
            for waiter in done { out.append(.completeVisibility(waiter.id)) }
        }

        /// Turns membership's directives into the cluster's, with what a member change means for interest,
        /// outboxes and pending requests.
        private mutating func absorb(_ directives: [Membership.Directive], now: Duration, into out: inout [Directive<Data>]) {
            var membersChanged = false
            for directive in directives {
                switch directive {
                case .send(let message, let name):
                    out.append(.send(.membership(message), to: [name]))
                case .connect(_, let address):
                    if !stopping { out.append(.connect(address: address)) }
                case .memberChanged(let change):
                    membersChanged = true
                    memberChanged(change, now: now, into: &out)
                case .memberRemoved(let member):
                    membersChanged = true
                    absorb(interest.removeNode(member.name), now: now, into: &out)
                    absorbPresence(presence.removeNode(member.name), now: now, into: &out)
                    forgetPending(peer: member.name, into: &out)
                case .scheduleTick(let delay):
                    membershipTickAt = now + delay
                }
            }
            if membersChanged {
                out.append(.publishMembers(memberViews))
                if history.settings.isEnabled { historyMembersChanged(now: now, into: &out) }
                checkVisibility(into: &out)
            }
        }

        private mutating func memberChanged(_ change: Membership.MemberChange, now: Duration, into out: inout [Directive<Data>]) {
            let member = change.member
            guard member.name != myself.name else { return }
            out.append(.report(.memberChanged(change)))
            switch member.state {
            case .alive, .suspect:
                let wasInactive = change.previousState.map { !$0.isActive } ?? true
                guard wasInactive else { return }
                if !stopping { out.append(.connect(address: member.address)) }
                absorb(interest.nodeJoined(member.name), now: now, into: &out)
                absorbPresence(presence.nodeJoined(member.name), now: now, into: &out)
            case .dead, .left:
                if let dropped = outboxes.removeValue(forKey: member.name), !dropped.isEmpty {
                    out.append(.count(.forwardsDropped, by: dropped.count))
                }
                absorb(interest.removeNode(member.name), now: now, into: &out)
                absorbPresence(presence.removeNode(member.name), now: now, into: &out)
                forgetPending(peer: member.name, into: &out)
                out.append(.forget(address: member.address))
            }
        }

        private mutating func absorb(_ directives: [InterestDirective], now: Duration, into out: inout [Directive<Data>]) {
            var acknowledged = false
            for directive in directives {
                switch directive {
                case .broadcast(let message):
                    let peers = activePeers
                    if !peers.isEmpty { out.append(.send(.interest(message), to: peers)) }
                case .send(let message, let peer):
                    out.append(.send(.interest(message), to: [peer]))
                case .acknowledged:
                    acknowledged = true
                case .routesChanged:
                    break
                case .ignored(let reason):
                    out.append(.report(.interestIgnored(reason)))
                }
            }
            if acknowledged { checkVisibility(into: &out) }
        }
    }
}

extension Cluster.Frame {
    /// The request a push or status query belongs to, if it waits for an answer.
    var requestID: Cluster.RequestID? {
        switch self {
        case .push(let push): push.requestID == 0 ? nil : push.requestID
        case .statsRequest(let id): id
        case .presenceRequest(let id, _): id
        case .membership, .interest, .ack, .statsResponse, .presence, .presenceReply, .history: nil
        }
    }
}
