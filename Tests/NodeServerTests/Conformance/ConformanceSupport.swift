import NIOCore
import RocketWSClient
import Testing

@testable import NodeServer

/// The nodes the conformance suites share (started on first use, left running until the test process
/// exits): one with default settings, one with 4096-byte messages and a short close grace for the limit
/// cases. Sharing them keeps the suite fast and proves the other point of every case: a violation ends
/// one connection, never the node.
enum ConformanceNodes {
    static let standard = Task { try await InProcessNode.start() }
    static let limited = Task {
        try await InProcessNode.start {
            $0.webSocket.maxMessageBytes = limitedMessageBytes
            $0.webSocket.closeGrace = .milliseconds(300)
        }
    }
    static let limitedMessageBytes = 4096
}

/// JSON-RPC messages used as text payloads (the node is not an echo server: a text message is a request).
enum RPC {
    /// A heartbeat request; `length` pads it with JSON whitespace to exactly that many bytes, `extra`
    /// adds raw bytes inside a string parameter (UTF-8 cases; the method ignores its params).
    static func heartbeat(id: Int, length: Int? = nil, extra: [UInt8]? = nil) -> [UInt8] {
        var bytes = Array(#"{"jsonrpc":"2.0","id":\#(id),"method":"heartbeat""#.utf8)
        if let extra { bytes += Array(#","params":{"s":""#.utf8) + extra + Array(#""}"#.utf8) }
        if let length {
            precondition(length >= bytes.count + 1, "padding below the request size")
            bytes += [UInt8](repeating: 0x20, count: length - bytes.count - 1)
        }
        return bytes + [UInt8(ascii: "}")]
    }

    /// Whether `frame` is the answer `{"heartbeat":"ok"}` to request `id`.
    static func isHeartbeatAnswer(_ frame: RawSocket.Frame?, id: Int) -> Bool {
        guard let frame, frame.opcode == 0x1, frame.fin, frame.rsv == 0, !frame.masked,
            let json = try? JSON(parsing: frame.payload)
        else { return false }
        return json["id"] == .int(id) && json["result"] == ["heartbeat": "ok"]
    }
}

/// What a client sees the server send, for comparing exchanges.
enum Seen: Equatable, CustomStringConvertible {
    case answer(id: Int)
    /// A JSON-RPC error answer with this code.
    case rpcError(Int)
    case pong([UInt8])
    case other(String)

    init(_ frame: RawSocket.Frame) {
        if frame.opcode == 0xA, frame.fin, frame.rsv == 0, !frame.masked {
            self = .pong(frame.payload)
        } else if frame.opcode == 0x1, let json = try? JSON(parsing: frame.payload), let id = json["id"]?.intValue,
            RPC.isHeartbeatAnswer(frame, id: id)
        {
            self = .answer(id: id)
        } else if frame.opcode == 0x1, let json = try? JSON(parsing: frame.payload), let code = json["error"]?["code"]?.intValue {
            self = .rpcError(code)
        } else {
            self = .other(frame.description)
        }
    }

    var description: String {
        switch self {
        case .answer(let id): "answer(\(id))"
        case .rpcError(let code): "error(\(code))"
        case .pong(let payload): "pong(\(payload.count) bytes)"
        case .other(let text): text
        }
    }
}

/// Helpers shared by the conformance suites.
enum Conformance {
    static func frame(_ opcode: UInt8, _ payload: [UInt8] = [], fin: Bool = true, rsv: UInt8 = 0, mask: Bool = true) -> [UInt8] {
        RawSocket.frame(opcode, payload, fin: fin, rsv: rsv, mask: mask)
    }

    /// Sends `writes` (each flushed on its own; `chopped` sends them one byte per write) on a fresh
    /// connection and expects exactly `expected` back, then checks the connection still answers and ends it
    /// with a clean closing handshake.
    static func expectExchange(
        on nodeTask: Task<InProcessNode, any Error> = ConformanceNodes.standard,
        _ writes: [[UInt8]],
        chopped: Bool = false,
        expected: [Seen],
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let node = try await nodeTask.value
        let socket = try await RawSocket.open(port: node.ports.webSocket)
        defer { Task { await socket.close() } }
        send(writes, chopped: chopped, on: socket)
        var seen: [Seen] = []
        for _ in expected {
            guard let frame = await socket.nextFrame() else { break }
            seen.append(Seen(frame))
        }
        #expect(seen == expected, sourceLocation: sourceLocation)
        // Nothing more came, and the connection still serves requests.
        socket.send(frame(0x1, RPC.heartbeat(id: 9999)))
        let next = await socket.nextFrame()
        #expect(next.map(Seen.init) == .answer(id: 9999), "connection no longer answers", sourceLocation: sourceLocation)
        socket.send(frame(0x8, RawSocket.closeBody(1000)))
        #expect(await socket.nextFrame()?.closeCode == 1000, sourceLocation: sourceLocation)
        #expect(await socket.waitForEOF(), "server kept the TCP connection", sourceLocation: sourceLocation)
    }

    /// Sends `writes` on a fresh connection and expects the server to answer `answers` requests and `pongs`
    /// pings first, then to fail the connection with close `code` (a well-formed close frame, nothing after
    /// it); once the client echoes the close, the server ends the TCP connection. A client connected before
    /// the violation still gets answers afterwards.
    static func expectFailure(
        on nodeTask: Task<InProcessNode, any Error> = ConformanceNodes.standard,
        code: Int,
        answers: Int = 0,
        pongs: Int = 0,
        _ writes: [[UInt8]],
        chopped: Bool = false,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let node = try await nodeTask.value
        let bystander = try await node.client()
        let socket = try await RawSocket.open(port: node.ports.webSocket)
        defer { Task { await socket.close() } }
        send(writes, chopped: chopped, on: socket)
        let result = await socket.framesUntilClose()
        let (before, close) = try #require(result, "no close frame from the server", sourceLocation: sourceLocation)
        #expect(close.closeCode == code, "close \(close)", sourceLocation: sourceLocation)
        #expect(close.fin && close.rsv == 0 && !close.masked && close.payload.count <= 125, sourceLocation: sourceLocation)
        #expect(UTF8Validation.isValid(close.payload.dropFirst(2)), "close reason is not UTF-8", sourceLocation: sourceLocation)
        let seen = before.map(Seen.init)
        let answered = seen.filter { if case .answer = $0 { true } else { false } }.count
        let ponged = seen.filter { if case .pong = $0 { true } else { false } }.count
        #expect(
            answered == answers && ponged == pongs && answered + ponged == seen.count,
            "before the close: \(seen)",
            sourceLocation: sourceLocation
        )
        // The client completes the closing handshake; the server sends nothing more and ends the connection.
        socket.send(frame(0x8, RawSocket.closeBody(1000)))
        #expect(await socket.waitForEOF(), "server kept the TCP connection", sourceLocation: sourceLocation)
        #expect(socket.unreadBytes == 0, "bytes after the close frame", sourceLocation: sourceLocation)
        // Everyone else is still served.
        #expect(try await bystander.call(method: "heartbeat") == ["heartbeat": "ok"], sourceLocation: sourceLocation)
        try await bystander.close()
    }

    static func send(_ writes: [[UInt8]], chopped: Bool, on socket: RawSocket) {
        for bytes in writes {
            if chopped { socket.sendChopped(bytes) } else { socket.send(bytes) }
        }
    }
}
