import Testing

@testable import ClusterCore

@Suite struct InterestSimulationTests {
    struct Scenario: CustomTestStringConvertible, Sendable {
        var nodes: Int
        var loss: Double
        var channels: Int
        var restart: Bool
        var safetyCheckEvery: Int
        var membership = false
        var testDescription: String {
            "\(self.nodes) nodes, \(Int(self.loss * 100))% loss\(self.restart ? ", restart" : "")"
                + (self.membership ? ", membership follows partition" : "")
        }
    }

    static let scenarios: [Scenario] =
        [3, 10, 50].flatMap { nodes in
            [0.0, 0.05, 0.20].map { loss in
                Scenario(
                    nodes: nodes,
                    loss: loss,
                    channels: nodes == 50 ? 200 : 60,
                    restart: nodes == 10,
                    safetyCheckEvery: nodes == 50 ? 10 : 1
                )
            }
        } + [Scenario(nodes: 10, loss: 0.05, channels: 60, restart: false, safetyCheckEvery: 1, membership: true)]

    @Test(arguments: Self.scenarios)
    func convergesAfterHealing(_ scenario: Scenario) {
        var config = InterestSimulation.Config(
            nodes: scenario.nodes,
            seed: UInt64(scenario.nodes) &* 1_000_003 &+ UInt64(scenario.loss * 100),
            loss: scenario.loss,
            channels: scenario.channels
        )
        config.safetyCheckEvery = scenario.safetyCheckEvery
        if scenario.restart { config.restart = (node: 1, tick: 30) }
        config.membershipFollowsPartition = scenario.membership
        if scenario.nodes == 50 { config.churnPerNode = 0.2 }
        var simulation = InterestSimulation(config)
        let converged = simulation.run()
        print("interest sim \(scenario.testDescription): \(simulation.figures)")
        #expect(converged, "not converged within \(config.maxRepairRounds) digest rounds")
        // Repair needs a digest, a sync request and a snapshot chunk to get through, retried every
        // second round; with 20 % loss and 2,450 owner/peer pairs the slowest pair takes ~20 rounds.
        #expect(simulation.figures.repairRounds <= (scenario.loss > 0.1 ? 30 : 12))
        #expect(simulation.violations.isEmpty, "visibility violated: \(simulation.violations.prefix(5))")
        #expect(simulation.figures.maxMessageBytes <= InterestTable.Settings().maxBytesPerMessage)
    }

    @Test func sameSeedSameRun() {
        var config = InterestSimulation.Config(nodes: 5, seed: 99, loss: 0.1, channels: 30)
        config.churnTicks = 30
        config.partition = 5..<15
        var first = InterestSimulation(config)
        var second = InterestSimulation(config)
        #expect(first.run() && second.run())
        #expect(first.figures.messages == second.figures.messages)
        #expect(first.figures.repairRounds == second.figures.repairRounds)
    }
}
