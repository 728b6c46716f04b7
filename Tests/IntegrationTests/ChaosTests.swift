import Foundation
import RocketWSClient
import RocketWSTestKit
import Testing

/// Emits keep flowing into n1 and n2 while n3 is killed, restarted, frozen past the suspicion timeout and
/// thawed: the subscribers on the survivors miss nothing, see nothing twice, and see each emitter in order;
/// the cluster reconverges and the survivors' memory stays bounded.
/// `CHAOS_LOGS=1` prints the three nodes' logs at the end (membership transitions) even when the test passes.
@Suite(.serialized) struct ChaosTests {
    static let channels = ["chaos", "chaos-side"]

    @Test(.timeLimit(.minutes(2))) func survivorsDeliverEveryAcceptedMessageOnceInOrderWhileAPeerFails() async throws {
        let testStarted = ContinuousClock.now
        let cluster = try await TestCluster.start()
        defer {
            cluster.node(3).signal(SIGCONT)
            cluster.killAll()
        }
        var healthy = true
        defer { if !healthy { cluster.dumpLogs() } }
        func check(_ condition: Bool, _ message: @autoclosure () -> String, sourceLocation: SourceLocation = #_sourceLocation) {
            guard !condition else { return }
            healthy = false
            Issue.record(Comment(rawValue: message()), sourceLocation: sourceLocation)
        }

        // Survivors' subscribers: one or both channels each, on n1 and n2.
        let layout: [[String]] = [["chaos"], ["chaos"], ["chaos", "chaos-side"], ["chaos-side"]]
        var survivors: [RecordingSubscriber] = []
        for node in 1...2 {
            for (k, channels) in layout.enumerated() {
                survivors.append(try await RecordingSubscriber.start(name: "n\(node)-s\(k)", port: cluster.node(node).wsPort, channels: channels))
            }
        }
        // n3 also holds subscribers, so that emits are forwarded to the failing node; not asserted on.
        var onN3 = [try await RecordingSubscriber.start(name: "n3-a", port: cluster.node(3).wsPort, channels: Self.channels)]

        let status = [1: cluster.backend(1), 2: cluster.backend(2)].mapValues {
            MessagesSourceClient(endpoint: $0.endpoint, requestTimeout: .seconds(5))
        }
        func n3State(seenBy i: Int) async -> String? { await memberStates(status[i]!)["n3"] }
        /// Polls n1 and n2 until both see n3 in `state`; the time it took, or nil.
        func bothSee(_ state: String, since: ContinuousClock.Instant, timeout: Duration = .seconds(15)) async -> Duration? {
            let ok = await eventually(timeout: timeout) {
                let one = await n3State(seenBy: 1)
                let two = await n3State(seenBy: 2)
                return one == state && two == state
            }
            return ok ? ContinuousClock.now - since : nil
        }

        let rss = RSSSampler()
        rss.start([cluster.node(1), cluster.node(2)])
        let emitters = [
            SequenceEmitter(id: "A", port: cluster.node(1).msPort, channels: Self.channels),
            SequenceEmitter(id: "B", port: cluster.node(2).msPort, channels: Self.channels),
        ]
        for emitter in emitters { emitter.start() }
        try await Task.sleep(for: .seconds(2))

        // 1. kill -9, then restart with the same name.
        let killedAt = ContinuousClock.now
        cluster.node(3).kill9()
        let killDetection = await bothSee("dead", since: killedAt)
        check(killDetection != nil, "kill -9'ed n3 was not declared dead on n1 and n2")
        let restartedAt = ContinuousClock.now
        try await cluster.startNode(3)
        let rejoined = await cluster.waitForAlive(3, timeout: .seconds(20))
        check(rejoined, "restarted n3 did not rejoin")
        let rejoin = ContinuousClock.now - restartedAt
        onN3.append(try await RecordingSubscriber.start(name: "n3-b", port: cluster.node(3).wsPort, channels: Self.channels))
        try await Task.sleep(for: .seconds(1))

        // 2. SIGSTOP past the suspicion timeout (until both survivors declare n3 dead, at least 3 s), then SIGCONT.
        let incarnationBefore = await memberIncarnations(status[1]!)["n3"]
        let stoppedAt = ContinuousClock.now
        cluster.node(3).signal(SIGSTOP)
        let stopDetection = await bothSee("dead", since: stoppedAt)
        check(stopDetection != nil, "SIGSTOP'ed n3 was not declared dead on n1 and n2")
        let frozenFor = ContinuousClock.now - stoppedAt
        if frozenFor < .seconds(3) { try await Task.sleep(for: .seconds(3) - frozenFor) }
        let continuedAt = ContinuousClock.now
        cluster.node(3).signal(SIGCONT)
        let refuted = await cluster.waitForAlive(3, timeout: .seconds(20))
        let refutation = ContinuousClock.now - continuedAt
        if !refuted {
            let views = [await cluster.states(seenBy: 1), await cluster.states(seenBy: 2), await cluster.states(seenBy: 3)]
            check(false, "n3 declared dead while stopped did not come back alive after SIGCONT; n1, n2, n3 see \(views)")
        }
        let incarnationAfter = await memberIncarnations(status[1]!)["n3"]
        check(
            (incarnationAfter ?? 0) > (incarnationBefore ?? .max),
            "n3 is alive again without refuting with a higher incarnation: \(incarnationBefore ?? -1) -> \(incarnationAfter ?? -1)"
        )
        try await Task.sleep(for: .seconds(1))

        // 3. A freeze shorter than the suspicion timeout: at most suspected, then alive again.
        cluster.node(3).signal(SIGSTOP)
        try await Task.sleep(for: .milliseconds(500))
        cluster.node(3).signal(SIGCONT)
        check(await cluster.waitForAlive(3, timeout: .seconds(20)), "n3 frozen for 500 ms did not come back alive")
        try await Task.sleep(for: .seconds(1))

        // 4. kill -9 and an immediate restart, before the survivors noticed: the new incarnation takes over.
        let bouncedAt = ContinuousClock.now
        cluster.node(3).kill9()
        try await cluster.startNode(3)
        let n3Backend = MessagesSourceClient(endpoint: cluster.backend(3).endpoint, requestTimeout: .seconds(5))
        let bounced = await eventually(timeout: .seconds(20)) {
            guard let incarnation = await memberIncarnations(n3Backend)["n3"] else { return false }
            for i in 1...2 where await memberIncarnations(status[i]!)["n3"] != incarnation { return false }
            return await cluster.waitForAlive(3, timeout: .zero)
        }
        try? await n3Backend.close()
        check(bounced, "n3 killed and restarted at once: n1 and n2 did not take its new incarnation as alive")
        let bounce = ContinuousClock.now - bouncedAt
        onN3.append(try await RecordingSubscriber.start(name: "n3-c", port: cluster.node(3).wsPort, channels: Self.channels))
        try await Task.sleep(for: .seconds(2))

        // Stop emitting; every survivor must catch up with everything accepted.
        for emitter in emitters { await emitter.stop() }
        func complete(_ subscriber: RecordingSubscriber) -> Bool {
            for channel in subscriber.channels {
                for emitter in emitters {
                    let received = Set(subscriber.received(StreamKey(channel: channel, emitter: emitter.id)))
                    if !emitter.accepted(channel).allSatisfy(received.contains) { return false }
                }
            }
            return true
        }
        _ = await eventually(timeout: .seconds(20)) { survivors.allSatisfy(complete) }
        try await Task.sleep(for: .milliseconds(500))  // late duplicates would show up here
        rss.sample([cluster.node(1), cluster.node(2)])
        await rss.stop()

        for emitter in emitters {
            check(emitter.errors.isEmpty, "emits to a healthy node failed: \(emitter.errors.prefix(5))")
        }
        var delivered = 0
        for subscriber in survivors {
            check(subscriber.failure == nil, "\(subscriber.name) stopped reading: \(subscriber.failure ?? "")")
            check(subscriber.strays == 0, "\(subscriber.name) got \(subscriber.strays) unexpected pushes")
            delivered += subscriber.total
            for channel in subscriber.channels {
                for emitter in emitters {
                    let key = StreamKey(channel: channel, emitter: emitter.id)
                    let problems = streamProblems(
                        received: subscriber.received(key),
                        accepted: emitter.accepted(channel),
                        uncertain: emitter.uncertain(channel)
                    )
                    check(problems.isEmpty, "\(subscriber.name) \(key): \(problems.joined(separator: "; "))")
                }
            }
        }

        // Reconverged: every node sees three alive members, and a fresh subscriber on n3 gets new emits from both.
        check(await cluster.waitForAlive(3, timeout: .seconds(10)), "not 3 alive everywhere at the end")
        let fresh = try await cluster.client(3)
        try await fresh.subscribe("after-chaos")
        for (i, node) in [(1, "n1"), (2, "n2")] {
            let result = try await status[i]!.call(method: "emit", params: ["channel": "after-chaos", "data": ["from": .string(node)]])
            check(result == ["emitted": 1, "nodes": 1], "emit from \(node) after reconvergence: \(result)")
            let got = try await fresh.nextMessage(timeout: .seconds(5))
            check(got?["from"] == .string(node), "fresh subscriber on n3 got \(got.map { "\($0)" } ?? "nothing") for the emit from \(node)")
        }

        // Bounded memory on the survivors.
        var rssLines: [String] = []
        for name in ["n1", "n2"] {
            let summary = try #require(rss.summary(name))
            let growth = summary.peak - summary.first
            rssLines.append("\(name) \(summary.first / 1024) MiB -> peak \(summary.peak / 1024) MiB, end \(summary.last / 1024) MiB")
            check(growth < 64 * 1024, "\(name) RSS grew by \(growth / 1024) MiB")
        }

        let accepted = emitters.map(\.acceptedCount).reduce(0, +)
        var expected = 0
        for subscriber in survivors {
            for channel in subscriber.channels { expected += emitters.map { $0.accepted(channel).count }.reduce(0, +) }
        }
        print(
            """
            chaos: \(accepted) emits accepted (\(emitters.map { "\($0.id): \($0.acceptedCount), uncertain \($0.errors.count), slowest \($0.slowest), fewest emitted \($0.fewestEmitted)" }.joined(separator: "; ")))
            chaos: \(delivered) deliveries to \(survivors.count) survivor subscribers (expected \(expected)); n3 subscribers got \(onN3.map(\.total)) (not asserted)
            chaos: kill -9 -> dead on n1+n2 after \(killDetection.map { "\($0)" } ?? "never"); restart -> 3 alive everywhere after \(rejoin)
            chaos: SIGSTOP -> dead on n1+n2 after \(stopDetection.map { "\($0)" } ?? "never"); SIGCONT -> 3 alive everywhere after \(refutation) (incarnation \(incarnationBefore ?? -1) -> \(incarnationAfter ?? -1)); kill -9 + immediate restart -> 3 alive after \(bounce)
            chaos: RSS \(rssLines.joined(separator: "; ")); whole test \(ContinuousClock.now - testStarted)
            """
        )
        if ProcessInfo.processInfo.environment["CHAOS_LOGS"] != nil { cluster.dumpLogs() }
        for subscriber in survivors + onN3 { await subscriber.stop() }
        try await fresh.close()
    }
}
