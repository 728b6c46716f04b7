import Testing

/// One way of breaking RFC 6455, the close code it must get, and what the server answers before failing
/// the connection (valid requests and pings sent ahead of the bad frame). Numbers in names are the
/// corresponding Autobahn|Testsuite cases.
struct Violation: Sendable, CustomTestStringConvertible {
    var name: String
    var code: Int
    var answers = 0
    var pongs = 0
    var writes: [[UInt8]]
    var chopped = false
    var testDescription: String { name }

    init(_ name: String, code: Int = 1002, answers: Int = 0, pongs: Int = 0, chopped: Bool = false, _ writes: [[UInt8]]) {
        self.name = name
        self.code = code
        self.answers = answers
        self.pongs = pongs
        self.chopped = chopped
        self.writes = writes
    }
}

private func F(_ opcode: UInt8, _ payload: [UInt8] = [], fin: Bool = true, rsv: UInt8 = 0, mask: Bool = true) -> [UInt8] {
    Conformance.frame(opcode, payload, fin: fin, rsv: rsv, mask: mask)
}

private let hb1 = RPC.heartbeat(id: 1)
private let hb2 = RPC.heartbeat(id: 2)
/// A heartbeat request in two halves, for fragmented messages.
private let part1 = Array(hb1.prefix(20))
private let part2 = Array(hb1.dropFirst(20))
private let text = Array("reserved".utf8)

@Suite struct ProtocolViolationConformanceTests {
    /// Autobahn 3.x: RSV bits without a negotiated extension, on data and control frames.
    static let reservedBitsCases: [Violation] = [
        Violation("3.1 RSV1 on a text frame", [F(1, hb1, rsv: 4)]),
        Violation("3.2 RSV2 on a text frame after a valid message", answers: 1, [F(1, hb1), F(1, hb2, rsv: 2)]),
        Violation("3.3 RSV3 after a valid message in the same write", answers: 1, [F(1, hb1) + F(1, hb2, rsv: 1)]),
        Violation("3.4 RSV1+RSV3 between a valid message and a ping", answers: 1, [F(1, hb1) + F(1, hb2, rsv: 5) + F(9, text)]),
        Violation("3.5 RSV1+RSV2 on a binary frame", [F(2, [0, 1, 2, 0xFF], rsv: 6)]),
        Violation("3.6 RSV2+RSV3 on a ping", [F(9, text, rsv: 3)]),
        Violation("3.7 all RSV bits on a close", [F(8, RawSocket.closeBody(1000), rsv: 7)]),
        Violation("RSV1 on a continuation frame", [F(1, part1, fin: false), F(0, part2, rsv: 4)]),
        Violation("RSV1 on a pong", [F(0xA, text, rsv: 4)]),
        Violation("RSV1 on a ping between fragments", [F(1, part1, fin: false), F(9, text, rsv: 4), F(0, part2)]),
    ]

    /// Autobahn 4.x: reserved opcodes 3-7 (data) and 11-15 (control), sent after a valid message and
    /// followed by a ping that must not be answered.
    static let reservedOpcodesCases: [Violation] =
        (3...7).map { op in
            Violation("4.1 reserved data opcode \(op)", answers: 1, [F(1, hb1) + F(UInt8(op), text) + F(9, text)])
        }
        + (11...15).map { op in
            Violation("4.2 reserved control opcode \(op)", answers: 1, [F(1, hb1) + F(UInt8(op), text) + F(9, text)])
        }
        + [Violation("reserved opcode 3, empty, alone", [F(3)])]

    /// RFC 6455 5.1: every client frame is masked.
    static let unmaskedCases: [Violation] = [
        Violation("unmasked text frame", [F(1, hb1, mask: false)]),
        Violation("unmasked empty text frame", [F(1, [], mask: false)]),
        Violation("unmasked ping", [F(9, text, mask: false)]),
        Violation("unmasked close", [F(8, RawSocket.closeBody(1000), mask: false)]),
        Violation("unmasked continuation of a masked message", [F(1, part1, fin: false), F(0, part2, mask: false)]),
        Violation("unmasked frame after a valid message", answers: 1, [F(1, hb1), F(1, hb2, mask: false)]),
    ]

    /// RFC 6455 5.5: control frames carry at most 125 bytes and are never fragmented.
    static let controlFramesCases: [Violation] = [
        Violation("2.5 ping with a 126-byte payload", [F(9, [UInt8](repeating: 0xFE, count: 126))]),
        Violation("ping with a 64-bit length header", [F(9, [UInt8](repeating: 0xFE, count: 65536))]),
        Violation("pong with a 126-byte payload", [F(0xA, [UInt8](repeating: 0xFE, count: 126))]),
        Violation("7.3.6 close with a 124-byte reason", [F(8, RawSocket.closeBody(1000, [UInt8](repeating: 0x61, count: 124)))]),
        Violation("5.1 ping in 2 fragments", [F(9, text, fin: false), F(0, text)]),
        Violation("5.2 pong in 2 fragments", [F(0xA, text, fin: false), F(0, text)]),
        Violation("close in 2 fragments", [F(8, RawSocket.closeBody(1000), fin: false), F(0, [])]),
        Violation("fragmented ping inside a fragmented message", [F(1, part1, fin: false), F(9, text, fin: false), F(0, part2)]),
        Violation("2.5 ping with a 126-byte payload, chopped", chopped: true, [F(9, [UInt8](repeating: 0xFE, count: 126))]),
    ]

