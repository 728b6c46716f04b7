extension Membership {
    /// The SWIM + Lifeguard membership state machine of one node: a pure value type.
    ///
    /// No sockets, no clock, no global randomness: every input is a `mutating func on…` (or ``leave(now:)``)
    /// that takes the current time (a `Duration` since an origin the shell fixes once, see ``Membership``) and
    /// returns the ``Directive``s the shell must carry out, in order. It never throws; invalid input is ignored.
    ///
    /// How a shell drives it:
    /// 1. `var instance = Membership.Instance(myself: .init(name:address:incarnation:), settings: .init(), seed: …)`
    ///    with a fresh incarnation per process start (wall-clock milliseconds), then call ``onTick(now:)`` once.
    /// 2. Keep exactly one tick timer: on ``Directive/scheduleTick(after:)`` replace it; when it fires call
    ///    ``onTick(now:)``.
    /// 3. Decode every membership frame from a peer (``Message/decode(_:)``) and call
    ///    ``onMessage(_:from:now:)`` with the peer's authenticated name.
    /// 4. Dial the seeds; whenever a mesh connection to a peer is established (dialed or accepted, first time
    ///    or reconnect, on both ends) call ``onPeerConnected(name:address:incarnation:now:)``; when one drops
    ///    call ``onPeerDisconnected(name:now:)``.
    /// 5. On shutdown call ``leave(now:)``, carry out its sends and keep serving for about two probe intervals.
    ///
    /// ```swift
    /// let origin = ContinuousClock.now
    /// var membership = Membership.Instance(
    ///     myself: .init(name: "n1", address: "10.0.0.1:59998", incarnation: wallClockMillisAtStart),
    ///     settings: .init(),
    ///     seed: .random(in: .min ... .max)
    /// )
    /// func carryOut(_ directives: [Membership.Directive]) {
    ///     for directive in directives {
    ///         switch directive {
    ///         case .send(let message, let name): mesh.send(message.encoded(), to: name)
    ///         case .connect(let name, let address): mesh.ensureConnection(to: name, at: address)
    ///         case .memberChanged(let change): cluster.memberChanged(change)  // mesh + interest table
    ///         case .memberRemoved(let member): cluster.memberRemoved(member)
    ///         case .scheduleTick(let delay): timer.replace(after: delay)  // fires: carryOut(membership.onTick(now: origin.duration(to: .now)))
    ///         }
    ///     }
    /// }
    /// carryOut(membership.onTick(now: origin.duration(to: .now)))
    /// // mesh events:
    /// carryOut(membership.onPeerConnected(name: peer.name, address: peer.address, incarnation: peer.incarnation, now: origin.duration(to: .now)))
    /// if let message = Membership.Message.decode(frame) { carryOut(membership.onMessage(message, from: peer.name, now: origin.duration(to: .now))) }
    /// ```
    public struct Instance: Sendable {
        /// The settings this instance runs with.
        public let settings: Settings
        /// This node, with its current incarnation and state (`alive`, or `left` after ``leave(now:)``).
        public private(set) var myself: Member

        private struct Record: Sendable {
            var member: Member
            var changedAt: Duration
        }

        private struct Tombstone: Sendable {
            var member: Member
            var expiresAt: Duration
        }

        private enum ProbePhase: Sendable { case direct, indirect }

        private struct Probe: Sendable {
            var target: String
            /// The incarnation probed: a failure says nothing about a newer process with the same name.
            var targetIncarnation: UInt64
            var sequence: UInt64
            var directDeadline: Duration
            var periodEnd: Duration
            var phase: ProbePhase
            var expectedNacks: Int
            var nacks: Int
        }

        private struct Relay: Sendable {
            var sequence: UInt64
            var origin: String
            var originSequence: UInt64
            var nackAt: Duration
            var expiresAt: Duration
            var nackSent: Bool
        }

        private var records: [String: Record] = [:]
        private var tombstones: [String: Tombstone] = [:]
        private var suspicions: [String: Suspicion] = [:]
        private var gossipBuffer = GossipBuffer()
        private var random: SeededRandom
        private var awareness = 0
        /// `alive` + `suspect` members, plus this node: the cluster size n used by the protocol's formulas.
        private(set) var activeCount = 1
        private var probe: Probe?
        private var nextProbeAt: Duration = .zero
        private var probeOrder: [String] = []
        private var probeIndex = 0
        private var priorityProbes: [String] = []
        private var relays: [Relay] = []
        private var nextSequence: UInt64
        private var nextSyncAt: Duration = .zero
        private var scheduledTickAt: Duration?
        /// Earliest time a `dead` or `left` record may be reaped (a lower bound; recomputed when reaping).
        private var nextReapAt: Duration?
        private var started = false

        /// Creates the state machine of the node `myself` (its state is forced to `alive`).
        /// - Parameters:
        ///   - myself: this node's name, advertised `host:port` and a fresh incarnation for this process start.
        ///   - settings: protocol tunables.
        ///   - seed: seeds all the randomness of the instance (give every node a different one).
        public init(myself: Member, settings: Settings = Settings(), seed: UInt64) {
            precondition(!myself.name.isEmpty, "a member needs a name")
            var me = myself
            me.state = .alive
            self.myself = me
            self.settings = settings
            self.random = SeededRandom(seed: seed)
            self.nextSequence = 1 + (random.next() >> 33)
        }

        // MARK: - Views

        /// All known members including this node, sorted by name.
        public var members: [Member] {
            var all = records.values.map(\.member)
            all.append(myself)
            return all.sorted { $0.name < $1.name }
        }

        /// Members currently `alive` (this node included unless it left), sorted by name.
        public var aliveMembers: [Member] { members.filter { $0.state == .alive } }

        /// The member called `name` (this node included), if known and not reaped.
        public func member(named name: String) -> Member? {
            name == myself.name ? myself : records[name]?.member
        }

        /// Number of `alive` members including this node (cheaper than `aliveMembers.count`).
        var aliveCount: Int {
            records.values.reduce(myself.state == .alive ? 1 : 0) { $0 + ($1.member.state == .alive ? 1 : 0) }
        }

        /// Lifeguard's local health multiplier (awareness score), `0` (healthy) ... `settings.maxLocalHealth`.
        /// Probe interval and probe timeout are multiplied by `localHealth + 1`.
        public var localHealth: Int { awareness }

        /// The current protocol period: `settings.probeInterval × (localHealth + 1)`.
        public var currentProbeInterval: Duration { settings.probeInterval * (awareness + 1) }

        // MARK: - Inputs

        /// MUST be called when the tick timer fires (and once right after `init`). Runs the due timers: probe
        /// start, probe timeout (ping-req), probe failure (suspect), nacks owed as an intermediary, suspicion
        /// timeouts (dead), anti-entropy, reaping. Always ends with one ``Directive/scheduleTick(after:)``.
        public mutating func onTick(now: Duration) -> [Directive] {
            var out: [Directive] = []
            startIfNeeded(now: now)
            tickProbe(now: now, into: &out)
            tickRelays(now: now, into: &out)
            tickSuspicions(now: now, into: &out)
            tickSync(now: now, into: &out)
            tickReap(now: now, into: &out)
            scheduledTickAt = nil
            scheduleTick(now: now, into: &out)
            return out
        }

        /// MUST be called for every membership message received from the peer named `senderName`.
        /// Merges the piggybacked gossip, then answers (ack, relay, sync reply) as the message requires.
        public mutating func onMessage(_ message: Message, from senderName: String, now: Duration) -> [Directive] {
            var out: [Directive] = []
            startIfNeeded(now: now)
            for gossip in message.gossip {
                apply(gossip, now: now, into: &out)
            }
            switch message {
            case .ping(let sequence, _):
                out.append(.send(.ack(sequence: sequence, gossip: piggyback(to: senderName)), to: senderName))
            case .pingRequest(let sequence, let target, _):
                relay(sequence: sequence, target: target, origin: senderName, now: now, into: &out)
            case .ack(let sequence, _):
                if let current = probe, current.sequence == sequence {
                    if current.phase == .direct { adjustAwareness(-1) }
                    probe = nil
                } else if let i = relays.firstIndex(where: { $0.sequence == sequence }) {
                    let r = relays.remove(at: i)
                    let ack = Message.ack(sequence: r.originSequence, gossip: piggyback(to: r.origin))
                    out.append(.send(ack, to: r.origin))
                }
            case .nack(let sequence, _):
                if probe?.sequence == sequence { probe?.nacks += 1 }
            case .sync(_, let replyWanted):
                if replyWanted && myself.state != .left {
                    sendFullState(to: senderName, replyWanted: false, into: &out)
                }
            }
            scheduleTick(now: now, into: &out)
            return out
        }

        /// MUST be called whenever a mesh connection to a peer is established (a seed answered, an accepted
        /// connection, a reconnect), on both ends, with the name, advertised address and incarnation the peer
        /// presented in its handshake. A new member (or a known one with a higher incarnation) becomes `alive`
        /// at once, and the full state is pushed to it unless it was already known `alive` at that incarnation.
        public mutating func onPeerConnected(
            name: String,
            address: String,
            incarnation: UInt64,
            now: Duration
        ) -> [Directive] {
            var out: [Directive] = []
            startIfNeeded(now: now)
            guard name != myself.name, !name.isEmpty, myself.state != .left else {
                scheduleTick(now: now, into: &out)
                return out
            }
            let before = records[name]?.member
            apply(Gossip(member: Member(name: name, address: address, incarnation: incarnation)), now: now, into: &out)
            let alreadyInSync = before?.state == .alive && before?.incarnation == incarnation
            if !alreadyInSync {
                let wasActive = before?.state.isActive ?? false
                sendFullState(to: name, replyWanted: !wasActive, into: &out)
            }
            scheduleTick(now: now, into: &out)
            return out
        }

        /// SHOULD be called when the mesh connection to `name` drops. Only a hint: the member is probed in the
        /// next protocol period (ahead of the round-robin order), never declared failed because of it.
        public mutating func onPeerDisconnected(name: String, now: Duration) -> [Directive] {
            var out: [Directive] = []
            startIfNeeded(now: now)
            if let record = records[name], record.member.state.isActive, !priorityProbes.contains(name) {
                priorityProbes.append(name)
            }
            scheduleTick(now: now, into: &out)
            return out
        }

        /// Leaves the cluster gracefully: bumps the incarnation, becomes `left`, sends the news directly to every
        /// active member and keeps it in the piggyback queue. Probing stops; pings are still answered. The shell
        /// should keep delivering messages for about two probe intervals before closing the mesh.
        public mutating func leave(now: Duration) -> [Directive] {
            var out: [Directive] = []
            startIfNeeded(now: now)
            guard myself.state != .left else { return out }
            let previous = myself
            myself.incarnation += 1
            myself.state = .left
            probe = nil
            priorityProbes = []
            gossipBuffer.enqueue(Gossip(member: myself))
            let change = MemberChange(
                member: myself,
                previousState: previous.state,
                previousIncarnation: previous.incarnation
            )
            out.append(.memberChanged(change))
            for name in records.keys.sorted() where records[name]!.member.state.isActive {
                out.append(.send(.sync(entries: [Gossip(member: myself)], replyWanted: false), to: name))
            }
            scheduleTick(now: now, into: &out)
            return out
        }
    }
}

