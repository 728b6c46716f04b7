import Testing

@testable import ClusterCore

/// Deterministic multi-node simulations of the membership protocol (seeded, simulated time: no wall clock).
/// Measured figures are printed with a `[membership-sim]` prefix.
@Suite struct MembershipSimulationTests {
    struct Scenario: Sendable, CustomStringConvertible {
        var nodes: Int
        var loss: Double
        var description: String { "n=\(nodes) loss=\(Int(loss * 100))%" }
    }

    static let scenarios: [Scenario] = [3, 10, 50, 100].flatMap { n in
        [0, 0.05, 0.2].map { Scenario(nodes: n, loss: $0) }
    }

    /// Join through one seed, converge, run steady, crash one node, detect it, converge again.
    @Test(arguments: scenarios)
    func joinSteadyStateAndCrash(_ scenario: Scenario) {
        let sim = MembershipSimulation(.init(nodes: scenario.nodes, loss: scenario.loss, seed: UInt64(scenario.nodes)))
        sim.startAllJoiningThroughSeed()
        let converged = sim.run(for: .seconds(30)) { sim.activeViewsAgree() }
        let strictlyConverged = sim.run(for: .seconds(5)) { sim.aliveViewsAgree() }.map { $0 + converged! }

        let steady: Duration = .seconds(5)
        let sentBefore = sim.messagesSent
        let steadyStart = sim.now
        sim.run(until: sim.now + steady)
        let perNodePerPeriod = Double(sim.messagesSent - sentBefore) / Double(scenario.nodes) / 25
        let steadyFalsePositives = sim.falsePositives(since: steadyStart)

        let victim = scenario.nodes - 1
        sim.crash(victim)
        let detection = sim.run(for: .seconds(20), step: .milliseconds(10)) { sim.everyoneSees(victim, as: .dead) }
        let reconverged = sim.run(for: .seconds(20), step: .milliseconds(100)) { sim.activeViewsAgree() }

        print(
            "[membership-sim] \(scenario): join converged \(fmt(converged)) (all alive: \(fmt(strictlyConverged))); "
                + "steady: \(fmt(perNodePerPeriod)) msgs/node/period, \(steadyFalsePositives) false dead; "
                + "crash dead on all after \(fmt(detection)); false dead verdicts in total: \(sim.falsePositives())"
        )
        #expect(converged != nil && converged! <= .seconds(3))
        #expect(detection != nil)
        #expect(reconverged != nil)
        if scenario.loss <= 0.05 {
            #expect(strictlyConverged != nil)
            #expect(sim.falsePositives() == 0)
            #expect(detection! <= (scenario.nodes <= 10 ? .seconds(3) : .seconds(4)))
        } else {
            #expect(detection! <= .seconds(8))
        }
    }

    /// The 3 s bound without the disconnect hint (a crashed machine, not a crashed process), several seeds.
    @Test(arguments: [0, 0.05])
    func threeNodeCrashWithoutHintsIsDeadWithin3s(loss: Double) {
        var worst: Duration = .zero
        for seed in UInt64(1)...8 {
            let sim = MembershipSimulation(.init(nodes: 3, loss: loss, seed: seed, disconnectHints: false))
            sim.startAllJoiningThroughSeed()
            sim.run(until: .seconds(2) + .milliseconds(Int64(seed) * 37))
            let victim = Int(seed % 3)
            sim.crash(victim)
            let detection = sim.run(for: .seconds(10), step: .milliseconds(10)) { sim.everyoneSees(victim, as: .dead) }
            #expect(detection != nil && detection! <= .seconds(3), "seed \(seed): \(fmt(detection))")
            worst = max(worst, detection ?? .seconds(99))
            #expect(sim.falsePositives() == 0)
        }
        print("[membership-sim] n=3 loss=\(Int(loss * 100))% no disconnect hint: worst crash detection over 8 seeds \(fmt(worst))")
    }

