import Testing

/// An opening handshake that must be refused, and the HTTP status (and headers) RFC 6455 4.2 prescribes.
struct BadHandshake: Sendable, CustomTestStringConvertible {
    var name: String
    var method = "GET"
    var path = "/"
    var version = "1.1"
    var replacing: [String: String?]
    var status: Int
    var headers: [String: String] = [:]
    var testDescription: String { name }
}

/// RFC 6455 section 4: the opening handshake, accepted and refused.
@Suite struct HandshakeConformanceTests {
    @Test func validHandshakeIsAccepted() async throws {
        let node = try await ConformanceNodes.standard.value
        let socket = try await RawSocket.connect(port: node.ports.webSocket)
        defer { Task { await socket.close() } }
        socket.send(Array(RawSocket.handshake(port: node.ports.webSocket).utf8))
        let answer = try #require(await socket.readHTTPResponse())
        #expect(answer.status == 101)
        #expect(answer.headers["upgrade"]?.lowercased() == "websocket")
        #expect(answer.headers["connection"]?.lowercased() == "upgrade")
        #expect(answer.headers["sec-websocket-accept"] == RawSocket.sampleAccept)
        #expect(answer.headers["sec-websocket-extensions"] == nil, "no extension is negotiated")
        socket.send(Conformance.frame(1, RPC.heartbeat(id: 1)))
        #expect(RPC.isHeartbeatAnswer(await socket.nextFrame(), id: 1))
    }

    /// Offered extensions (permessage-deflate) and subprotocols are not negotiated: the 101 names neither,
    /// so the client must not use them (RFC 6455 4.2.2, 9.1, 11.3.4).
    @Test func offeredExtensionsAndSubprotocolsAreDeclined() async throws {
        let node = try await ConformanceNodes.standard.value
        let socket = try await RawSocket.connect(port: node.ports.webSocket)
        defer { Task { await socket.close() } }
        let offer: [String: String?] = [
            "Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits",
            "Sec-WebSocket-Protocol": "chat, superchat",
            "Origin": "http://example.com",
        ]
        socket.send(Array(RawSocket.handshake(port: node.ports.webSocket, replacing: offer).utf8))
        let answer = try #require(await socket.readHTTPResponse())
        #expect(answer.status == 101)
        #expect(answer.headers["sec-websocket-extensions"] == nil)
        #expect(answer.headers["sec-websocket-protocol"] == nil)
        // RSV1 (what permessage-deflate would set) is still a protocol error.
        socket.send(Conformance.frame(1, RPC.heartbeat(id: 1), rsv: 4))
        #expect(await socket.framesUntilClose()?.close.closeCode == 1002)
    }

    /// Header names and the tokens of Upgrade and Connection are case-insensitive; Connection may list more.
    @Test func handshakeHeadersAreCaseInsensitive() async throws {
        let node = try await ConformanceNodes.standard.value
        let socket = try await RawSocket.connect(port: node.ports.webSocket)
        defer { Task { await socket.close() } }
        let request = "GET /?token=x HTTP/1.1\r\nhost: 127.0.0.1\r\nupgrade: WebSocket\r\nconnection: keep-alive, Upgrade\r\n"
            + "sec-websocket-key: \(RawSocket.sampleKey)\r\nsec-websocket-version: 13\r\n\r\n"
        socket.send(Array(request.utf8))
        let answer = try #require(await socket.readHTTPResponse())
        #expect(answer.status == 101)
        #expect(answer.headers["sec-websocket-accept"] == RawSocket.sampleAccept)
    }

    /// Frames sent in the same write as the upgrade request are kept and served after the upgrade.
    @Test func framesRightBehindTheHandshakeAreServed() async throws {
        let node = try await ConformanceNodes.standard.value
        let socket = try await RawSocket.connect(port: node.ports.webSocket)
        defer { Task { await socket.close() } }
        let handshake = Array(RawSocket.handshake(port: node.ports.webSocket).utf8)
        socket.send(handshake + Conformance.frame(9, [7]) + Conformance.frame(1, RPC.heartbeat(id: 1)))
        #expect(await socket.readHTTPResponse()?.status == 101)
        #expect(await socket.nextFrame().map(Seen.init) == .pong([7]))
        #expect(RPC.isHeartbeatAnswer(await socket.nextFrame(), id: 1))
    }

    static let refusedCases: [BadHandshake] = [
        BadHandshake(name: "missing Sec-WebSocket-Key: 400", replacing: ["Sec-WebSocket-Key": nil], status: 400),
        BadHandshake(name: "Sec-WebSocket-Key not 16 bytes in base64: 400", replacing: ["Sec-WebSocket-Key": "c2hvcnQ="], status: 400),
        BadHandshake(
            name: "Sec-WebSocket-Version 12: 426 naming version 13",
            replacing: ["Sec-WebSocket-Version": "12"],
            status: 426,
            headers: ["sec-websocket-version": "13"]
        ),
        BadHandshake(
            name: "missing Sec-WebSocket-Version: 426 naming version 13",
            replacing: ["Sec-WebSocket-Version": nil],
            status: 426,
            headers: ["sec-websocket-version": "13"]
        ),
        BadHandshake(name: "wrong path: 404", path: "/chat", replacing: [:], status: 404),
        BadHandshake(
            name: "plain GET without Upgrade: 426 naming websocket",
            replacing: ["Upgrade": nil, "Connection": nil, "Sec-WebSocket-Key": nil, "Sec-WebSocket-Version": nil],
            status: 426,
            headers: ["upgrade": "websocket", "sec-websocket-version": "13"]
        ),
        BadHandshake(name: "Upgrade: websocket without Connection: Upgrade: 400", replacing: ["Connection": "keep-alive"], status: 400),
        BadHandshake(name: "POST instead of GET: 400", method: "POST", replacing: ["Content-Length": "0"], status: 400),
        BadHandshake(name: "HTTP/1.0 request: 400", version: "1.0", replacing: [:], status: 400),
    ]

    /// Refused handshakes get an HTTP error (never 101), the connection ends, and the node keeps serving
    /// its WebSocket clients.
    @Test(arguments: refusedCases) func badHandshakeIsRefused(_ bad: BadHandshake) async throws {
        let node = try await ConformanceNodes.standard.value
        let bystander = try await node.client()
        let socket = try await RawSocket.connect(port: node.ports.webSocket)
        defer { Task { await socket.close() } }
        let request = RawSocket.handshake(
            port: node.ports.webSocket,
            method: bad.method,
            path: bad.path,
            version: bad.version,
            replacing: bad.replacing
        )
        socket.send(Array(request.utf8))
        let answer = try #require(await socket.readHTTPResponse())
        #expect(answer.status == bad.status)
        for (name, value) in bad.headers {
            #expect(answer.headers[name]?.lowercased() == value, "header \(name)")
        }
        #expect(await socket.waitForEOF())
        #expect(try await bystander.call(method: "heartbeat") == ["heartbeat": "ok"])
        try await bystander.close()
    }
}