// MARK: - Timers

extension Membership.Instance {
    private mutating func startIfNeeded(now: Duration) {
        guard !started else { return }
        started = true
        nextProbeAt = now + jitter(upTo: settings.probeInterval)
        nextSyncAt = now + settings.syncInterval + jitter(upTo: settings.syncInterval / 4)
    }

    private mutating func tickProbe(now: Duration, into out: inout [Membership.Directive]) {
        if var current = probe {
            if now >= current.periodEnd {
                probe = nil
                probeFailed(current, now: now, into: &out)
            } else if current.phase == .direct && now >= current.directDeadline {
                // SWIM section 3: ask k other members to probe the silent target.
                let helpers = pickRandom(
                    settings.indirectProbeCount,
                    from: activeNames(excluding: current.target)
                )
                for helper in helpers {
                    let message = Membership.Message.pingRequest(
                        sequence: current.sequence,
                        target: current.target,
                        gossip: piggyback(to: helper)
                    )
                    out.append(.send(message, to: helper))
                }
                current.phase = .indirect
                current.expectedNacks = helpers.count
                probe = current
            }
        }
        guard probe == nil, myself.state != .left, now >= nextProbeAt else { return }
        let period = currentProbeInterval
        nextProbeAt = now + period
        guard let target = nextProbeTarget() else { return }
        let sequence = newSequence()
        probe = Probe(
            target: target,
            targetIncarnation: records[target]?.member.incarnation ?? 0,
            sequence: sequence,
            directDeadline: now + settings.probeTimeout * (awareness + 1),
            periodEnd: now + period,
            phase: .direct,
            expectedNacks: 0,
            nacks: 0
        )
        out.append(.send(.ping(sequence: sequence, gossip: piggyback(to: target)), to: target))
    }

