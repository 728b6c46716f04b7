import ClusterCore
import Foundation
import RocketWSClient
import RocketWSTestKit
import Testing

/// History and recovery across real node processes (started unprivileged): crashes, graceful leaves, joins,
/// the loss of owner and backup together, and a recovery racing live emits.
@Suite(.serialized) struct HistoryTests {
    static let arguments = ["--history-size", "10000"]

    /// Checks what a client that recovered saw: one epoch, offsets 1...top without a gap or a repeat, and every
    /// answered emit at its offset.
    private func checkComplete(_ seen: [HistoryRecorder.Seen], epoch: String, answered: [HistoryEmitter.Answered], sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(Set(seen.map(\.epoch)) == [epoch], "epochs seen: \(Set(seen.map(\.epoch)))", sourceLocation: sourceLocation)
        let offsets = seen.map(\.offset)
        #expect(offsets == Array(1...max(1, offsets.count)), "offsets not 1...n once each: \(Self.gaps(offsets))", sourceLocation: sourceLocation)
        let byOffset = Dictionary(seen.map { ($0.offset, $0.k) }, uniquingKeysWith: { a, _ in a })
        for answer in answered {
            #expect(answer.epoch == epoch, "emit k=\(answer.k) answered in \(answer.epoch)", sourceLocation: sourceLocation)
            #expect(byOffset[answer.offset] == answer.k, "answered k=\(answer.k) at \(answer.offset), seen \(String(describing: byOffset[answer.offset]))", sourceLocation: sourceLocation)
        }
    }

    private static func gaps(_ offsets: [Int]) -> String {
        var notes: [String] = []
        for (a, b) in zip(offsets, offsets.dropFirst()) where b != a + 1 { notes.append("\(a)->\(b)") }
        return "\(offsets.count) offsets, jumps \(notes.prefix(10))"
    }

    @Test(.timeLimit(.minutes(4))) func killEachNodeInTurnWhileEmitsFlowAndRecoverOnASurvivor() async throws {
        let cluster = try await TestCluster.start(count: 3, arguments: Self.arguments)
        defer { cluster.killAll() }
        var failed = true
        defer { if failed { cluster.dumpLogs() } }
        let channel = "crash-history"
        var seen: [HistoryRecorder.Seen] = []
        var epoch = ""
        var recorder = try await HistoryRecorder.start(port: cluster.node(1).wsPort, channel: channel)
        epoch = try #require(recorder.answer["epoch"]?.stringValue)
        #expect(recorder.answer["offset"]?.intValue == 0)
        let emitter = HistoryEmitter(port: cluster.node(2).msPort, channel: channel)
        emitter.start()
        for victim in 1...3 {
            // The client sits on the victim; the emits go to another node.
            let survivor = victim % 3 + 1
            emitter.switchTo(port: cluster.node(survivor).msPort)
            if victim != 1 {
                recorder = try await HistoryRecorder.start(port: cluster.node(victim).wsPort, channel: channel, recover: (epoch, seen.last?.offset ?? 0))
                #expect(recorder.answer["recovered"]?.boolValue == true, "\(recorder.answer)")
            }
            try await Task.sleep(for: .seconds(1))
            cluster.node(victim).kill9()
            seen += recorder.messages
            await recorder.stop()
            try await Task.sleep(for: .milliseconds(500))
            // A client of the dead node comes back on a survivor, from what it saw last.
            let back = try await HistoryRecorder.start(port: cluster.node(survivor).wsPort, channel: channel, recover: (epoch, seen.last?.offset ?? 0))
            #expect(back.answer["recovered"]?.boolValue == true, "recover after killing n\(victim): \(back.answer)")
            #expect(back.answer["epoch"]?.stringValue == epoch)
            try await Task.sleep(for: .seconds(2))
            seen += back.messages
            await back.stop()
            try await cluster.startNode(victim, arguments: Self.arguments)
            #expect(await cluster.waitForAlive(3))
        }
        await emitter.stop()
        let final = try await HistoryRecorder.start(port: cluster.node(1).wsPort, channel: channel, recover: (epoch, seen.last?.offset ?? 0))
        #expect(final.answer["recovered"]?.boolValue == true, "\(final.answer)")
        try await Task.sleep(for: .seconds(1))
        seen += final.messages
        await final.stop()
        checkComplete(seen, epoch: epoch, answered: emitter.answers)
        #expect(emitter.answers.count >= 100, "only \(emitter.answers.count) emits answered, \(emitter.refusals) refused")
        failed = false
    }

