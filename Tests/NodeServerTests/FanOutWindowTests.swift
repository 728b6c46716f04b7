import NIOCore
import RocketWSClient
import RocketWSTestKit
import Synchronization
import Testing

@testable import NodeServer

/// The fan-out window (`WebSocketSettings.flushDelay`): published frames wait in a per-loop inbox and leave
/// together when the window ends, yet subscriptions, `send_data`'s exclusion and broadcast order behave as if
/// every message were written at once. The windows are deliberately long, so that every step of a test
/// happens inside one; no test asserts on speed except that a quiet node does not wait for the window.
@Suite(.serialized) struct FanOutWindowTests {
    /// Long enough that the few loopback round trips of a test all fall inside one window.
    static let longWindow: TimeAmount = .milliseconds(1500)

    /// B subscribes while m1 waits for the window's end: A gets m1 and m2, B only m2 (one or two loops).
    @Test(arguments: [1, 2])
    func subscribeInsideAnOpenWindowTakesEffectBetweenTwoMessages(threads: Int) async throws {
        try await WindowedNode.run(flushDelay: Self.longWindow, threads: threads) { node in
            let a = try await node.client(subscribedTo: "c")
            let b = try await node.client()
            try await node.openWindow(on: "c", receivers: [a])
            #expect(try await node.emit("c", tag: "m1") == ["emitted": 1, "nodes": 1])
            try await b.subscribe("c", timeout: .seconds(5))
            #expect(try await node.emit("c", tag: "m2") == ["emitted": 2, "nodes": 1])

            #expect(tags(try await pushes(2, from: a)) == ["m1", "m2"])
            #expect(tags(try await pushes(1, from: b)) == ["m2"])
            #expect(try await b.nextMessage(timeout: .milliseconds(300)) == nil)
            #expect(try await a.nextMessage(timeout: .milliseconds(100)) == nil)
        }
    }

    /// B unsubscribes while m1 waits for the window's end: B still gets m1 and never m2, A gets both.
    @Test func unsubscribeInsideAnOpenWindowTakesEffectBetweenTwoMessages() async throws {
        try await WindowedNode.run(flushDelay: Self.longWindow) { node in
            let a = try await node.client(subscribedTo: "c")
            let b = try await node.client(subscribedTo: "c")
            try await node.openWindow(on: "c", receivers: [a, b])
            #expect(try await node.emit("c", tag: "m1") == ["emitted": 2, "nodes": 1])
            #expect(try await b.call(method: "unsubscribe", params: ["channel": "c"], timeout: .seconds(5)) == "unsubscribed")
            #expect(try await node.emit("c", tag: "m2") == ["emitted": 1, "nodes": 1])

            #expect(tags(try await pushes(2, from: a)) == ["m1", "m2"])
            #expect(tags(try await pushes(1, from: b)) == ["m1"])
            // m2 would have left in the same flush as A's copy.
            #expect(try await b.nextMessage(timeout: .milliseconds(300)) == nil)
        }
    }

    /// A's send_data between two emits in one window: the others get e1, d1, e2 in order, A never d1.
    @Test(arguments: [1, 2])
    func sendDataInsideAnOpenWindowSkipsTheSenderAndKeepsOrder(threads: Int) async throws {
        try await WindowedNode.run(flushDelay: Self.longWindow, threads: threads) { node in
            let a = try await node.client(subscribedTo: "c")
            let b = try await node.client(subscribedTo: "c")
            let c = try await node.client(subscribedTo: "c")
            try await node.openWindow(on: "c", receivers: [a, b, c])
            #expect(try await node.emit("c", tag: "e1") == ["emitted": 3, "nodes": 1])
            let sent = try await a.call(method: "send_data", params: ["channel": "c", "data": ["tag": "d1"]], timeout: .seconds(5))
            #expect(sent == ["emitted": 2])
            #expect(try await node.emit("c", tag: "e2") == ["emitted": 3, "nodes": 1])

            for other in [b, c] {
                let got = try await pushes(3, from: other)
                #expect(tags(got) == ["e1", "d1", "e2"])
                if got.count == 3 {
                    #expect(got[1]["__type"] == "message")
                    #expect(got[1]["__channel"] == "c")
                }
            }
            #expect(tags(try await pushes(2, from: a)) == ["e1", "e2"])
            #expect(try await a.nextMessage(timeout: .milliseconds(300)) == nil)
        }
    }