    private mutating func probeFailed(_ failed: Probe, now: Duration, into out: inout [Membership.Directive]) {
        // Lifeguard IV-A: a failed probe raises the local health score by the number of nacks that did not
        // arrive (each one a hint that *we* are the slow party), or by one when nobody could be asked.
        if failed.phase == .indirect && failed.expectedNacks > 0 {
            adjustAwareness(failed.expectedNacks - failed.nacks)
        } else {
            adjustAwareness(1)
        }
        guard let record = records[failed.target], record.member.state.isActive,
            record.member.incarnation <= failed.targetIncarnation
        else { return }
        var suspect = record.member
        suspect.state = .suspect
        apply(Membership.Gossip(member: suspect, suspectedBy: myself.name), now: now, into: &out)
        // A fresh suspect is probed once more in the next period: the ping tells it that it is suspected
        // (Lifeguard IV-C) and, if it is alive, its ack brings the refutation straight back.
        if record.member.state == .alive && !priorityProbes.contains(failed.target) {
            priorityProbes.append(failed.target)
        }
    }

    private mutating func tickRelays(now: Duration, into out: inout [Membership.Directive]) {
        guard !relays.isEmpty else { return }
        for i in relays.indices where !relays[i].nackSent && now >= relays[i].nackAt {
            relays[i].nackSent = true
            let nack = Membership.Message.nack(
                sequence: relays[i].originSequence,
                gossip: piggyback(to: relays[i].origin)
            )
            out.append(.send(nack, to: relays[i].origin))
        }
        relays.removeAll { now >= $0.expiresAt }
    }

