import Testing

@testable import ClusterCore

/// Focused tests of single behaviours of `Membership.Instance`, driven by hand with fixed nodes and times.
@Suite struct MembershipInstanceTests {
    typealias Directive = Membership.Directive
    typealias Member = Membership.Member

    static let me = Member(name: "a", address: "10.0.0.1:59998", incarnation: 100)

    static func ms(_ value: Int64) -> Duration { .milliseconds(value) }

    /// Settings under which the instance never probes on its own during a test (the first probe is due
    /// somewhere in the first 1000 s), for tests of gossip and suspicion alone.
    static var quiet: Membership.Settings {
        var settings = Membership.Settings()
        settings.probeInterval = .seconds(1000)
        settings.probeTimeout = .seconds(1)
        settings.syncInterval = .seconds(1000)
        return settings
    }

    /// An instance "a" that knows `peers` (alive, incarnation 1) through connections at time 0.
    static func instance(
        peers: [String],
        settings: Membership.Settings = Membership.Settings(),
        seed: UInt64 = 1
    ) -> Membership.Instance {
        var instance = Membership.Instance(myself: me, settings: settings, seed: seed)
        _ = instance.onTick(now: .zero)
        for peer in peers {
            _ = instance.onPeerConnected(name: peer, address: "\(peer):1", incarnation: 1, now: .zero)
        }
        return instance
    }

    static func sends(_ directives: [Directive]) -> [(message: Membership.Message, to: String)] {
        directives.compactMap { if case .send(let m, let to) = $0 { (m, to) } else { nil } }
    }

    static func changes(_ directives: [Directive]) -> [Membership.MemberChange] {
        directives.compactMap { if case .memberChanged(let c) = $0 { c } else { nil } }
    }

    static func pings(_ directives: [Directive]) -> [(sequence: UInt64, to: String)] {
        sends(directives).compactMap { if case .ping(let s, _) = $0.message { (s, $0.to) } else { nil } }
    }

    /// Ticks every 10 ms from `from` until a ping goes out; returns it and the time.
    static func tickUntilPing(
        _ instance: inout Membership.Instance,
        from: Duration
    ) -> (sequence: UInt64, to: String, at: Duration) {
        var now = from
        while now < from + .seconds(10) {
            if let ping = pings(instance.onTick(now: now)).first { return (ping.sequence, ping.to, now) }
            now += ms(10)
        }
        Issue.record("no ping within 10 s")
        return (0, "", now)
    }

    static func gossip(_ name: String, _ incarnation: UInt64, _ state: Membership.MemberState, by: String? = nil)
        -> Membership.Gossip
    {
        .init(member: Member(name: name, address: "\(name):1", incarnation: incarnation, state: state), suspectedBy: by)
    }

    // MARK: Join, ping, sync

    @Test func joinAddsThePeerAndPushesTheFullState() {
        var a = Membership.Instance(myself: Self.me, settings: .init(), seed: 1)
        _ = a.onTick(now: .zero)
        let directives = a.onPeerConnected(name: "b", address: "b:1", incarnation: 7, now: Self.ms(5))
        #expect(Self.changes(directives) == [.init(member: Member(name: "b", address: "b:1", incarnation: 7), previousState: nil)])
        let syncs = Self.sends(directives)
        guard syncs.count == 1, case .sync(let entries, true) = syncs[0].message, syncs[0].to == "b" else {
            Issue.record("Expected one sync with replyWanted to b, got \(directives)")
            return
        }
        #expect(entries.map(\.member.name) == ["a", "b"])

        // b's answer teaches a the rest of the cluster; a asks the shell to connect to the new members.
        let reply = Membership.Message.sync(entries: [Self.gossip("b", 7, .alive), Self.gossip("c", 3, .alive)], replyWanted: false)
        let learned = a.onMessage(reply, from: "b", now: Self.ms(6))
        #expect(learned.contains(.connect(name: "c", address: "c:1")))
        #expect(a.aliveMembers.map(\.name) == ["a", "b", "c"])
        // A reconnect of a member already known alive at that incarnation does not resend everything.
        #expect(Self.sends(a.onPeerConnected(name: "c", address: "c:1", incarnation: 3, now: Self.ms(7))).isEmpty)
    }

