import Testing

@testable import ClusterCore

/// Seeded simulations of channel history: ownership under churn, loss and partitions.
@Suite("History simulation")
struct HistorySimulationTests {
    private static let channels = ["chat", "news", "room-1", "room-2"]

    private func config(nodes: Int, seed: UInt64, dropRate: Double = 0) -> ClusterSimulation.Config {
        var config = ClusterSimulation.Config(nodes: nodes, seed: seed)
        config.dropRate = dropRate
        config.settings.history.size = 100_000
        config.settings.history.soloAllowed = false
        return config
    }

    private func settled(_ config: ClusterSimulation.Config) -> ClusterSimulation {
        let sim = ClusterSimulation(config)
        sim.start()
        sim.run(for: .seconds(3))
        for i in sim.nodes.indices { for channel in Self.channels { sim.subscribe(i, channel) } }
        sim.run(for: .seconds(1))
        return sim
    }

    /// Emits from random running nodes to random channels, `count` of them, `every` apart.
    private func emitFlow(_ sim: ClusterSimulation, _ random: inout Membership.SeededRandom, count: Int, every: Duration) {
        for _ in 0..<count {
            let running = sim.nodes.indices.filter { sim.nodes[$0].running }
            sim.historyEmit(from: running[Int(random.next() % UInt64(running.count))], to: Self.channels[Int(random.next() % 4)])
            sim.run(for: every)
        }
    }

    private func checkAll(_ sim: ClusterSimulation, sameEpoch: Bool) {
        HistoryInvariants.checkNoFork(sim)
        HistoryInvariants.checkSubscriberOrder(sim)
        HistoryInvariants.checkAnswered(sim, bound: .seconds(7))
        for channel in Self.channels { HistoryInvariants.checkAnsweredKept(sim, channel: channel, sameEpoch: sameEpoch) }
    }

    @Test("one crash at a time while emits flow: same epochs, every answered message kept, no fork", arguments: Array(1...8) as [UInt64])
    func crashesOneAtATime(seed: UInt64) {
        let sim = settled(config(nodes: 4, seed: seed))
        var random = Membership.SeededRandom(seed: seed)
        for round in 0..<4 {
            let victim = (Int(seed) + round) % 4
            emitFlow(sim, &random, count: 40, every: .milliseconds(10))
            sim.crash(victim)
            emitFlow(sim, &random, count: 60, every: .milliseconds(50))
            sim.run(for: .seconds(8))
            sim.restart(victim, incarnation: 2_000 + UInt64(round))
            sim.run(for: .seconds(3))
            for channel in Self.channels { sim.subscribe(victim, channel) }
            sim.run(for: .seconds(1))
        }
        emitFlow(sim, &random, count: 40, every: .milliseconds(10))
        sim.run(for: .seconds(8))
        checkAll(sim, sameEpoch: true)
        let answered = sim.historyEmits.filter { if case .appended = $0.outcome { true } else { false } }.count
        #expect(answered >= sim.historyEmits.count * 8 / 10, "only \(answered) of \(sim.historyEmits.count) emits answered")
        #expect(sim.counters[.channelOwnerChanges, default: 0] > Self.channels.count, "ownership never moved")
    }

    @Test("joins and graceful leaves move ownership with the same epoch", arguments: Array(30...37) as [UInt64])
    func joinsAndLeaves(seed: UInt64) {
        let sim = settled(config(nodes: 5, seed: seed))
        var random = Membership.SeededRandom(seed: seed)
        // Two nodes start late: they join while emits flow.
        sim.leave(3, linger: .milliseconds(400))
        sim.leave(4, linger: .milliseconds(400))
        sim.run(for: .seconds(3))
        emitFlow(sim, &random, count: 50, every: .milliseconds(10))
        sim.restart(3, incarnation: 3_000)
        emitFlow(sim, &random, count: 50, every: .milliseconds(20))
        sim.restart(4, incarnation: 3_001)
        emitFlow(sim, &random, count: 50, every: .milliseconds(20))
        sim.leave(Int(seed % 3), linger: .milliseconds(400))
        emitFlow(sim, &random, count: 50, every: .milliseconds(20))
        sim.run(for: .seconds(8))
        checkAll(sim, sameEpoch: true)
        let refused = sim.historyEmits.filter { $0.outcome == .notAccepted }.count
        #expect(refused <= sim.historyEmits.count / 10, "\(refused) emits not accepted")
    }

