import Testing

@testable import ClusterKit

/// Deterministic multi-node simulations of the membership protocol. Figures are printed for the report.
@Suite struct MembershipSimulationTests {
    static let period = Membership.Settings().probeInterval

    static func periods(_ d: Duration?) -> String {
        guard let d else { return "never" }
        let ms = Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15
        return "\(Int(ms)) ms (\(Int((ms / 200).rounded(.up))) periods)"
    }

    struct Scenario: Sendable, CustomStringConvertible {
        var nodes: Int
        var loss: Double
        var description: String { "n=\(nodes) loss=\(Int(loss * 100))%" }
    }

    static let scenarios: [Scenario] = [.init(nodes: 100, loss: 0.2)]
    static let allScenarios: [Scenario] = [
        .init(nodes: 3, loss: 0), .init(nodes: 3, loss: 0.05), .init(nodes: 3, loss: 0.2),
        .init(nodes: 10, loss: 0), .init(nodes: 10, loss: 0.05), .init(nodes: 10, loss: 0.2),
        .init(nodes: 50, loss: 0), .init(nodes: 50, loss: 0.05), .init(nodes: 50, loss: 0.2),
        .init(nodes: 100, loss: 0), .init(nodes: 100, loss: 0.05), .init(nodes: 100, loss: 0.2),
    ]

    /// Join through one seed, converge, run steady, crash one node, detect it.
    @Test(arguments: scenarios)
    func joinSteadyStateAndCrash(_ scenario: Scenario) {
        let sim = MembershipSimulation(.init(nodes: scenario.nodes, loss: scenario.loss, seed: UInt64(scenario.nodes)))
        sim.startAllJoiningThroughSeed()
        let convergence = sim.run(for: .seconds(30)) { sim.aliveViewsAgree() }

        let steady: Duration = .seconds(10)
        let sentBefore = sim.messagesSent
        let steadyStart = sim.now
        sim.run(until: sim.now + steady)
        let perNodePerPeriod = Double(sim.messagesSent - sentBefore) / Double(scenario.nodes) / 50
        let falsePositives = sim.falsePositives(since: steadyStart)

        let victim = scenario.nodes - 1
        sim.crash(victim)
        let detection = sim.run(for: .seconds(20), step: .milliseconds(10)) { sim.everyoneSees(victim, as: .dead) }
        let reconverged = sim.run(for: .seconds(20)) { sim.aliveViewsAgree() }

        print(
            "[membership-sim] \(scenario): join converged in \(Self.periods(convergence)); steady 10 s: "
                + "\(String(format: perNodePerPeriod)) msgs/node/period, false positives \(falsePositives); "
                + "crash detected on all in \(Self.periods(detection)); total false positives \(sim.falsePositives())"
        )
        #expect(convergence != nil)
        #expect(detection != nil)
        if scenario.nodes <= 10 && scenario.loss <= 0.05 {
            #expect(detection! <= .seconds(3))
        }
        if scenario.loss <= 0.05 {
            #expect(sim.falsePositives() == 0)
        }
        #expect(reconverged != nil)
    }
}

private func String(format value: Double) -> String {
    let scaled = (value * 100).rounded()
    return "\(Int(scaled) / 100).\(Int(scaled) % 100 < 10 ? "0" : "")\(Int(scaled) % 100)"
}