    @Test func pingIsAnsweredWithAnAckCarryingGossip() {
        var a = Self.instance(peers: ["b", "c"])
        let directives = a.onMessage(.ping(sequence: 42, gossip: []), from: "b", now: Self.ms(1))
        guard case .send(.ack(42, let gossip), "b")? = directives.first else {
            Issue.record("Expected .send(.ack(42)) to b, got \(directives)")
            return
        }
        #expect(gossip.contains { $0.member.name == "c" })  // news of c's join is still being disseminated
    }

    @Test func everyTickSchedulesExactlyOneNextTick() {
        var a = Self.instance(peers: ["b"])
        for t in stride(from: Int64(0), to: 3000, by: 37) {
            let ticks = a.onTick(now: Self.ms(t)).filter { if case .scheduleTick = $0 { true } else { false } }
            #expect(ticks.count == 1)
        }
    }

    @Test func syncIsChunkedAndBounded() {
        var settings = Membership.Settings()
        settings.maxSyncEntriesPerMessage = 64
        var a = Self.instance(peers: (0..<150).map { "m\($0)" }, settings: settings)
        let directives = a.onPeerConnected(name: "newcomer", address: "n:1", incarnation: 1, now: Self.ms(1))
        let chunks = Self.sends(directives).compactMap { s -> (Int, Bool)? in
            if case .sync(let entries, let reply) = s.message { (entries.count, reply) } else { nil }
        }
        #expect(chunks.map(\.0) == [64, 64, 24])  // 150 + a + newcomer
        #expect(chunks.map(\.1) == [true, false, false])
    }

    @Test func piggybackIsBoundedAndRetransmissionsAreLimited() {
        var settings = Membership.Settings()
        settings.maxPiggybackedUpdates = 5
        var a = Self.instance(peers: (0..<40).map { "m\($0)" }, settings: settings)
        var transmissions: [String: Int] = [:]
        for i in 0..<200 {
            let directives = a.onMessage(.ping(sequence: UInt64(i), gossip: []), from: "m0", now: Self.ms(Int64(i)))
            for gossip in Self.sends(directives).flatMap(\.message.gossip) {
                transmissions[gossip.member.name, default: 0] += 1
            }
            #expect(Self.sends(directives).allSatisfy { $0.message.gossip.count <= 5 })
        }
        // n = 41: λ × ⌈log10(42)⌉ = 4 × 2 = 8 transmissions for each join.
        #expect(a.retransmitLimit == 8)
        #expect(transmissions.count == 40)
        #expect(transmissions.values.allSatisfy { $0 == 8 })
    }

    // MARK: Probing, ping-req, Lifeguard local health

    @Test func failedProbeGoesIndirectThenSuspectsAndRaisesLocalHealth() {
        var a = Self.instance(peers: ["b", "c", "d"])
        let ping = Self.tickUntilPing(&a, from: .zero)
        let indirect = a.onTick(now: ping.at + Self.ms(100))
        let requests = Self.sends(indirect).compactMap { s -> String? in
            if case .pingRequest(ping.sequence, ping.to, _) = s.message { s.to } else { nil }
        }
        #expect(requests.count == 2)
        #expect(!requests.contains(ping.to) && !requests.contains("a"))
        #expect(a.member(named: ping.to)?.state == .alive)

        let end = a.onTick(now: ping.at + Self.ms(200))
        #expect(Self.changes(end).map(\.newState) == [.suspect])
        #expect(a.member(named: ping.to)?.state == .suspect)
        #expect(a.localHealth == 2)  // two nacks that never came
        // The suspect is probed again right away, and told that it is suspected (buddy system).
        guard let next = Self.pings(end).first ?? Self.pings(a.onTick(now: ping.at + Self.ms(210))).first else {
            Issue.record("Expected a re-probe of the suspect")
            return
        }
        #expect(next.to == ping.to)
    }