    private mutating func tickSuspicions(now: Duration, into out: inout [Membership.Directive]) {
        guard !suspicions.isEmpty else { return }
        for name in suspicions.keys.sorted() {
            guard let suspicion = suspicions[name], now >= suspicion.deadline else { continue }
            suspicions[name] = nil
            guard var member = records[name]?.member, member.state == .suspect,
                member.incarnation == suspicion.incarnation
            else { continue }
            member.state = .dead
            apply(Membership.Gossip(member: member), now: now, into: &out)
        }
    }

    private mutating func tickSync(now: Duration, into out: inout [Membership.Directive]) {
        guard now >= nextSyncAt else { return }
        nextSyncAt = now + settings.syncInterval + jitter(upTo: settings.syncInterval / 4)
        if !tombstones.isEmpty {
            tombstones = tombstones.filter { now < $0.value.expiresAt }
        }
        guard myself.state != .left else { return }
        // Push-pull anti-entropy with one random active member repairs what lost gossip missed.
        if let peer = pickRandom(1, from: activeNames(excluding: nil)).first {
            sendFullState(to: peer, replyWanted: true, into: &out)
        }
        // Reach out to one dead member (reaped ones too, until their tombstone expires): if it was only
        // partitioned away, it learns that it was declared dead, refutes with a higher incarnation and the two
        // sides merge again.
        var dead = records.keys.filter { records[$0]!.member.state == .dead }
        dead += tombstones.keys.filter { tombstones[$0]!.member.state == .dead }
        if let name = pickRandom(1, from: dead.sorted()).first,
            let member = records[name]?.member ?? tombstones[name]?.member
        {
            out.append(.connect(name: name, address: member.address))
            sendFullState(to: name, replyWanted: true, into: &out)
        }
    }

