import Testing

@testable import ClusterCore

/// Seeded simulations of presence across `Cluster.Instance`s on a simulated mesh (loss, crashes, restarts).
@Suite("Presence simulation")
struct PresenceSimulationTests {
    private func started(_ config: ClusterSimulation.Config) -> ClusterSimulation {
        let sim = ClusterSimulation(config)
        sim.start()
        sim.run(for: .seconds(3))
        return sim
    }

    private func events(_ sim: ClusterSimulation, _ i: Int, user: String) -> [PresenceEvent.Kind] {
        sim.nodes[i].presenceEvents.filter { $0.event.user == user }.map(\.event.kind)
    }

    @Test("a user on two nodes is one member everywhere; closing one keeps them; closing both gives one leave after the hold")
    func userOnTwoNodes() {
        let sim = started(ClusterSimulation.Config(nodes: 3))
        sim.presenceJoin(0, "room", "u", info: #"{"n":1}"#)
        sim.presenceJoin(1, "room", "u", info: #"{"n":1}"#)
        sim.run(for: .milliseconds(200))
        for i in 0..<3 {
            #expect(sim.nodes[i].instance.presenceUserCount(in: "room") == 1)
            #expect(events(sim, i, user: "u") == [.join])
        }
        sim.presenceLeave(0, "room", "u")
        sim.run(for: .seconds(6))
        for i in 0..<3 {
            #expect(sim.nodes[i].instance.presenceUserCount(in: "room") == 1)
            #expect(events(sim, i, user: "u") == [.join])
        }
        sim.presenceLeave(1, "room", "u")
        let left = sim.now
        sim.run(for: .seconds(4))
        for i in 0..<3 {
            #expect(sim.nodes[i].instance.presenceUserCount(in: "room") == 0, "gone from the view at once")
            #expect(events(sim, i, user: "u") == [.join], "no leave before the hold")
        }
        sim.run(for: .seconds(2))
        for i in 0..<3 {
            #expect(events(sim, i, user: "u") == [.join, .leave])
            let leaveAt = sim.nodes[i].presenceEvents.last!.at
            #expect(leaveAt - left >= .seconds(5) && leaveAt - left < .milliseconds(5_100))
        }
    }

    @Test("members come back within the hold (a reconnect storm, also to another node): no leave/join pair anywhere")
    func reconnectStorm() {
        let sim = started(ClusterSimulation.Config(nodes: 3))
        for user in 0..<300 { sim.presenceJoin(user % 3, "room", "u\(user)") }
        sim.run(for: .milliseconds(500))
        let before = (0..<3).map { sim.nodes[$0].presenceEvents.count }
        for user in 0..<300 { sim.presenceLeave(user % 3, "room", "u\(user)") }
        sim.run(for: .seconds(2))
        for user in 0..<300 { sim.presenceJoin((user + 1) % 3, "room", "u\(user)") }
        sim.run(for: .seconds(8))
        for i in 0..<3 {
            #expect(sim.nodes[i].presenceEvents.count == before[i], "node \(i) announced \(sim.nodes[i].presenceEvents.count - before[i]) events")
            #expect(sim.nodes[i].instance.presenceUserCount(in: "room") == 300)
        }
    }

    @Test("a crashed node's users leave everywhere within detection plus the hold; back after its restart")
    func crashAndRestart() {
        let sim = started(ClusterSimulation.Config(nodes: 3))
        sim.presenceJoin(2, "room", "only-on-2")
        sim.presenceJoin(2, "room", "also-on-0")
        sim.presenceJoin(0, "room", "also-on-0")
        sim.run(for: .milliseconds(200))
        let crashedAt = sim.now
        sim.crash(2)
        sim.run(for: .seconds(20))
        for i in 0..<2 {
            #expect(events(sim, i, user: "only-on-2") == [.join, .leave])
            #expect(events(sim, i, user: "also-on-0") == [.join])
            #expect(sim.nodes[i].instance.presenceMembers(of: "room").map(\.user) == ["also-on-0"])
            let leaveAt = sim.nodes[i].presenceEvents.last { $0.event.user == "only-on-2" }!.at
            #expect(leaveAt - crashedAt >= sim.config.settings.presenceHold, "the hold applies to a dead node's users too")
            print("node \(i): leave \(leaveAt - crashedAt) after the crash")
        }
        sim.restart(2, incarnation: 2_000)
        sim.run(for: .seconds(3))
        sim.presenceJoin(2, "room", "only-on-2")
        sim.run(for: .seconds(2))
        for i in 0..<3 { #expect(sim.nodes[i].instance.presenceUserCount(in: "room") == 2, "node \(i)") }
        for i in 0..<2 { #expect(events(sim, i, user: "only-on-2") == [.join, .leave, .join]) }
    }

    @Test("random joins and leaves under a lossy mesh: every view converges to the truth, events alternate", arguments: [1, 2, 3] as [UInt64])
    func lossyChurn(seed: UInt64) {
        var config = ClusterSimulation.Config(nodes: 4, seed: seed)
        config.dropRate = 0.05
        let sim = started(config)
        var random = Membership.SeededRandom(seed: seed &+ 99)
        var connections: [[String: Int]] = Array(repeating: [:], count: 4)  // per node: user -> connections
        for _ in 0..<1_500 {
            let node = Int(random.next() % 4)
            let user = "u\(random.next() % 25)"
            if random.next() % 2 == 0 || connections[node][user, default: 0] == 0 {
                connections[node][user, default: 0] += 1
                sim.presenceJoin(node, "room", user)
            } else {
                connections[node][user]! -= 1
                sim.presenceLeave(node, "room", user)
            }
            sim.run(for: .milliseconds(Int64(random.next() % 20)))
        }
        sim.run(for: .seconds(10))
        let truth = Set(connections.flatMap { $0.filter { $0.value > 0 }.keys })
        #expect(sim.dropped > 0)
        for i in 0..<4 {
            #expect(Set(sim.nodes[i].instance.presenceMembers(of: "room").map(\.user)) == truth, "node \(i)'s view")
            for user in (0..<25).map({ "u\($0)" }) {
                let kinds = events(sim, i, user: user)
                let alternates = kinds.enumerated().allSatisfy { $0.element == ($0.offset % 2 == 0 ? .join : .leave) }
                #expect(alternates, "node \(i), \(user): \(kinds)")
                #expect((kinds.last == .join) == truth.contains(user), "node \(i), \(user): \(kinds)")
            }
        }
    }

    @Test("presence counts come from every node: connections per user summed cluster-wide")
    func counts() {
        let sim = started(ClusterSimulation.Config(nodes: 3))
        sim.presenceJoin(1, "room", "u")
        sim.presenceJoin(1, "room", "u")
        sim.presenceJoin(2, "room", "u")
        sim.presenceJoin(2, "room", "v")
        sim.run(for: .milliseconds(100))
        let id = sim.askPresence(0, .counts(channel: "room", perUser: true))!
        sim.run(for: .milliseconds(100))
        let replies = sim.nodes[0].presenceReplies[id]!
        var perUser: [String: Int] = [:]
        var total = 0
        for case .counts(let connections, let users) in replies {
            total += connections
            for (user, count) in users { perUser[user, default: 0] += count }
        }
        #expect(total == 4)
        #expect(perUser == ["u": 3, "v": 1])
        #expect(sim.nodes[0].instance.presenceUserCount(in: "room") == 2)
    }
}
