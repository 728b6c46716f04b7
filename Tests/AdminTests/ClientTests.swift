import NIOCore
import NIOWebSocket
import RocketWSClient
import Testing

/// The clients against the in-process ``FakeNode``.
@Suite struct ClientTests {
    @Test func subscribeEmitAndReceive() async throws {
        let node = try await FakeNode.start()
        let ws = try await WebSocketClient.connect(host: "127.0.0.1", port: node.wsPort)
        let ms = try MessagesSourceClient(url: node.msURL)
        try await ws.subscribe("chat")
        let result = try await ms.call(method: "emit", params: ["channel": "chat", "data": ["text": "hi"]])
        #expect(result == ["emitted": 1, "nodes": 1])
        let pushed = try #require(try await ws.nextMessage(timeout: .seconds(10)))
        #expect(pushed["text"] == "hi")
        #expect(pushed["__type"] == "message")
        #expect(pushed["__channel"] == "chat")
        #expect(try await ws.call(method: "heartbeat") == ["heartbeat": "ok"])
        try await ws.close()
        try await ms.close()
        await node.stop()
    }

    @Test func keepsPushesInterleavedWithResponses() async throws {
        let node = try await FakeNode.start()
        let ws = try await WebSocketClient.connect(url: node.wsURL)
        let ms = try MessagesSourceClient(url: node.msURL)
        try await ws.subscribe("c")
        // Pushes arrive while calls are outstanding; none may be lost or taken as an answer.
        async let emits: Void = {
            for index in 0..<200 {
                try await ms.call(method: "emit", params: ["channel": "c", "data": ["n": .int(index), "id": 1]])
            }
        }()
        for _ in 0..<50 { #expect(try await ws.call(method: "heartbeat") == ["heartbeat": "ok"]) }
        try await emits
        for index in 0..<200 {
            let message = try #require(try await ws.nextMessage(timeout: .seconds(10)))
            #expect(message["n"]?.intValue == index)
        }
        #expect(try await ws.nextMessage(timeout: .milliseconds(50)) == nil)
        try await ws.close()
        await node.stop()
    }

    @Test func receivesTwentyThousandMessages() async throws {
        let node = try await FakeNode.start()
        let ws = try await WebSocketClient.connect(url: node.wsURL)
        let count = 20_000
        // The answer comes after all pushes: the call must skip (and keep) every one of them.
        #expect(try await ws.call(method: "burst", params: ["count": .int(count)]) == .int(count))
        for index in 0..<count {
            let message = try #require(try await ws.nextMessage(timeout: .seconds(30)))
            #expect(message["seq"]?.intValue == index)
        }
        #expect(try await ws.nextMessage(timeout: .milliseconds(50)) == nil)
        try await ws.close()
        await node.stop()
    }

    @Test func emitsFromSeveralConnectionsArrive() async throws {
        let node = try await FakeNode.start()
        let ws = try await WebSocketClient.connect(url: node.wsURL)
        try await ws.subscribe("bulk")
        let count = 2_000
        try await withThrowingTaskGroup(of: Void.self) { group in
            for publisher in 0..<4 {
                group.addTask {
                    let client = try MessagesSourceClient(url: node.msURL)
                    for index in stride(from: publisher, to: count, by: 4) {
                        try await client.notify(
                            method: "emit",
                            params: ["channel": "bulk", "data": ["i": .int(index)]]
                        )
                    }
                    try await client.close()
                }
            }
            try await group.waitForAll()
        }
        var seen = Set<Int>()
        while seen.count < count {
            let message = try #require(try await ws.nextMessage(timeout: .seconds(30)))
            seen.insert(try #require(message["i"]?.intValue))
        }
        #expect(seen.count == count)
        try await ws.close()
        await node.stop()
    }

    @Test func answersPings() async throws {
        let node = try await FakeNode.start()
        let ws = try await WebSocketClient.connect(url: node.wsURL)
        #expect(try await ws.call(method: "ping_me", timeout: .seconds(10)) == "abcd")
        try await ws.close()
        await node.stop()
    }

    @Test func handshakeFailureCarriesStatus() async throws {
        let node = try await FakeNode.start()
        do {
            _ = try await WebSocketClient.connect(host: "127.0.0.1", port: node.wsPort, path: "/forbidden")
            Issue.record("expected the handshake to fail")
        } catch let error as ClientError {
            #expect(error.status == 403)
        }
        await node.stop()
    }

    @Test func connectRefusedIsTyped() async throws {
        let port = try await FreePort.find()
        await #expect(throws: ClientError.self) {
            _ = try await WebSocketClient.connect(host: "127.0.0.1", port: port)
        }
        let ms = MessagesSourceClient(host: "127.0.0.1", port: port)
        do {
            try await ms.call(method: "ping")
            Issue.record("expected a connection failure")
        } catch let error as ClientError {
            #expect(error.isConnectFailure)
        }
    }

    @Test func closeReportsServerCode() async throws {
        let node = try await FakeNode.start()
        let ws = try await WebSocketClient.connect(url: node.wsURL)
        try await ws.close(code: .goingAway)
        var sawClose = false
        while let event = await ws.nextEvent(timeout: .seconds(5)) {
            if case .close(let code, _) = event {
                #expect(code == .goingAway)
                sawClose = true
            }
        }
        #expect(sawClose)
        await node.stop()
    }

    @Test func messagesSourceRawRequests() async throws {
        let node = try await FakeNode.start(apiKey: "k")
        let ms = try MessagesSourceClient(url: node.msURL, apiKey: "k")
        #expect(try await ms.call(method: "ping") == ["ping": "ok"])
        try await ms.notify(method: "ping")
        let bad = try await ms.postRaw(body: "{not json")
        #expect(bad.status == 200)
        #expect(try bad.json()["error"]?["code"] == -32700)
        #expect(try bad.json()["id"]?.isNull == true)
        let health = try await ms.get(path: "/healthz")
        #expect(health.status == 200)
        do {
            try await ms.call(method: "nope")
            Issue.record("expected an error")
        } catch let error as JSONRPCError {
            #expect(error.code == -32601)
        }
        let unauthorized = try MessagesSourceClient(url: node.msURL, apiKey: "wrong")
        do {
            try await unauthorized.call(method: "ping")
            Issue.record("expected 401")
        } catch let error as ClientError {
            #expect(error.status == 401)
        }
        let noKey = try await ms.postRaw(body: "{}", headers: [("Authorization", "Bearer nope")])
        #expect(noKey.status == 401)
        try await ms.close()
        try await unauthorized.close()
        await node.stop()
    }

    @Test func benchAgainstFakeNode() async throws {
        let node = try await FakeNode.start()
        var configuration = Bench.Configuration()
        configuration.webSockets = [try Endpoint(parsing: node.wsURL, defaultScheme: "ws")]
        configuration.messagesSource = try Endpoint(parsing: node.msURL)
        configuration.subscribers = 20
        configuration.messages = 300
        configuration.publishers = 3
        let report = try await Bench.run(configuration)
        #expect(report.lost == 0)
        #expect(report.duplicated == 0)
        #expect(report.delivered == 20 * 300)
        #expect(report.accepted == 300)
        #expect(report.latency.count == 20 * 300)
        configuration.notify = true
        configuration.rate = 2000
        let notified = try await Bench.run(configuration)
        #expect(notified.lost == 0 && notified.delivered == 20 * 300)
        await node.stop()
    }
}