    private mutating func tickReap(now: Duration, into out: inout [Membership.Directive]) {
        guard let reapAt = nextReapAt, now >= reapAt else { return }
        nextReapAt = nil
        for record in records.values where !record.member.state.isActive {
            let at = record.changedAt + settings.reapTimeout
            if at > now { nextReapAt = min(nextReapAt ?? at, at) }
        }
        let due = records.keys.filter { name in
            let r = records[name]!
            return !r.member.state.isActive && now >= r.changedAt + settings.reapTimeout
        }
        for name in due.sorted() {
            let member = records.removeValue(forKey: name)!.member
            tombstones[name] = Tombstone(member: member, expiresAt: now + settings.tombstoneTimeout)
            out.append(.memberRemoved(member))
        }
    }

    /// Emits a `scheduleTick` if the earliest deadline is earlier than the tick already scheduled.
    private mutating func scheduleTick(now: Duration, into out: inout [Membership.Directive]) {
        guard started else { return }
        var next = nextSyncAt
        if myself.state != .left { next = min(next, nextProbeAt) }
        if let p = probe { next = min(next, p.phase == .direct ? p.directDeadline : p.periodEnd) }
        for r in relays { next = min(next, r.nackSent ? r.expiresAt : r.nackAt) }
        for s in suspicions.values { next = min(next, s.deadline) }
        if let reapAt = nextReapAt { next = min(next, reapAt) }
        if let scheduled = scheduledTickAt, scheduled <= next { return }
        scheduledTickAt = next
        out.append(.scheduleTick(after: next > now ? next - now : .zero))
    }
}

// MARK: - Gossip merge

extension Membership.Instance {
    /// Merges one piece of news (SWIM section 4.2 ordering by `(incarnation, state)`).
    private mutating func apply(_ gossip: Membership.Gossip, now: Duration, into out: inout [Membership.Directive]) {
        let news = gossip.member
        guard !news.name.isEmpty else { return }
        if news.name == myself.name {
            applyAboutMyself(news)
            return
        }
        if let known = records[news.name]?.member {
            if known.isSuperseded(by: news) {
                setMember(news, previous: known, suspectedBy: gossip.suspectedBy, now: now, into: &out)
            } else if news.state == .suspect, known.state == .suspect, news.incarnation == known.incarnation,
                let by = gossip.suspectedBy, suspicions[news.name]?.confirm(by: by) == true
            {
                // Lifeguard IV-B: an independent confirmation shortens the timeout; pass it on.
                gossipBuffer.enqueue(gossip)
            }
            return
        }
        if let tombstone = tombstones[news.name], news.incarnation <= tombstone.member.incarnation { return }
        // Unknown members are only learned from `alive` news; rumours about strangers are ignored.
        guard news.state == .alive else { return }
        tombstones[news.name] = nil
        setMember(news, previous: nil, suspectedBy: nil, now: now, into: &out)
    }

