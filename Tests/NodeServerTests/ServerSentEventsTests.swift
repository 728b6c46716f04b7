import NIOCore
import RocketWSClient
import RocketWSTestKit
import Testing

@testable import NodeServer

/// `GET /sse` on the WebSocket port, read with a plain HTTP client (docs/contract.md, "Server-sent events").
@Suite(.serialized) struct ServerSentEventsTests {
    /// The answer's status line and headers (names lowercased); a stream's body never ends, so it is read apart.
    struct Head {
        var status: Int
        var headers: [String: String]
    }

    private func openStream(_ node: InProcessNode, _ query: String, headers: [String] = []) async throws -> (RawSocket, Head?) {
        let socket = try await RawSocket.connect(port: node.ports.webSocket)
        let extra = headers.map { "\($0)\r\n" }.joined()
        socket.send(Array("GET /sse?\(query) HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\(extra)\r\n".utf8))
        guard let text = await socket.text(through: "\r\n\r\n") else { return (socket, nil) }
        let lines = text.split(separator: "\r\n")
        guard let status = lines.first?.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) else { return (socket, nil) }
        var fields: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[line[..<colon].lowercased()] = String(line[line.index(after: colon)...].drop { $0 == " " })
        }
        return (socket, Head(status: status, headers: fields))
    }

    /// Waits until the node counts `n` subscriptions (a stream subscribes right after its 200).
    private func waitForSubscriptions(_ node: InProcessNode, _ n: Int) async -> Bool {
        await eventually { (try? await node.backend().call(method: "total_subscribers"))?["total"]?.intValue == n }
    }

    /// The node's connected clients, WebSocket and event streams alike (`cluster_status`).
    private func connections(_ node: InProcessNode) async -> Int? {
        let status = try? await node.backend().call(method: "cluster_status")
        return status?["members"]?[0]?["connections"]?.intValue
    }

    @Test func streamsEveryMessageOfItsChannelsAsTheFramesJSON() async throws {
        let node = try await InProcessNode.start()
        let (socket, head) = try await openStream(node, "channel=news&channel=sp%C3%A9cial+one")
        #expect(head?.status == 200)
        #expect(head?.headers["content-type"] == "text/event-stream")
        #expect(head?.headers["cache-control"] == "no-cache")
        #expect(await waitForSubscriptions(node, 2))
        let ws = try await node.client()
        try await ws.subscribe("news")
        let backend = node.backend()
        #expect(try await backend.call(method: "emit", params: ["channel": "news", "data": ["n": 1, "text": "a\nb"]]) == ["emitted": 2, "nodes": 1])
        _ = try await backend.call(method: "emit", params: ["channel": "spécial one", "data": ["n": 2]])
        _ = try await backend.call(method: "emit", params: ["channel": "elsewhere", "data": ["n": 3]])
        _ = try await backend.call(method: "notify_all", params: ["data": ["n": 4]])
        let pushed = try #require(try await ws.nextMessage(timeout: .seconds(10)))
        let events = try #require(await socket.text(through: #""n":4}"# + "\n\n"))
        let dataLines = events.split(whereSeparator: \.isNewline).filter { $0.hasPrefix("data: ") }.map { $0.dropFirst(6) }
        #expect(dataLines.count == 3)
        // The event's data is the pushed frame's JSON, as a WebSocket subscriber gets it.
        #expect(try JSON(parsing: String(dataLines[0])) == pushed)
        #expect(try JSON(parsing: String(dataLines[1]))["__channel"] == "spécial one")
        #expect(try JSON(parsing: String(dataLines[2]))["__type"] == "broadcast")
        // History is off here: the one id is "-" (sent once subscribed, so that a reconnect is recognised).
        let ids = events.split(whereSeparator: \.isNewline).filter { $0.hasPrefix("id: ") }
        #expect(ids == ["id: -"])
        await socket.close()
        #expect(await waitForSubscriptions(node, 1))
        try await ws.close()
        await node.stop()
    }

    @Test func commentLineEveryPingInterval() async throws {
        let node = try await InProcessNode.start { $0.webSocket.liveness = LivenessSettings(pingInterval: .milliseconds(200), pongTimeout: .milliseconds(200)) }
        let (socket, head) = try await openStream(node, "channel=quiet")
        #expect(head?.status == 200)
        #expect(await socket.text(through: ": ping\n\n", timeout: .seconds(5)) != nil)
        #expect(await socket.text(through: ": ping\n\n", timeout: .seconds(5)) != nil)
        // Comments keep the stream open: the browser never answers pings, and it is not dropped for that.
        try await Task.sleep(for: .seconds(1))
        #expect(await connections(node) == 1)
        await socket.close()
        await node.stop()
    }

    @Test func lastEventIDWithHistoryOffGivesUnrecovered() async throws {
        let node = try await InProcessNode.start()
        let (socket, head) = try await openStream(node, "channel=news", headers: ["Last-Event-ID: news:e1:5"])
        #expect(head?.status == 200)
        let event = try #require(await socket.text(through: "\n\n"))
        #expect(event.contains("event: unrecovered\ndata: {\"channel\":\"news\"}"))
        await socket.close()
        await node.stop()
    }

    @Test func badRequestsAreRefusedWithAReason() async throws {
        let node = try await InProcessNode.start { $0.webSocket.privateChannelSecret = "s" }
        for (query, reason) in [("", "at least one channel"), ("channel=", "1 to 255 bytes"), ("channel=private-x", "public channels only"), ("channel=%FF", "UTF-8")] {
            let (socket, head) = try await openStream(node, query)
            #expect(head?.status == 400, "\(query)")
            let body = await socket.text(through: "}")
            #expect(body?.contains(reason) == true, "\(query): \(body ?? "")")
            await socket.close()
        }
        #expect(await connections(node) == 0)
        await node.stop()
    }

    @Test func originAndConnectionLimitApplyAsToWebSocket() async throws {
        let node = try await InProcessNode.start {
            $0.webSocket.allowedOrigins = ["https://app.example"]
            $0.webSocket.maxConnections = 1
        }
        let (foreign, refused) = try await openStream(node, "channel=a", headers: ["Origin: https://evil.example"])
        #expect(refused?.status == 403)
        await foreign.close()
        let (allowed, head) = try await openStream(node, "channel=a", headers: ["Origin: https://app.example"])
        #expect(head?.status == 200)
        #expect(head?.headers["access-control-allow-origin"] == "https://app.example")
        #expect(await eventually { await connections(node) == 1 })
        let (second, full) = try await openStream(node, "channel=a", headers: ["Origin: https://app.example"])
        #expect(full?.status == 503)
        await second.close()
        await allowed.close()
        await node.stop()
    }

    @Test func withTokenSecretAStreamNeedsAValidToken() async throws {
        let node = try await InProcessNode.start { $0.webSocket.tokenSecret = TestTokens.secret }
        let (missing, refused) = try await openStream(node, "channel=a")
        #expect(refused?.status == 401)
        await missing.close()
        let (wrong, bad) = try await openStream(node, "channel=a&token=not.a.jwt")
        #expect(bad?.status == 401)
        await wrong.close()
        let token = try await TestTokens.mint(user: "ada")
        let (stream, head) = try await openStream(node, "channel=a&token=\(token)")
        #expect(head?.status == 200)
        #expect(await waitForSubscriptions(node, 1))
        _ = try await node.backend().call(method: "emit", params: ["channel": "a", "data": ["n": 1]])
        #expect(await stream.text(through: #""n":1}"#) != nil)
        await stream.close()
        await node.stop()
    }

    @Test func streamPositionsRoundTripThroughAnEventID() throws {
        var positions = StreamPositions()
        positions["chat"] = .init(epoch: "e1", offset: 7)
        positions["a,b:c %d\n"] = .init(epoch: "ép:och", offset: 0)
        let id = positions.eventID
        #expect(!id.contains("\n") && !id.contains("\r"))
        #expect(StreamPositions(eventID: id) == positions)
        #expect(StreamPositions(eventID: "chat:e1") == nil)
        #expect(StreamPositions(eventID: "chat:e1:-1") == nil)
        #expect(StreamPositions(eventID: "") == nil)
    }

    @Test func pushedPositionIsReadFromTheFrame() {
        func read(_ text: String) -> PushedPosition? {
            Array(text.utf8).withUnsafeBytes { PushedPosition(json: $0) }
        }
        let pushed = read(#"{"__type":"message","__ts":1,"__channel":"c\"h","__offset":12,"__epoch":"E","x":{"__offset":99}}"#)
        #expect(pushed == PushedPosition(channel: "c\"h", position: .init(epoch: "E", offset: 12)))
        #expect(read(#"{"__type":"broadcast","__ts":1,"n":1}"#) == nil)
        #expect(read(#"{"__type":"message","__ts":1,"__channel":"c","n":1}"#) == nil)
        #expect(read("{}") == nil)
    }
}