    @Test("a mesh that drops frames: retried emits, no fork, none twice", arguments: Array(60...67) as [UInt64])
    func underLoss(seed: UInt64) {
        let sim = settled(config(nodes: 4, seed: seed, dropRate: 0.02))
        var random = Membership.SeededRandom(seed: seed)
        emitFlow(sim, &random, count: 200, every: .milliseconds(5))
        sim.crash(Int(seed % 4))
        emitFlow(sim, &random, count: 100, every: .milliseconds(20))
        sim.run(for: .seconds(8))
        HistoryInvariants.checkNoFork(sim)
        HistoryInvariants.checkSubscriberOrder(sim)
        HistoryInvariants.checkAnswered(sim, bound: .seconds(7))
        for channel in Self.channels { HistoryInvariants.checkAnsweredKept(sim, channel: channel, sameEpoch: false) }
    }

    @Test("partitions that cut one node off, short and past the death timeout: no fork", arguments: Array(90...121) as [UInt64])
    func partitions(seed: UInt64) {
        let sim = settled(config(nodes: 3, seed: seed))
        var random = Membership.SeededRandom(seed: seed)
        for round in 0..<3 {
            let cut = (Int(seed) + round) % 3
            sim.partition([cut])
            emitFlow(sim, &random, count: 30, every: .milliseconds(round == 0 ? 10 : 150))
            sim.heal()
            sim.run(for: .seconds(6))
        }
        emitFlow(sim, &random, count: 30, every: .milliseconds(10))
        sim.run(for: .seconds(8))
        checkAll(sim, sameEpoch: false)
    }

    @Test("owner and backup lost together: the next owner starts a new epoch")
    func ownerAndBackupLost() {
        let sim = settled(config(nodes: 4, seed: 21))
        for _ in 0..<10 {
            sim.historyEmit(from: 0, to: "chat")
            sim.run(for: .milliseconds(10))
        }
        sim.run(for: .seconds(1))
        let ranking = sim.nodes[0].instance.historyRanking("chat")
        let owner = sim.nodes.firstIndex { $0.name == ranking[0] }!
        let backup = sim.nodes.firstIndex { $0.name == ranking[1] }!
        let before = sim.nodes[owner].instance.historyStream("chat")!.epoch
        sim.crash(owner)
        sim.crash(backup)
        sim.run(for: .seconds(8))
        let survivor = sim.nodes.indices.first { $0 != owner && $0 != backup }!
        sim.historyEmit(from: survivor, to: "chat")
        sim.run(for: .seconds(2))
        guard case .appended(let epoch, let offset, _) = sim.historyEmits.last?.outcome else {
            Issue.record("emit after the double loss: \(String(describing: sim.historyEmits.last?.outcome))")
            return
        }
        #expect(epoch != before)
        #expect(offset == 1)
        sim.historyRead(from: survivor, "chat", after: 10)
        sim.run(for: .seconds(1))
        guard case .some(.some(let range)) = sim.historyReads[sim.historyReads.count - 1] else {
            Issue.record("read not answered")
            return
        }
        #expect(!range.canRecover(epoch: before, after: 10))
    }

    @Test("owner and backup copies stay within the ring's size while emits flow", arguments: [41, 42] as [UInt64])
    func copiesStayBounded(seed: UInt64) {
        var config = config(nodes: 3, seed: seed)
        config.settings.history.size = 20
        let sim = settled(config)
        var random = Membership.SeededRandom(seed: seed)
        emitFlow(sim, &random, count: 300, every: .milliseconds(2))
        sim.run(for: .seconds(2))
        HistoryInvariants.checkBounded(sim, size: 20)
        HistoryInvariants.checkNoFork(sim)
        let copies = sim.nodes.indices.filter { sim.nodes[$0].instance.historyStream("chat") != nil }
        #expect(copies.count >= 2, "chat is kept on \(copies)")
    }

    @Test("a read after N returns exactly the released messages after N, from any node")
    func readsAfterOffset() {
        let sim = settled(config(nodes: 3, seed: 31))
        for i in 0..<20 {
            sim.historyEmit(from: i % 3, to: "news")
            sim.run(for: .milliseconds(5))
        }
        sim.run(for: .seconds(1))
        for reader in 0..<3 { sim.historyRead(from: reader, "news", after: 12) }
        sim.run(for: .seconds(1))
        for number in 0..<3 {
            guard case .some(.some(let range)) = sim.historyReads[number] else {
                Issue.record("read \(number) not answered")
                continue
            }
            #expect(range.top == 20)
            #expect(range.entries.map(\.offset) == Array(13...20))
            #expect(range.canRecover(epoch: range.epoch, after: 12))
        }
        HistoryInvariants.checkNoFork(sim)
    }
}