    /// Autobahn 5.x: continuation frames with no message to continue, and new messages inside a
    /// fragmented one.
    static let fragmentationCases: [Violation] = [
        Violation("5.9 continuation (FIN) with no message", [F(0, hb1)]),
        Violation("5.10 continuation (FIN) with no message, chopped", chopped: true, [F(0, hb1)]),
        Violation("5.12 continuation (no FIN) with no message", [F(0, hb1, fin: false)]),
        Violation("5.13 continuation (no FIN) with no message, chopped", chopped: true, [F(0, hb1, fin: false)]),
        Violation(
            "5.15 stray continuation after a fragmented message",
            answers: 1,
            [F(1, part1, fin: false) + F(0, part2) + F(0, part1, fin: false) + F(1, part2)]
        ),
        Violation("5.16 continuations first, then a message", [F(0, part1, fin: false), F(0, part2), F(1, hb1)]),
        Violation("5.18 text frame inside a fragmented text message", [F(1, part1, fin: false), F(1, part2)]),
        Violation("binary frame inside a fragmented text message", [F(1, part1, fin: false), F(2, [1, 2, 3])]),
        Violation("text frame inside a fragmented binary message", [F(2, [1], fin: false), F(1, hb1)]),
        Violation("new message after a ping inside a fragmented one", pongs: 1, [F(1, part1, fin: false), F(9, text), F(1, hb2)]),
        Violation("empty continuation (FIN) with no message", [F(0)]),
    ]

    /// Documented choice (contract): binary messages are refused with 1003. Frames after the server's close
    /// frame get no answer.
    static let binaryCases: [Violation] = [
        Violation("1.2.1 empty binary message", code: 1003, [F(2)]),
        Violation("1.2.2 125-byte binary message", code: 1003, [F(2, [UInt8](repeating: 0xFE, count: 125))]),
        Violation("1.2.6 65536-byte binary message", code: 1003, [F(2, [UInt8](repeating: 0xFE, count: 65536))]),
        Violation("binary message in 2 fragments", code: 1003, [F(2, [1], fin: false), F(0, [2])]),
        Violation("binary message after a valid one", code: 1003, answers: 1, [F(1, hb1) + F(2, [1, 2])]),
        Violation("request and ping after a binary message get nothing", code: 1003, [F(2, [1]) + F(1, hb2) + F(9, text)]),
        Violation("request and ping after a protocol error get nothing", [F(0, hb1) + F(1, hb2) + F(9, text)]),
    ]

    /// A client in the middle of a fragmented message is not disturbed by another client failing its
    /// connection, nor by 40 of them at once.
    @Test func violationsLeaveOtherConnectionsAlone() async throws {
        let node = try await ConformanceNodes.standard.value
        let a = try await RawSocket.open(port: node.ports.webSocket)
        defer { Task { await a.close() } }
        a.send(F(1, part1, fin: false))
        try await withThrowingTaskGroup(of: Int?.self) { group in
            for i in 0..<40 {
                group.addTask {
                    let bad = try await RawSocket.open(port: node.ports.webSocket)
                    bad.send(i % 2 == 0 ? F(1, hb1, rsv: 4) : F(1, [0xC0, 0xAF]))
                    let code = await bad.framesUntilClose()?.close.closeCode
                    await bad.close()
                    return code
                }
            }
            var codes: [Int?] = []
            for try await code in group { codes.append(code) }
            #expect(codes.filter { $0 == 1002 }.count == 20)
            #expect(codes.filter { $0 == 1007 }.count == 20)
        }
        a.send(F(9, text))
        a.send(F(0, part2))
        #expect(await a.nextFrame().map(Seen.init) == .pong(text))
        #expect(RPC.isHeartbeatAnswer(await a.nextFrame(), id: 1))
    }

    @Test(arguments: reservedBitsCases) func reservedBits(_ v: Violation) async throws {
        try await Conformance.expectFailure(code: v.code, answers: v.answers, pongs: v.pongs, v.writes, chopped: v.chopped)
    }

    @Test(arguments: reservedOpcodesCases) func reservedOpcodes(_ v: Violation) async throws {
        try await Conformance.expectFailure(code: v.code, answers: v.answers, pongs: v.pongs, v.writes, chopped: v.chopped)
    }

    @Test(arguments: unmaskedCases) func unmaskedClientFrames(_ v: Violation) async throws {
        try await Conformance.expectFailure(code: v.code, answers: v.answers, pongs: v.pongs, v.writes, chopped: v.chopped)
    }

    @Test(arguments: controlFramesCases) func badControlFrames(_ v: Violation) async throws {
        try await Conformance.expectFailure(code: v.code, answers: v.answers, pongs: v.pongs, v.writes, chopped: v.chopped)
    }

    @Test(arguments: fragmentationCases) func badFragmentation(_ v: Violation) async throws {
        try await Conformance.expectFailure(code: v.code, answers: v.answers, pongs: v.pongs, v.writes, chopped: v.chopped)
    }

    @Test(arguments: binaryCases) func binaryMessagesAndFramesAfterTheClose(_ v: Violation) async throws {
        try await Conformance.expectFailure(code: v.code, answers: v.answers, pongs: v.pongs, v.writes, chopped: v.chopped)
    }
}