    /// SWIM refutation: contradicting news about this node at our incarnation (or any news from a newer one)
    /// is answered by bumping the incarnation above it and gossiping `alive` (or `left` once we left).
    private mutating func applyAboutMyself(_ news: Membership.Member) {
        let contradicts: Bool
        if news.incarnation > myself.incarnation {
            contradicts = true
        } else if news.incarnation == myself.incarnation {
            contradicts = news.state != myself.state && news.state < .left
        } else {
            contradicts = false
        }
        guard contradicts else { return }
        myself.incarnation = news.incarnation + 1
        if myself.state != .left && news.state != .alive {
            adjustAwareness(1)  // Lifeguard IV-A: having to refute hints that we are slow.
        }
        gossipBuffer.enqueue(Membership.Gossip(member: myself))
    }

    private mutating func setMember(
        _ member: Membership.Member,
        previous: Membership.Member?,
        suspectedBy: String?,
        now: Duration,
        into out: inout [Membership.Directive]
    ) {
        let name = member.name
        let wasActive = previous?.state.isActive ?? false
        records[name] = Record(member: member, changedAt: now)
        if member.state.isActive != wasActive { activeCount += member.state.isActive ? 1 : -1 }
        if member.state.isActive && !wasActive {
            out.append(.connect(name: name, address: member.address))
            if !probeOrder[probeIndex...].contains(name) {
                probeOrder.insert(name, at: Int.random(in: probeIndex...probeOrder.count, using: &random))
            }
        }
        switch member.state {
        case .alive:
            suspicions[name] = nil
            gossipBuffer.enqueue(Membership.Gossip(member: member))
        case .suspect:
            let by = suspectedBy ?? ""
            let n = Double(activeCount)
            let minimum = settings.suspicionTimeoutMin * max(1, Membership.Suspicion.log10(n))
            suspicions[name] = Membership.Suspicion(
                incarnation: member.incarnation,
                startedAt: now,
                min: minimum,
                max: minimum * settings.suspicionTimeoutMaxMultiplier,
                expectedConfirmations: max(0, min(settings.suspicionConfirmations, activeCount - 2)),
                suspecters: [by]
            )
            gossipBuffer.enqueue(Membership.Gossip(member: member, suspectedBy: by))
        case .dead, .left:
            let reapAt = now + settings.reapTimeout
            nextReapAt = min(nextReapAt ?? reapAt, reapAt)
            suspicions[name] = nil
            priorityProbes.removeAll { $0 == name }
            if probe?.target == name { probe = nil }
            gossipBuffer.enqueue(Membership.Gossip(member: member))
        }
        out.append(
            .memberChanged(
                Membership.MemberChange(
                    member: member,
                    previousState: previous?.state,
                    previousIncarnation: previous?.incarnation
                )
            )
        )
    }
}

// MARK: - Messages out

extension Membership.Instance {
    /// `retransmitMultiplier × ⌈log10(n + 1)⌉` transmissions per update (SWIM section 4.1's λ log n).
    var retransmitLimit: Int {
        var digits = 1
        var power = 10
        while power < activeCount + 1 {
            digits += 1
            power *= 10
        }
        return settings.retransmitMultiplier * digits
    }

    /// Gossip for one message to `receiver`: the least-sent pending updates, led by news about the receiver
    /// itself; if we believe the receiver is not alive we always tell it, so that it can refute (Lifeguard IV-C).
    private mutating func piggyback(to receiver: String) -> [Membership.Gossip] {
        var list = gossipBuffer.take(
            max: settings.maxPiggybackedUpdates,
            limit: retransmitLimit,
            priority: receiver
        )
        if let member = records[receiver]?.member, member.state != .alive,
            !list.contains(where: { $0.member.name == receiver })
        {
            if list.count >= settings.maxPiggybackedUpdates { list.removeLast() }
            list.insert(Membership.Gossip(member: member, suspectedBy: suspicions[receiver]?.suspecters.first), at: 0)
        }
        return list
    }