    /// Alternating emits and notify_all in one window arrive interleaved as published.
    @Test func broadcastsAndChannelMessagesKeepTheirRelativeOrder() async throws {
        try await WindowedNode.run(flushDelay: Self.longWindow) { node in
            let a = try await node.client(subscribedTo: "c")
            let idle = try await node.client()
            #expect(try await idle.call(method: "heartbeat", timeout: .seconds(5)) == ["heartbeat": "ok"])  // registered
            try await node.openWindow(on: "c", receivers: [a])
            #expect(try await node.emit("c", tag: "x1") == ["emitted": 1, "nodes": 1])
            #expect(try await node.notifyAll(tag: "y1") == ["notified": 2, "nodes": 1])
            #expect(try await node.emit("c", tag: "x2") == ["emitted": 1, "nodes": 1])
            #expect(try await node.notifyAll(tag: "y2") == ["notified": 2, "nodes": 1])

            #expect(kindsAndTags(try await pushes(4, from: a)) == ["message x1", "broadcast y1", "message x2", "broadcast y2"])
            #expect(kindsAndTags(try await pushes(2, from: idle)) == ["broadcast y1", "broadcast y2"])
            #expect(try await idle.nextMessage(timeout: .milliseconds(300)) == nil)
            #expect(try await a.nextMessage(timeout: .milliseconds(100)) == nil)
        }
    }

    /// A message after a quiet spell does not wait for the 5 s window; a 2,000-message burst arrives whole.
    @Test func aQuietNodeDeliversAtOnceAndABurstArrivesWhole() async throws {
        let window: TimeAmount = .seconds(5)
        try await WindowedNode.run(flushDelay: window) { node in
            let a = try await node.client(subscribedTo: "c")
            // A node that never flushed.
            try await expectPromptDelivery(of: 0, on: "c", to: a, node: node)

            // 2,000 emits in one batch: far over the backlog limit, all within the window opened just now.
            let answers = try await node.batch(emitting: 1...2000, to: "c", withIDs: true)
            #expect(answers.count == 2000)
            #expect(answers.allSatisfy { $0["result"] == ["emitted": 1, "nodes": 1] })
            #expect(Set(answers.compactMap { $0["id"]?.intValue }) == Set(1...2000))
            let burst = try await pushes(2000, from: a, within: .seconds(12))
            #expect(burst.count == 2000)
            #expect(seqs(burst) == Array(1...2000))

            // Nothing more for longer than the window (no duplicates), then a node that flushed but went quiet.
            #expect(try await a.nextMessage(timeout: .milliseconds(5200)) == nil)
            try await expectPromptDelivery(of: 2001, on: "c", to: a, node: node)
        }
    }

    /// 20,000 messages in large batches (publishers made to wait past `backlogLimit` queued) reach both
    /// subscribers once, in order.
    @Test func messagesBeyondTheBacklogLimitAllArriveInOrderOnce() async throws {
        let total = 20_000
        #expect(total > 4 * SubscriptionShard.backlogLimit)
        try await WindowedNode.run(flushDelay: .milliseconds(200), threads: 2) { node in
            // Two clients: on two loops with round-robin accepts, each loop its own backlog.
            let a = try await node.client(subscribedTo: "c")
            let b = try await node.client(subscribedTo: "c")
            // Notifications (answered 204 once settled), then requests whose counts are checked.
            for start in stride(from: 0, to: total - 1000, by: 1000) {
                #expect(try await node.batch(emitting: start..<(start + 1000), to: "c", withIDs: false).isEmpty)
            }
            let answers = try await node.batch(emitting: (total - 1000)..<total, to: "c", withIDs: true)
            #expect(answers.count == 1000)
            #expect(answers.allSatisfy { $0["result"] == ["emitted": 2, "nodes": 1] })

            for client in [a, b] {
                let got = try await pushes(total, from: client, within: .seconds(30))
                #expect(got.count == total)
                #expect(seqs(got) == Array(0..<total))
                #expect(try await client.nextMessage(timeout: .milliseconds(300)) == nil)
            }
        }
    }

