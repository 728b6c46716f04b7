import Testing

@testable import ClusterCore

/// Seeded simulations of the cluster layer: many `Cluster.Instance`s on a simulated mesh.
@Suite("Cluster simulation")
struct ClusterSimulationTests {
    /// Every node subscribes `chat` and the cluster settles.
    private func settledCluster(_ config: ClusterSimulation.Config) -> ClusterSimulation {
        let sim = ClusterSimulation(config)
        sim.start()
        sim.run(for: .seconds(3))
        for i in sim.nodes.indices { sim.subscribe(i, "chat") }
        sim.run(for: .seconds(2))
        return sim
    }

    /// No emit is delivered twice to a node, and a sender's emits reach each node in the order they were made.
    private func checkDeliveries(_ sim: ClusterSimulation) {
        for (receiver, log) in sim.deliveries.enumerated() {
            #expect(Set(log.map(\.emit)).count == log.count, "node \(receiver) got an emit twice")
            for sender in sim.nodes.indices {
                let fromSender = log.filter { $0.sender == sender }.map(\.emit)
                #expect(fromSender == fromSender.sorted(), "node \(receiver) got node \(sender)'s emits out of order")
            }
        }
    }

    /// Every emit completed within the forward timeout, with counts only from nodes that really delivered it.
    private func checkEmits(_ sim: ClusterSimulation, timeout: Duration) {
        for (number, emit) in sim.emits.enumerated() {
            guard let completedAt = emit.completedAt else {
                Issue.record("emit \(number) never completed")
                continue
            }
            #expect(completedAt - emit.at <= timeout + .milliseconds(20), "emit \(number) took \(completedAt - emit.at)")
            for count in emit.counts {
                let receiver = sim.nodes.firstIndex { $0.name == count.node }!
                #expect(count.count == 1 && sim.deliveries[receiver].contains { $0.emit == number }, "emit \(number): \(count) not delivered")
            }
        }
    }

    @Test("forwards and acks under a mesh that drops frames: at most once, in order, every emit answered", arguments: [1, 2, 3] as [UInt64])
    func forwardsUnderDrops(seed: UInt64) {
        var config = ClusterSimulation.Config(nodes: 4, seed: seed)
        config.dropRate = 0.05
        let sim = settledCluster(config)
        var senderRandom = Membership.SeededRandom(seed: seed)
        for _ in 0..<200 {
            sim.emit(from: Int(senderRandom.next() % 4), to: "chat")
            sim.run(for: .milliseconds(5))
        }
        sim.run(for: .seconds(3))
        checkDeliveries(sim)
        checkEmits(sim, timeout: config.settings.forwardTimeout)
        let delivered = sim.deliveries.reduce(0) { $0 + $1.count }
        #expect(sim.dropped > 0)
        #expect(delivered >= 200 * 3 * 80 / 100, "only \(delivered) of 600 deliveries")
        #expect(delivered <= 200 * 3)
        #expect(sim.pendingRequests == 0)
    }

    @Test("without loss every emit reaches every other subscribed node and counts them all")
    func forwardsWithoutLoss() {
        let sim = settledCluster(.init(nodes: 5, seed: 7))
        for i in 0..<50 {
            sim.emit(from: i % 5, to: "chat")
            sim.emit(from: i % 5, to: nil)
            sim.run(for: .milliseconds(3))
        }
        sim.run(for: .seconds(1))
        checkDeliveries(sim)
        checkEmits(sim, timeout: .milliseconds(50))
        for emit in sim.emits {
            #expect(emit.counts.map(\.node).sorted() == sim.nodes.indices.filter { $0 != emit.sender }.map { "n\($0)" })
        }
    }