    @Test(.timeLimit(.minutes(3))) func sigtermAndAJoinMoveOwnershipWithTheSameEpoch() async throws {
        let cluster = try await TestCluster.start(count: 3, arguments: Self.arguments)
        defer { cluster.killAll() }
        var failed = true
        defer { if failed { cluster.dumpLogs() } }
        // Channels owned by each node, so that whichever node leaves, some channel moves.
        let channels = (0..<9).map { "moving-\($0)" }
        var epochs: [String: String] = [:]
        var answered: [String: [HistoryEmitter.Answered]] = [:]
        func emitRound(through node: Int, _ k: Int) async throws {
            for channel in channels {
                let emitter = HistoryEmitter(port: cluster.node(node).msPort, channel: channel)
                #expect(await emitter.emit(k), "emit to \(channel) through n\(node)")
                answered[channel, default: []] += emitter.answers
            }
        }
        try await emitRound(through: 1, 1)
        for channel in channels { epochs[channel] = answered[channel]?.first?.epoch }
        // A graceful leave: the owner hands its channels over.
        cluster.node(3).signal()
        #expect(await cluster.node(3).waitForExit() == 0)
        try await emitRound(through: 2, 2)
        // A join that moves channels back.
        try await cluster.startNode(3, arguments: Self.arguments)
        #expect(await cluster.waitForAlive(3))
        try await emitRound(through: 3, 3)
        cluster.node(1).signal()
        #expect(await cluster.node(1).waitForExit() == 0)
        try await emitRound(through: 2, 4)
        for channel in channels {
            let history = try await cluster.backend(2).call(method: "history", params: ["channel": .string(channel)])
            #expect(history["epoch"]?.stringValue == epochs[channel], "\(channel): \(history)")
            let messages = history["messages"]?.arrayValue ?? []
            #expect(messages.map { $0["offset"]?.intValue ?? 0 } == [1, 2, 3, 4], "\(channel): \(history)")
            #expect(messages.map { $0["data"]?["k"]?.intValue ?? 0 } == [1, 2, 3, 4], "\(channel): \(history)")
            #expect(answered[channel]?.allSatisfy { $0.epoch == epochs[channel] } == true)
        }
        failed = false
    }

    @Test(.timeLimit(.minutes(3))) func ownerAndBackupKilledTogetherGiveANewEpochAndRecoveredFalse() async throws {
        let cluster = try await TestCluster.start(count: 4, arguments: Self.arguments)
        defer { cluster.killAll() }
        var failed = true
        defer { if failed { cluster.dumpLogs() } }
        let channel = "lost-history"
        let ranking = Rendezvous.order(channel: channel, members: (1...4).map { "n\($0)" })
        let owner = Int(ranking[0].dropFirst())!
        let backup = Int(ranking[1].dropFirst())!
        let survivors = (1...4).filter { $0 != owner && $0 != backup }
        let emitter = HistoryEmitter(port: cluster.node(survivors[0]).msPort, channel: channel)
        for k in 1...10 { #expect(await emitter.emit(k)) }
        let before = try #require(emitter.answers.first?.epoch)
        cluster.node(owner).kill9()
        cluster.node(backup).kill9()
        #expect(await cluster.waitForAlive(2, among: survivors))
        let client = try await HistoryRecorder.start(port: cluster.node(survivors[1]).wsPort, channel: channel, recover: (before, 10))
        defer { Task { await client.stop() } }
        #expect(client.answer["recovered"]?.boolValue == false, "\(client.answer)")
        let after = try #require(client.answer["epoch"]?.stringValue)
        #expect(after != before)
        #expect(await emitter.emit(11))
        #expect(emitter.answers.last?.epoch == after)
        #expect(emitter.answers.last?.offset == 1)
        #expect(await eventually(timeout: .seconds(5)) { client.messages.map(\.k) == [11] })
        let metrics = try await cluster.backend(survivors[1]).get(path: "/metrics").text
        #expect(metrics.contains("rocketws_recoveries_total{recovered=\"false\"} 1"), "\(metrics.split(separator: "\n").filter { $0.contains("recover") })")
        failed = false
    }

    @Test(.timeLimit(.minutes(3))) func aRecoverRacingLiveEmitsSeesEachOffsetExactlyOnce() async throws {
        let cluster = try await TestCluster.start(count: 3, arguments: Self.arguments)
        defer { cluster.killAll() }
        var failed = true
        defer { if failed { cluster.dumpLogs() } }
        let channel = "racing-history"
        let emitters = [HistoryEmitter(port: cluster.node(2).msPort, channel: channel, interval: .milliseconds(2)),
                        HistoryEmitter(port: cluster.node(3).msPort, channel: channel, interval: .milliseconds(2))]
        let first = try await HistoryRecorder.start(port: cluster.node(1).wsPort, channel: channel)
        let epoch = try #require(first.answer["epoch"]?.stringValue)
        emitters[0].start(from: 1)
        emitters[1].start(from: 1_000_000)
        var seen: [HistoryRecorder.Seen] = []
        // Four times: leave, miss a little, come back on another node while the emits go on.
        var port = cluster.node(1).wsPort
        var current = first
        for round in 0..<4 {
            try await Task.sleep(for: .milliseconds(400))
            seen += current.messages
            await current.stop()
            try await Task.sleep(for: .milliseconds(200))
            port = cluster.node(round % 3 + 1).wsPort
            current = try await HistoryRecorder.start(port: port, channel: channel, recover: (epoch, seen.last?.offset ?? 0))
            #expect(current.answer["recovered"]?.boolValue == true, "\(current.answer)")
        }
        for emitter in emitters { await emitter.stop() }
        let top = emitters.flatMap(\.answers).map(\.offset).max() ?? 0
        #expect(await eventually(timeout: .seconds(10)) { (current.messages.last?.offset ?? 0) >= top })
        seen += current.messages
        await current.stop()
        checkComplete(seen, epoch: epoch, answered: emitters.flatMap(\.answers))
        #expect(top >= 200, "only \(top) messages")
        failed = false
    }
}