    @Test func aProbeOfTheOldProcessDoesNotSuspectItsRestartedSuccessor() {
        var a = Self.instance(peers: ["b", "c", "d"])
        let ping = Self.tickUntilPing(&a, from: .zero)
        // The probed process is killed and restarted with the same name while the probe is in flight.
        _ = a.onPeerConnected(name: ping.to, address: "\(ping.to):1", incarnation: 2, now: ping.at + Self.ms(50))
        _ = a.onTick(now: ping.at + Self.ms(100))
        let end = a.onTick(now: ping.at + Self.ms(200))
        #expect(!Self.changes(end).contains { $0.name == ping.to && $0.newState == .suspect })
        #expect(a.member(named: ping.to)?.state == .alive)
        #expect(a.member(named: ping.to)?.incarnation == 2)
    }

    @Test func nacksKeepLocalHealthAndAcksLowerIt() {
        var a = Self.instance(peers: ["b", "c", "d"])
        // Three failed probes whose helpers answer nack: health unchanged.
        var ping = Self.tickUntilPing(&a, from: .zero)
        for _ in 0..<3 {
            let helpers = Self.sends(a.onTick(now: ping.at + Self.ms(100))).map(\.to)
            #expect(helpers.count == 2)
            for helper in helpers {
                _ = a.onMessage(.nack(sequence: ping.sequence, gossip: []), from: helper, now: ping.at + Self.ms(150))
            }
            ping = Self.tickUntilPing(&a, from: ping.at + Self.ms(200))  // failure and next probe, same tick
        }
        #expect(a.localHealth == 0)

        // A failed probe without nacks raises it by the missing nacks and stretches the protocol period.
        _ = a.onTick(now: ping.at + Self.ms(100))
        let failedAt = ping.at + Self.ms(200)
        guard let slow = Self.pings(a.onTick(now: failedAt)).first else {
            Issue.record("Expected the next probe to start when the previous one failed")
            return
        }
        #expect(a.localHealth == 2)
        #expect(a.currentProbeInterval == Self.ms(600))
        // The direct timeout is stretched too (300 ms): no ping-req yet at +250 ms.
        let early = a.onTick(now: failedAt + Self.ms(250))
        #expect(!Self.sends(early).contains { if case .pingRequest = $0.message { true } else { false } })
        // A direct ack lowers it again.
        _ = a.onMessage(.ack(sequence: slow.sequence, gossip: []), from: slow.to, now: failedAt + Self.ms(260))
        #expect(a.localHealth == 1)
        let next = Self.tickUntilPing(&a, from: failedAt + Self.ms(270))
        #expect(next.at - failedAt == Self.ms(600))
    }

    @Test func ackRelayedByAHelperCountsAsSuccess() {
        var a = Self.instance(peers: ["b", "c", "d"])
        let ping = Self.tickUntilPing(&a, from: .zero)
        let helpers = Self.sends(a.onTick(now: ping.at + Self.ms(100))).map(\.to)
        _ = a.onMessage(.ack(sequence: ping.sequence, gossip: []), from: helpers[0], now: ping.at + Self.ms(120))
        #expect(Self.changes(a.onTick(now: ping.at + Self.ms(200))).isEmpty)
        #expect(a.member(named: ping.to)?.state == .alive)
        #expect(a.localHealth == 0)
    }