    /// Sends the full membership state to `peer` in chunks of `maxSyncEntriesPerMessage`.
    private mutating func sendFullState(to peer: String, replyWanted: Bool, into out: inout [Membership.Directive]) {
        var entries = [Membership.Gossip(member: myself)]
        for name in records.keys.sorted() {
            let member = records[name]!.member
            entries.append(Membership.Gossip(member: member, suspectedBy: suspicions[name]?.suspecters.first))
        }
        if records[peer] == nil, let tombstone = tombstones[peer] {
            entries.append(Membership.Gossip(member: tombstone.member))  // lets a long-lost peer refute
        }
        var start = 0
        while start < entries.count {
            let end = min(start + settings.maxSyncEntriesPerMessage, entries.count)
            let chunk = Array(entries[start..<end])
            out.append(.send(.sync(entries: chunk, replyWanted: replyWanted && start == 0), to: peer))
            start = end
        }
    }

    private mutating func relay(
        sequence: UInt64,
        target: String,
        origin: String,
        now: Duration,
        into out: inout [Membership.Directive]
    ) {
        if target == myself.name {
            out.append(.send(.ack(sequence: sequence, gossip: piggyback(to: origin)), to: origin))
            return
        }
        guard records[target] != nil else {
            out.append(.send(.nack(sequence: sequence, gossip: piggyback(to: origin)), to: origin))
            return
        }
        let ownSequence = newSequence()
        out.append(.send(.ping(sequence: ownSequence, gossip: piggyback(to: target)), to: target))
        let nackAt = now + settings.probeTimeout * settings.nackFraction
        relays.append(
            Relay(
                sequence: ownSequence,
                origin: origin,
                originSequence: sequence,
                nackAt: nackAt,
                expiresAt: nackAt + settings.probeInterval,
                nackSent: false
            )
        )
    }
}

// MARK: - Helpers

extension Membership.Instance {
    private mutating func newSequence() -> UInt64 {
        nextSequence &+= 1
        return nextSequence
    }

    private mutating func adjustAwareness(_ delta: Int) {
        awareness = min(max(awareness + delta, 0), settings.maxLocalHealth)
    }

    /// Active members other than this node and `excluded`, sorted by name (deterministic order).
    private func activeNames(excluding excluded: String?) -> [String] {
        records.keys.filter { $0 != excluded && records[$0]!.member.state.isActive }.sorted()
    }

    private mutating func pickRandom(_ count: Int, from names: [String]) -> [String] {
        guard count > 0, !names.isEmpty else { return [] }
        if count == 1 { return [names[Int.random(in: 0..<names.count, using: &random)]] }
        return Array(names.shuffled(using: &random).prefix(count))
    }

    /// SWIM section 4.3: round-robin over a shuffled list, reshuffled after each full round; members the
    /// mesh reported disconnected go first.
    private mutating func nextProbeTarget() -> String? {
        while !priorityProbes.isEmpty {
            let name = priorityProbes.removeFirst()
            if records[name]?.member.state.isActive == true { return name }
        }
        for _ in 0..<2 {
            while probeIndex < probeOrder.count {
                let name = probeOrder[probeIndex]
                probeIndex += 1
                if records[name]?.member.state.isActive == true { return name }
            }
            probeOrder = activeNames(excluding: nil).shuffled(using: &random)
            probeIndex = 0
            if probeOrder.isEmpty { return nil }
        }
        return nil
    }

    private mutating func jitter(upTo limit: Duration) -> Duration {
        let (seconds, attoseconds) = limit.components
        let nanos = seconds * 1_000_000_000 + attoseconds / 1_000_000_000
        guard nanos > 0 else { return .zero }
        return .nanoseconds(Int64.random(in: 0..<nanos, using: &random))
    }
}
