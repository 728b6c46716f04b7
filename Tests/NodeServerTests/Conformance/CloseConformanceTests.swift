import Testing

private func F(_ opcode: UInt8, _ payload: [UInt8] = [], fin: Bool = true) -> [UInt8] {
    Conformance.frame(opcode, payload, fin: fin)
}

private func close(_ code: UInt16, _ reason: String = "") -> [UInt8] {
    F(8, RawSocket.closeBody(code, Array(reason.utf8)))
}

private let hb1 = RPC.heartbeat(id: 1)

/// A closing handshake the client starts: what it writes, how many requests are answered before the
/// server's close, and the codes the echoed close may carry.
struct ClientClose: Sendable, CustomTestStringConvertible {
    var name: String
    var writes: [[UInt8]]
    var answers = 0
    var echo: Set<Int>
    var testDescription: String { name }

    init(_ name: String, answers: Int = 0, echo: Set<Int>, _ writes: [[UInt8]]) {
        self.name = name
        self.writes = writes
        self.answers = answers
        self.echo = echo
    }
}

/// Autobahn 7.x: the closing handshake, close bodies, and close codes (RFC 6455 5.5.1, 7.4).
@Suite struct CloseConformanceTests {
    static let clientCloseCases: [ClientClose] = [
        ClientClose("7.1.1 request, then close", answers: 1, echo: [1000], [F(1, hb1), close(1000)]),
        ClientClose("7.1.2 two closes", echo: [1000], [close(1000) + close(1000)]),
        ClientClose("7.1.3 ping after the close gets no pong", echo: [1000], [close(1000) + F(9, Array("late".utf8))]),
        ClientClose("7.1.4 request after the close gets no answer", echo: [1000], [close(1000) + F(1, hb1)]),
        ClientClose(
            "7.1.5 close inside a fragmented message",
            echo: [1000],
            [F(1, Array(hb1.prefix(9)), fin: false), close(1000), F(0, Array(hb1.dropFirst(9)))]
        ),
        ClientClose("7.1.6 request, close and ping in one write", answers: 1, echo: [1000], [F(1, hb1) + close(1000) + F(9)]),
        ClientClose("7.3.1 close without a body", echo: [1000, 1005], [F(8)]),
        ClientClose("7.3.3 close with a code only", echo: [1000], [close(1000)]),
        ClientClose("7.3.4 close with a code and a reason", echo: [1000], [close(1000, "bye")]),
        ClientClose("7.3.5 close with a 123-byte reason", echo: [1000], [close(1000, String(repeating: "r", count: 123))]),
        ClientClose("close with a UTF-8 reason", echo: [1001], [close(1001, "κόσμε")]),
        ClientClose("close chopped", echo: [1000], close(1000, "chopped").map { [$0] }),
    ]

    @Test(arguments: clientCloseCases) func clientStartedClosingHandshake(_ c: ClientClose) async throws {
        let node = try await ConformanceNodes.standard.value
        let socket = try await RawSocket.open(port: node.ports.webSocket)
        defer { Task { await socket.close() } }
        for bytes in c.writes { socket.send(bytes) }
        let result = await socket.framesUntilClose()
        let (before, closeFrame) = try #require(result, "no close frame")
        #expect(before.map(Seen.init) == (0..<c.answers).map { .answer(id: $0 + 1) })
        #expect(c.echo.contains(closeFrame.closeCode ?? 0), "close \(closeFrame)")
        // The server starts no closing handshake of its own after echoing: it ends the TCP connection.
        #expect(await socket.waitForEOF(), "server kept the TCP connection")
        #expect(socket.unreadBytes == 0, "bytes after the close frame")
    }

    /// Autobahn 7.7 and 7.13: codes a peer may send are echoed.
    static let validCodesCases: [UInt16] = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999]

    @Test(arguments: validCodesCases) func validCloseCodeIsEchoed(_ code: UInt16) async throws {
        let node = try await ConformanceNodes.standard.value
        let socket = try await RawSocket.open(port: node.ports.webSocket)
        defer { Task { await socket.close() } }
        socket.send(close(code, "code \(code)"))
        let frame = await socket.nextFrame()
        #expect(frame?.closeCode == Int(code))
        #expect(await socket.waitForEOF())
    }

    /// Autobahn 7.9 and 7.13: codes nobody may send (reserved, internal-only like 1005/1006/1015, out of
    /// range) fail the connection with 1002.
    static let invalidCodesCases: [UInt16] = [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]

    @Test(arguments: invalidCodesCases) func invalidCloseCodeGets1002(_ code: UInt16) async throws {
        try await Conformance.expectFailure(code: 1002, [close(code)])
    }

    @Test func closeWithOneByteBodyGets1002() async throws {
        try await Conformance.expectFailure(code: 1002, [F(8, [0x03])])
    }

    /// RFC 6455 5.5.1: no data frame after the server's close frame. A subscribed client that fails its
    /// connection leaves its channels at once: a push that follows reaches the other subscriber only.
    @Test func noPushesAfterTheServersClose() async throws {
        let node = try await ConformanceNodes.standard.value
        let channel = "conformance-close-\(UInt32.random(in: 0...UInt32.max))"
        let other = try await node.client()
        try await other.subscribe(channel)
        let socket = try await RawSocket.open(port: node.ports.webSocket)
        defer { Task { await socket.close() } }
        socket.send(F(1, Array(#"{"jsonrpc":"2.0","id":5,"method":"subscribe","params":{"channel":"\#(channel)"}}"#.utf8)))
        let subscribed = try #require(await socket.nextFrame())
        #expect(subscribed.text.contains(#""subscribed""#))
        socket.send(F(2, [1]))
        #expect(await socket.nextFrame()?.closeCode == 1003)
        // The client does not answer the close yet: the connection stays open for the close grace.
        let result = try await node.backend().call(method: "emit", params: ["channel": .string(channel), "data": ["n": 1]])
        #expect(result == ["emitted": 1, "nodes": 1])
        #expect(try await other.nextMessage()?["n"] == 1)
        #expect(await socket.nextFrame(timeout: .milliseconds(300)) == nil, "frame after the close")
        try await other.close()
    }

    /// The server closes the TCP connection itself when a client never answers its close frame (limited
    /// node: close grace 300 ms).
    @Test func unansweredServerCloseEndsTheConnection() async throws {
        let node = try await ConformanceNodes.limited.value
        let socket = try await RawSocket.open(port: node.ports.webSocket)
        defer { Task { await socket.close() } }
        socket.send(F(2, [1, 2, 3]))
        #expect(await socket.nextFrame()?.closeCode == 1003)
        #expect(await socket.waitForEOF(timeout: .seconds(10)))
    }
}
