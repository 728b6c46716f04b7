import ClusterCore
import Foundation
import RocketWSClient
import RocketWSTestKit
import Testing

/// A measurement, not a check (it asserts nothing about time): `HISTORY_RECOVERY_RUNS=5 swift test --filter
/// HistoryRecoveryMeasurement` kills the owner of a channel while emits flow and times how long a client of the
/// killed node takes from the kill to its `recovered: true` answer on a survivor; prints each run and the median.
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["HISTORY_RECOVERY_RUNS"] != nil))
struct HistoryRecoveryMeasurement {
    @Test(.timeLimit(.minutes(10))) func recoveryTimeAfterKillingTheOwner() async throws {
        let runs = Int(ProcessInfo.processInfo.environment["HISTORY_RECOVERY_RUNS"] ?? "") ?? 5
        var times: [Duration] = []
        for run in 1...runs {
            let cluster = try await TestCluster.start(count: 3, arguments: HistoryTests.arguments)
            defer { cluster.killAll() }
            // A channel that n1 owns: its death moves the stream to the backup.
            let channel = (0...).lazy.map { "recovery-\(run)-\($0)" }.first { Rendezvous.order(channel: $0, members: ["n1", "n2", "n3"]).first == "n1" }!
            let recorder = try await HistoryRecorder.start(port: cluster.node(1).wsPort, channel: channel)
            let epoch = try #require(recorder.answer["epoch"]?.stringValue)
            let emitter = HistoryEmitter(port: cluster.node(2).msPort, channel: channel)
            emitter.start()
            try await Task.sleep(for: .seconds(2))
            let killedAt = ContinuousClock.now
            cluster.node(1).kill9()
            let last = recorder.messages.last?.offset ?? 0
            await recorder.stop()
            let back = try await HistoryRecorder.start(port: cluster.node(3).wsPort, channel: channel, recover: (epoch, last))
            let took = ContinuousClock.now - killedAt
            await emitter.stop()
            await back.stop()
            #expect(back.answer["recovered"]?.boolValue == true, "\(back.answer)")
            times.append(took)
            print("history recovery run \(run): \(took) (recovered from offset \(last), \(emitter.refusals) emits refused meanwhile)")
        }
        let sorted = times.sorted()
        print("history recovery after kill -9 of the owner: median \(sorted[sorted.count / 2]) of \(runs) runs \(sorted)")
    }
}