    @Test func pingRequestIsRelayedAndAnswered() {
        var a = Self.instance(peers: ["b", "c"], settings: Self.quiet)
        // The target answers: its ack is forwarded to the requester under the requester's sequence number.
        let relayed = a.onMessage(.pingRequest(sequence: 9, target: "c", gossip: []), from: "b", now: Self.ms(1))
        guard let ping = Self.pings(relayed).first, ping.to == "c" else {
            Issue.record("Expected a ping to c, got \(relayed)")
            return
        }
        let forwarded = a.onMessage(.ack(sequence: ping.sequence, gossip: []), from: "c", now: Self.ms(3))
        guard case .send(.ack(9, _), "b")? = forwarded.first else {
            Issue.record("Expected .ack(9) to b, got \(forwarded)")
            return
        }

        // The target stays silent: nack after 80 % of the probe timeout.
        _ = a.onMessage(.pingRequest(sequence: 10, target: "c", gossip: []), from: "b", now: Self.ms(1000))
        let quietSettings = Self.quiet
        let nackAt = Self.ms(1000) + quietSettings.probeTimeout * 0.8
        #expect(Self.sends(a.onTick(now: nackAt - Self.ms(1))).isEmpty)
        let nack = Self.sends(a.onTick(now: nackAt))
        #expect(nack.count == 1 && nack[0].to == "b")
        if case .nack(10, _)? = nack.first?.message {} else { Issue.record("Expected .nack(10), got \(nack)") }

        // Unknown target: nack at once.
        let unknown = a.onMessage(.pingRequest(sequence: 11, target: "zz", gossip: []), from: "b", now: Self.ms(5000))
        guard case .send(.nack(11, _), "b")? = unknown.first else {
            Issue.record("Expected .nack(11) to b, got \(unknown)")
            return
        }
    }

    @Test func disconnectHintProbesTheMemberNextButDoesNotDeclareIt() {
        var a = Self.instance(peers: (0..<20).map { "m\($0)" })
        let first = Self.tickUntilPing(&a, from: .zero)
        _ = a.onMessage(.ack(sequence: first.sequence, gossip: []), from: first.to, now: first.at + Self.ms(1))
        let hint = a.onPeerDisconnected(name: "m17", now: first.at + Self.ms(2))
        #expect(Self.changes(hint).isEmpty)
        #expect(a.member(named: "m17")?.state == .alive)
        let next = Self.tickUntilPing(&a, from: first.at + Self.ms(10))
        #expect(next.to == "m17")
    }

    // MARK: Suspicion, refutation

    @Test func refutesSuspicionByBumpingItsIncarnation() {
        var a = Self.instance(peers: ["b", "c"])
        let suspected = Membership.Message.ping(sequence: 1, gossip: [Self.gossip("a", 100, .suspect, by: "b")])
        let directives = a.onMessage(suspected, from: "b", now: Self.ms(1))
        #expect(a.myself.incarnation == 101)
        #expect(a.myself.state == .alive)
        #expect(a.localHealth == 1)
        guard case .send(.ack(1, let gossip), "b")? = directives.first else {
            Issue.record("Expected an ack, got \(directives)")
            return
        }
        #expect(gossip.contains { $0.member == Member(name: "a", address: Self.me.address, incarnation: 101) })

        // Stale news (older incarnation) is not refuted again; news of death at the current one is.
        _ = a.onMessage(.sync(entries: [Self.gossip("a", 100, .dead)], replyWanted: false), from: "c", now: Self.ms(2))
        #expect(a.myself.incarnation == 101)
        _ = a.onMessage(.sync(entries: [Self.gossip("a", 101, .dead)], replyWanted: false), from: "c", now: Self.ms(3))
        #expect(a.myself.incarnation == 102)
    }