    /// A leaving node is `left` everywhere within 1 s and never probed again.
    @Test(arguments: [Scenario(nodes: 3, loss: 0), Scenario(nodes: 10, loss: 0.05), Scenario(nodes: 50, loss: 0.2)])
    func leaveIsSeenWithin1sAndNeverProbedAgain(_ scenario: Scenario) {
        let sim = MembershipSimulation(.init(nodes: scenario.nodes, loss: scenario.loss, seed: 7))
        sim.startAllJoiningThroughSeed()
        _ = sim.run(for: .seconds(10)) { sim.activeViewsAgree() }
        sim.run(until: sim.now + .seconds(2))
        let leaver = 1
        let name = sim.nodes[leaver].name
        sim.leave(leaver)
        let seen = sim.run(for: .seconds(5), step: .milliseconds(5)) { sim.everyoneSees(leaver, as: .left) }
        // The shell keeps the leaver up for a moment, then it exits.
        sim.run(until: sim.now + .milliseconds(400))
        sim.crash(leaver)
        let probesAtExit = sim.probesSent[name, default: 0]
        sim.run(until: sim.now + .seconds(10))
        print(
            "[membership-sim] \(scenario): leave seen as left on all after \(fmt(seen)); "
                + "probes of the leaver after it left and exited: \(sim.probesSent[name, default: 0] - probesAtExit)"
        )
        #expect(seen != nil && seen! <= .seconds(1))
        #expect(sim.probesSent[name, default: 0] == probesAtExit)
        #expect(sim.everyoneSees(leaver, as: .left))
        if scenario.loss <= 0.05 { #expect(sim.falsePositives() == 0) }
    }

    /// Split 10 nodes 5/5: each side declares the other dead; after healing they merge again, also when the
    /// partition outlasted the reap timeout (30 s: the other side is then only remembered by tombstones).
    @Test(arguments: [(0, Duration.seconds(15)), (0.05, .seconds(15)), (0.05, .seconds(45))])
    func partitionHeals(loss: Double, lasting: Duration) {
        let sim = MembershipSimulation(.init(nodes: 10, loss: loss, seed: 11))
        sim.startAllJoiningThroughSeed()
        _ = sim.run(for: .seconds(10)) { sim.aliveViewsAgree() }
        sim.partition { $0 < 5 ? 1 : 2 }
        func sees(_ observers: Range<Int>, _ others: Range<Int>, as state: Membership.MemberState) -> Bool {
            observers.allSatisfy { i in
                others.allSatisfy { sim.nodes[i].instance.member(named: sim.nodes[$0].name)?.state == state }
            }
        }
        let split = sim.run(for: .seconds(15), step: .milliseconds(50)) {
            sees(0..<5, 5..<10, as: .dead) && sees(5..<10, 0..<5, as: .dead)
        }
        sim.run(until: sim.now + lasting - (split ?? .zero))
        sim.heal()
        let healed = sim.run(for: .seconds(30), step: .milliseconds(100)) { sim.aliveViewsAgree() }
        print(
            "[membership-sim] partition 5/5 for \(fmt(lasting)) loss=\(Int(loss * 100))%: sides saw each other dead after \(fmt(split)); "
                + "after healing all alive again in \(fmt(healed))"
        )
        #expect(split != nil)
        #expect(healed != nil && healed! <= .seconds(15))
    }

    /// A crashed node restarts under the same name with a fresh, higher incarnation: alive again at once,
    /// whether or not the others had already declared it dead.
    @Test(arguments: [Duration.milliseconds(300), .seconds(6)])
    func restartWithSameNameRejoinsAtOnce(downFor: Duration) {
        let sim = MembershipSimulation(.init(nodes: 10, loss: 0.05, seed: 5))
        sim.startAllJoiningThroughSeed()
        _ = sim.run(for: .seconds(10)) { sim.aliveViewsAgree() }
        sim.run(until: sim.now + .seconds(1))
        let restarted = 6
        sim.crash(restarted)
        sim.run(until: sim.now + downFor)
        let wasDead = sim.everyoneSees(restarted, as: .dead)
        let restartAt = sim.now
        sim.restart(restarted, incarnation: 1_000_000)
        let rejoined = sim.run(for: .seconds(10), step: .milliseconds(10)) {
            sim.aliveViewsAgree() && sim.runningIndices.allSatisfy {
                sim.nodes[$0].instance.member(named: sim.nodes[restarted].name)!.incarnation >= 1_000_000
            }
        }
        sim.run(until: sim.now + .seconds(5))
        let deadAfterRestart = sim.changes.filter {
            $0.time >= restartAt && $0.change.newState == .dead && $0.change.member.incarnation >= 1_000_000
        }.count
        print(
            "[membership-sim] restart after \(fmt(downFor)) down (declared dead before: \(wasDead)): "
                + "alive everywhere with the new incarnation after \(fmt(rejoined))"
        )
        #expect(rejoined != nil && rejoined! <= .seconds(1))
        #expect(deadAfterRestart == 0)
        #expect(sim.aliveViewsAgree())
    }

    /// Probe traffic per node per protocol period does not grow with the cluster size.
    @Test func messagesPerNodeDoNotGrowWithClusterSize() {
        func measure(_ n: Int) -> Double {
            let sim = MembershipSimulation(.init(nodes: n, loss: 0.05, seed: 3))
            sim.startAllJoiningThroughSeed()
            _ = sim.run(for: .seconds(10)) { sim.aliveViewsAgree() }
            sim.run(until: sim.now + .seconds(1))
            let before = sim.messagesSent
            sim.run(until: sim.now + .seconds(6))
            return Double(sim.messagesSent - before) / Double(n) / 30
        }
        let small = measure(10)
        let large = measure(100)
        print("[membership-sim] msgs/node/period at 5% loss: n=10 \(fmt(small)), n=100 \(fmt(large))")
        #expect(large <= small * 1.25)
        #expect(large < 4)
    }

    /// Same seed, same inputs: the same run.
    @Test func simulationIsDeterministic() {
        func run() -> (Int, Int) {
            let sim = MembershipSimulation(.init(nodes: 20, loss: 0.2, seed: 42, encodeMessages: true))
            sim.startAllJoiningThroughSeed()
            sim.run(until: .seconds(4))
            sim.crash(3)
            sim.run(until: .seconds(8))
            return (sim.messagesSent, sim.changes.count)
        }
        let a = run()
        let b = run()
        #expect(a == b)
    }
}

func fmt(_ d: Duration?) -> String {
    guard let d else { return "never" }
    let ms = Int(d.components.seconds) * 1000 + Int(d.components.attoseconds / 1_000_000_000_000_000)
    return "\(ms) ms (\((ms + 199) / 200) periods)"
}

func fmt(_ value: Double) -> String {
    let scaled = Int((value * 100).rounded())
    return "\(scaled / 100).\(scaled % 100 < 10 ? "0" : "")\(scaled % 100)"
}