    @Test("emits made while a link is down wait in the outbox and arrive in order once it is back")
    func outboxAcrossLinkFlap() {
        let sim = settledCluster(.init(nodes: 3, seed: 11))
        sim.breakLink(0, 1)
        var numbers: [Int] = []
        for _ in 0..<10 {
            numbers.append(sim.emit(from: 0, to: "chat"))
            sim.run(for: .milliseconds(10))
        }
        #expect(!sim.deliveries[1].contains { numbers.contains($0.emit) })
        sim.restoreLink(0, 1, after: .milliseconds(200))
        sim.run(for: .seconds(3))
        #expect(sim.deliveries[1].filter { $0.sender == 0 }.map(\.emit).suffix(10) == numbers[...])
        for number in numbers {
            #expect(sim.emits[number].counts.map(\.node).sorted() == ["n1", "n2"], "emit \(number): \(sim.emits[number].counts)")
        }
        #expect(sim.counters[.forwardsDropped, default: 0] == 0)
        checkDeliveries(sim)
    }

    @Test("emits to a node whose link stays down past the forward timeout are given up and counted")
    func outboxExpiry() {
        let sim = settledCluster(.init(nodes: 3, seed: 13))
        sim.breakLink(0, 1)
        let number = sim.emit(from: 0, to: "chat")
        sim.run(for: .seconds(3))
        #expect(sim.emits[number].counts.map(\.node) == ["n2"])
        #expect(!sim.deliveries[1].contains { $0.emit == number })
        #expect(sim.counters[.forwardsDropped, default: 0] == 1)
    }

    @Test("every first subscriber is answered, within the visibility timeout", arguments: [0, 0.05])
    func visibilityWaiters(dropRate: Double) {
        var config = ClusterSimulation.Config(nodes: 5, seed: 5)
        config.dropRate = dropRate
        let sim = ClusterSimulation(config)
        sim.start()
        sim.run(for: .seconds(3))
        for channel in ["a", "b", "c", "d"] {
            for i in sim.nodes.indices { sim.subscribe(i, "\(channel)\(i % 2)") }
            sim.run(for: .milliseconds(50))
        }
        sim.run(for: .seconds(2))
        #expect(sim.pendingRequests == 0)
        #expect(sim.visibilityWaits.count == 20)
        #expect(sim.visibilityWaits.allSatisfy { $0 <= config.settings.visibilityTimeout + .milliseconds(10) })
        if dropRate == 0 { #expect(sim.visibilityWaits.allSatisfy { $0 < .milliseconds(50) }) }
    }

    @Test("a restarted node is reached again once it subscribes; emits meanwhile are answered without it")
    func nodeRestart() {
        let sim = settledCluster(.init(nodes: 3, seed: 17))
        sim.crash(2)
        sim.run(for: .milliseconds(100))
        let during = sim.emit(from: 0, to: "chat")
        sim.run(for: .seconds(10))
        #expect(sim.emits[during].completedAt != nil)
        #expect(!sim.emits[during].counts.contains { $0.node == "n2" })
        #expect(!sim.isActive("n2", seenBy: 0))
        sim.restart(2, incarnation: 2_000)
        sim.run(for: .seconds(3))
        #expect(sim.isActive("n2", seenBy: 0))
        sim.subscribe(2, "chat")
        sim.run(for: .seconds(1))
        let after = sim.emit(from: 0, to: "chat")
        sim.run(for: .seconds(1))
        #expect(sim.emits[after].counts.map(\.node).sorted() == ["n1", "n2"])
        #expect(sim.pendingRequests == 0)
        checkDeliveries(sim)
    }

    @Test("the same seed gives the same run")
    func deterministic() {
        func run() -> [[Int]] {
            var config = ClusterSimulation.Config(nodes: 4, seed: 21)
            config.dropRate = 0.1
            let sim = settledCluster(config)
            for i in 0..<40 {
                sim.emit(from: i % 4, to: "chat")
                sim.run(for: .milliseconds(2))
            }
            sim.run(for: .seconds(3))
            return sim.deliveries.map { $0.map(\.emit) }
        }
        #expect(run() == run())
    }
}