    /// n = 6 (k = min(3, n - 2) = 3), min 1 s, max 3 s: the timeout is 3 s, 2 s (one confirmation:
    /// 3 - 2 × log 2 / log 4) and 1 s (three).
    @Test(arguments: [(0, 3000), (1, 2000), (3, 1000)])
    func suspicionTimeoutShrinksWithIndependentConfirmations(confirmations: Int, expectedMs: Int64) {
        var a = Self.instance(peers: ["b", "c", "d", "e", "x"], settings: Self.quiet)
        let t0 = Self.ms(100)
        _ = a.onMessage(.sync(entries: [Self.gossip("x", 1, .suspect, by: "b")], replyWanted: false), from: "b", now: t0)
        #expect(a.member(named: "x")?.state == .suspect)
        // Repeats from the same suspecter are not independent.
        _ = a.onMessage(.sync(entries: [Self.gossip("x", 1, .suspect, by: "b")], replyWanted: false), from: "c", now: t0)
        for by in ["c", "d", "e"].prefix(confirmations) {
            _ = a.onMessage(.sync(entries: [Self.gossip("x", 1, .suspect, by: by)], replyWanted: false), from: by, now: t0 + Self.ms(50))
        }
        let before = a.onTick(now: t0 + Self.ms(expectedMs - 1))
        #expect(Self.changes(before).isEmpty)
        #expect(a.member(named: "x")?.state == .suspect)
        let at = a.onTick(now: t0 + Self.ms(expectedMs + 1))
        #expect(Self.changes(at) == [.init(member: Member(name: "x", address: "x:1", incarnation: 1, state: .dead), previousState: .suspect, previousIncarnation: 1)])
        #expect(Self.pings(before + at).isEmpty)
    }

    @Test func refutationCancelsTheSuspicion() {
        var a = Self.instance(peers: ["b", "x"], settings: Self.quiet)
        _ = a.onMessage(.sync(entries: [Self.gossip("x", 1, .suspect, by: "b")], replyWanted: false), from: "b", now: .zero)
        let refuted = a.onMessage(.ping(sequence: 1, gossip: [Self.gossip("x", 2, .alive)]), from: "x", now: Self.ms(10))
        #expect(Self.changes(refuted).map(\.newState) == [.alive])
        _ = a.onTick(now: .seconds(10))
        #expect(a.member(named: "x") == Member(name: "x", address: "x:1", incarnation: 2))
    }

    // MARK: Leave, reap, rejoin

    @Test func leaveSendsLeftAtAHigherIncarnationToEveryone() {
        var a = Self.instance(peers: ["b", "c"])
        let directives = a.leave(now: Self.ms(10))
        #expect(a.myself.state == .left && a.myself.incarnation == 101)
        #expect(Self.changes(directives).map(\.newState) == [.left])
        let sends = Self.sends(directives)
        #expect(sends.map(\.to) == ["b", "c"])
        #expect(sends.allSatisfy { $0.message.gossip.map(\.member) == [Member(name: "a", address: Self.me.address, incarnation: 101, state: .left)] })
        // A left node probes nobody but still answers pings.
        var now = Self.ms(10)
        while now < .seconds(3) {
            #expect(Self.pings(a.onTick(now: now)).isEmpty)
            now += Self.ms(50)
        }
        guard case .send(.ack(5, _), "b")? = a.onMessage(.ping(sequence: 5, gossip: []), from: "b", now: now).first else {
            Issue.record("Expected a left node to still ack")
            return
        }
    }

    @Test func othersMarkALeaverLeftAndNeverProbeItAgain() {
        var b = Membership.Instance(myself: Member(name: "b", address: "b:1", incarnation: 1), seed: 2)
        _ = b.onTick(now: .zero)
        _ = b.onPeerConnected(name: "a", address: "a:1", incarnation: 100, now: .zero)
        _ = b.onPeerConnected(name: "c", address: "c:1", incarnation: 1, now: .zero)
        let news = b.onMessage(.sync(entries: [Self.gossip("a", 101, .left)], replyWanted: false), from: "a", now: Self.ms(5))
        #expect(Self.changes(news).map(\.newState) == [.left])
        var now = Self.ms(10)
        while now < .seconds(10) {
            let directives = b.onTick(now: now)
            #expect(!Self.pings(directives).contains { $0.to == "a" })
            for ping in Self.pings(directives) {
                _ = b.onMessage(.ack(sequence: ping.sequence, gossip: []), from: ping.to, now: now + Self.ms(1))
            }
            now += Self.ms(20)
        }
        #expect(b.member(named: "a")?.state == .left)
        // Stale alive news at the old incarnation does not bring it back.
        _ = b.onMessage(.sync(entries: [Self.gossip("a", 100, .alive)], replyWanted: false), from: "c", now: now)
        #expect(b.member(named: "a")?.state == .left)
    }