    /// A window's frames count against a client's send-queue bound until they are flushed: a client that
    /// reads promptly must not be closed as "too slow" because one window carried more than the bound.
    /// 2,000 messages (about 140 KB of frames) in one 500 ms window against a 64 KiB bound all arrive.
    @Test func aWindowLargerThanTheQueueBoundDoesNotCloseAFastReader() async throws {
        try await WindowedNode.run(flushDelay: .milliseconds(500), maxQueueBytes: 64 << 10) { node in
            let a = try await node.client(subscribedTo: "c")
            try await node.openWindow(on: "c", receivers: [a])
            #expect(try await node.batch(emitting: 0..<2000, to: "c", withIDs: false).isEmpty)
            let got = try await pushes(2000, from: a, within: .seconds(10))
            #expect(seqs(got) == Array(0..<2000))
            #expect(try await a.call(method: "heartbeat", params: nil, timeout: .seconds(5)) == ["heartbeat": "ok"], "the client is still connected")
        }
    }

    /// Regression: a session closed re-entrantly while a window ends (one huge frame overflows its queue:
    /// 1008) must not strand a busy channel. Observers of "a" stream 12,000 messages from three backends while
    /// 30 victims are closed mid-window; every observer gets every message in per-backend order.
    @Test func sessionsClosedWhileAWindowEndsDoNotStrandOtherChannels() async throws {
        let node = try await InProcessNode.start {
            $0.webSocket.maxQueueBytes = 512 << 10
            $0.webSocket.flushDelay = .milliseconds(20)
            $0.eventLoopThreads = 1
        }
        var observers: [WebSocketClient] = []
        var victims: [WebSocketClient] = []
        do {
            for _ in 0..<20 { observers.append(try await node.client()); try await observers.last!.subscribe("a") }
            for i in 0..<30 { victims.append(try await node.client()); try await victims.last!.subscribe("z\(i)") }
            let streams = 3, batches = 40, perBatch = 100
            let big = String(repeating: "x", count: 600_000)
            let victimCount = victims.count
            try await withThrowingTaskGroup(of: Void.self) { group in
                for stream in 0..<streams {
                    group.addTask {
                        let backend = node.backend()
                        for batch in 0..<batches {
                            var entries = (0..<perBatch).map { k in
                                #"{"jsonrpc":"2.0","method":"emit","params":{"channel":"a","data":{"s":\#(stream),"n":\#(batch * perBatch + k)}}}"#
                            }
                            if stream == 0, batch < victimCount {
                                entries.insert(#"{"jsonrpc":"2.0","method":"emit","params":{"channel":"z\#(batch)","data":{"big":"\#(big)"}}}"#, at: perBatch / 2)
                            }
                            let response = try await backend.postRaw(body: "[" + entries.joined(separator: ",") + "]")
                            #expect(response.status == 204)
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await node.backend().call(method: "emit", params: ["channel": "a", "data": ["final": true]]) == ["emitted": 20, "nodes": 1])
            for observer in observers {
                var next = [Int](repeating: 0, count: streams)
                var gotFinal = false
                while let message = try await observer.nextMessage(timeout: .seconds(5)) {
                    if message["final"] == true { gotFinal = true; break }
                    guard let stream = message["s"]?.intValue, let n = message["n"]?.intValue else { continue }
                    #expect(n == next[stream], "stream \(stream) out of order or incomplete")
                    next[stream] = n + 1
                }
                #expect(gotFinal, "an observer stopped receiving")
                #expect(next == [Int](repeating: batches * perBatch, count: streams))
            }
            for victim in victims { #expect(await closeCode(of: victim, timeout: .seconds(5)) == 1008) }
        } catch {
            Issue.record(error)
        }
        for client in observers + victims { try? await client.close() }
        await node.stop()
    }
}

// MARK: - Helpers

/// Emits `{"seq": seq}` and expects it at `client` well within the 5 s window (a quiet loop flushes at once).
private func expectPromptDelivery(of seq: Int, on channel: String, to client: WebSocketClient, node: WindowedNode) async throws {
    let started = ContinuousClock.now
    #expect(try await node.emit(channel, ["seq": .int(seq)]) == ["emitted": 1, "nodes": 1])
    let received = try await pushes(1, from: client, within: .seconds(4))
    let waited = ContinuousClock.now - started
    #expect(seqs(received) == [seq])
    #expect(waited < .milliseconds(2500), "a message after a quiet spell waited \(waited) (window: 5 s)")
}

/// A node with a given flush window, a backend for it and the clients a test opens; `run` stops them all.
private final class WindowedNode: Sendable {
    let node: InProcessNode
    let backend: MessagesSourceClient
    private let clients = Mutex<[WebSocketClient]>([])

    private init(node: InProcessNode) {
        self.node = node
        self.backend = MessagesSourceClient(host: "127.0.0.1", port: node.ports.messagesSource, requestTimeout: .seconds(10))
    }

    /// Starts a node whose flushes are at least `flushDelay` apart on `threads` client loops, runs `body`,
    /// then closes every client and stops the node, whether `body` threw or not.
    static func run(
        flushDelay: TimeAmount,
        threads: Int = 1,
        maxQueueBytes: Int? = nil,
        _ body: (WindowedNode) async throws -> Void
    ) async throws {
        let node = try await InProcessNode.start {
            $0.webSocket.flushDelay = flushDelay
            $0.eventLoopThreads = threads
            if let maxQueueBytes { $0.webSocket.maxQueueBytes = maxQueueBytes }
        }
        let fixture = WindowedNode(node: node)
        do {
            try await body(fixture)
        } catch {
            await fixture.stop()
            throw error
        }
        await fixture.stop()
    }

    private func stop() async {
        for client in clients.withLock({ $0 }) { try? await client.close(timeout: .seconds(2)) }
        try? await backend.close()
        await node.stop()
    }

    /// A connected client, subscribed to `channel` when given.
    func client(subscribedTo channel: String? = nil) async throws -> WebSocketClient {
        let client = try await node.client()
        clients.withLock { $0.append(client) }
        if let channel { try await client.subscribe(channel, timeout: .seconds(5)) }
        return client
    }

    /// Emits `{"tag": tag}` and returns the result.
    func emit(_ channel: String, tag: String) async throws -> JSON {
        try await emit(channel, ["tag": .string(tag)])
    }

    func emit(_ channel: String, _ data: JSON) async throws -> JSON {
        try await backend.call(method: "emit", params: ["channel": .string(channel), "data": data])
    }

    func notifyAll(tag: String) async throws -> JSON {
        try await backend.call(method: "notify_all", params: ["data": ["tag": .string(tag)]])
    }

    /// Emits an opener to `channel` and waits until every receiver has it. After a quiet spell it leaves at
    /// once, so the loop has just flushed: messages published now wait for the rest of the window.
    func openWindow(on channel: String, receivers: [WebSocketClient]) async throws {
        _ = try await emit(channel, tag: "opener")
        for receiver in receivers {
            #expect(tags(try await pushes(1, from: receiver, within: .seconds(3))) == ["opener"])
        }
    }

    /// Posts one JSON-RPC batch emitting `{"seq": n}` for each n (requests with id n, or notifications) and
    /// returns the answers (none for a batch of notifications, which must be answered 204).
    func batch(emitting seqs: some Sequence<Int>, to channel: String, withIDs: Bool) async throws -> [JSON] {
        let entries = seqs.map { seq in
            let id = withIDs ? #""id":\#(seq),"# : ""
            return #"{"jsonrpc":"2.0",\#(id)"method":"emit","params":{"channel":"\#(channel)","data":{"seq":\#(seq)}}}"#
        }
        let response = try await backend.postRaw(body: "[" + entries.joined(separator: ",") + "]")
        guard withIDs else {
            #expect(response.status == 204)
            return []
        }
        #expect(response.status == 200)
        return try #require(try response.json().arrayValue)
    }
}

/// The next `count` pushed messages of `client`, or fewer when `limit` passes first.
private func pushes(_ count: Int, from client: WebSocketClient, within limit: Duration = .seconds(6)) async throws -> [JSON] {
    let deadline = ContinuousClock.now + limit
    var received: [JSON] = []
    while received.count < count, let message = try await client.nextMessage(timeout: ContinuousClock.now.duration(to: deadline)) {
        received.append(message)
    }
    return received
}

private func tags(_ messages: [JSON]) -> [String] {
    messages.map { $0["tag"]?.stringValue ?? "?" }
}

private func kindsAndTags(_ messages: [JSON]) -> [String] {
    messages.map { "\($0["__type"]?.stringValue ?? "?") \($0["tag"]?.stringValue ?? "?")" }
}

private func seqs(_ messages: [JSON]) -> [Int] {
    messages.map { $0["seq"]?.intValue ?? -1 }
}