    @Test func deadMembersAreReapedAndTheirTombstoneIgnoresStaleNews() {
        var settings = Self.quiet
        settings.reapTimeout = .seconds(2)
        settings.tombstoneTimeout = .seconds(60)
        var a = Self.instance(peers: ["b", "x"], settings: settings)
        let death = a.onMessage(.sync(entries: [Self.gossip("x", 1, .dead)], replyWanted: false), from: "b", now: Self.ms(100))
        #expect(Self.changes(death).map(\.newState) == [.dead])
        // The reap deadline is part of the tick schedule.
        #expect(Self.changes(a.onTick(now: Self.ms(2099))).isEmpty)
        let reaped = a.onTick(now: Self.ms(2100))
        #expect(reaped.contains(.memberRemoved(Member(name: "x", address: "x:1", incarnation: 1, state: .dead))))
        #expect(a.member(named: "x") == nil)
        #expect(a.members.map(\.name) == ["a", "b"])
        // Stale news at the reaped incarnation is ignored ...
        let stale = a.onMessage(.sync(entries: [Self.gossip("x", 1, .alive)], replyWanted: false), from: "b", now: Self.ms(3000))
        #expect(Self.changes(stale).isEmpty)
        // ... a higher incarnation (a restart) is accepted at once.
        let restart = a.onMessage(.sync(entries: [Self.gossip("x", 5, .alive)], replyWanted: false), from: "b", now: Self.ms(3001))
        #expect(Self.changes(restart) == [.init(member: Member(name: "x", address: "x:1", incarnation: 5), previousState: nil)])
        #expect(restart.contains(.connect(name: "x", address: "x:1")))
    }

    @Test(arguments: [Membership.MemberState.suspect, .dead, .left])
    func higherIncarnationMakesAMemberAliveAtOnce(_ state: Membership.MemberState) {
        var a = Self.instance(peers: ["b", "x"], settings: Self.quiet)
        _ = a.onMessage(.sync(entries: [Self.gossip("x", 1, state, by: "b")], replyWanted: false), from: "b", now: Self.ms(1))
        #expect(a.member(named: "x")?.state == state)
        // Same incarnation: no resurrection.
        _ = a.onPeerConnected(name: "x", address: "x:1", incarnation: 1, now: Self.ms(2))
        #expect(a.member(named: "x")?.state == state)
        // A restarted process (fresh, higher incarnation) connecting: alive immediately, full state pushed.
        let rejoin = a.onPeerConnected(name: "x", address: "x:2", incarnation: 1_764_000_000_000, now: Self.ms(3))
        #expect(Self.changes(rejoin) == [.init(member: Member(name: "x", address: "x:2", incarnation: 1_764_000_000_000), previousState: state, previousIncarnation: 1)])
        #expect(Self.sends(rejoin).contains { if case .sync = $0.message { $0.to == "x" } else { false } })
        #expect(a.member(named: "x")?.state == .alive)
    }

    @Test func rumoursAboutUnknownMembersAreIgnored() {
        var a = Self.instance(peers: ["b"], settings: Self.quiet)
        let directives = a.onMessage(
            .sync(entries: [Self.gossip("y", 1, .suspect, by: "b"), Self.gossip("z", 1, .dead)], replyWanted: false),
            from: "b",
            now: Self.ms(1)
        )
        #expect(Self.changes(directives).isEmpty)
        #expect(a.members.map(\.name) == ["a", "b"])
    }

    @Test func sameSeedAndInputsGiveTheSameDirectives() {
        func run() -> [Directive] {
            var a = Self.instance(peers: ["b", "c", "d", "e"], seed: 99)
            var all: [Directive] = []
            for t in stride(from: Int64(0), to: 5000, by: 10) { all += a.onTick(now: Self.ms(t)) }
            return all
        }
        #expect(run() == run())
    }
}
