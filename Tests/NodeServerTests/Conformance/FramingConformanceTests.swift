import Testing

/// A valid exchange: what the client writes and exactly what the server must send back.
struct Exchange: Sendable, CustomTestStringConvertible {
    var name: String
    var writes: [[UInt8]]
    var chopped = false
    var expected: [Seen]
    var testDescription: String { name }

    init(_ name: String, chopped: Bool = false, _ writes: [[UInt8]], expect expected: [Seen]) {
        self.name = name
        self.chopped = chopped
        self.writes = writes
        self.expected = expected
    }
}

private func F(_ opcode: UInt8, _ payload: [UInt8] = [], fin: Bool = true) -> [UInt8] {
    Conformance.frame(opcode, payload, fin: fin)
}

/// `message` as a text frame followed by continuations, cut at `cuts` (offsets into `message`).
private func fragments(_ message: [UInt8], cuts: [Int], between: (Int) -> [UInt8] = { _ in [] }) -> [[UInt8]] {
    let bounds = [0] + cuts + [message.count]
    return (0..<(bounds.count - 1)).map { i in
        let frame = F(i == 0 ? 1 : 0, Array(message[bounds[i]..<bounds[i + 1]]), fin: i == bounds.count - 2)
        return i == bounds.count - 2 ? frame : frame + between(i)
    }
}

private let hb = RPC.heartbeat(id: 1)
private let hbFrame = F(1, hb)
private let binaryPayload: [UInt8] = [0x00, 0xFF, 0xFE, 0xFD, 0xFC, 0xFB, 0x00, 0xFF]
private func payload(_ i: Int) -> [UInt8] { Array("ping-\(i)".utf8) }

@Suite struct FramingConformanceTests {
    /// Autobahn 1.1 and 5.x: JSON-RPC requests as text messages, whole and fragmented in every way.
    static let textFramingCases: [Exchange] = [
        Exchange("1.1 one frame", [F(1, hb)], expect: [.answer(id: 1)]),
        Exchange("1.1.1 empty text message: JSON-RPC parse error, connection kept", [F(1)], expect: [.rpcError(-32700)]),
        Exchange(
            "empty text message in 3 empty fragments: parse error",
            [F(1, [], fin: false), F(0, [], fin: false), F(0)],
            expect: [.rpcError(-32700)]
        ),
        Exchange("valid UTF-8 text that is not JSON: parse error", [F(1, Array("κόσμε".utf8))], expect: [.rpcError(-32700)]),
        Exchange("5.3 2 fragments", fragments(hb, cuts: [hb.count / 2]), expect: [.answer(id: 1)]),
        Exchange("5.4 2 fragments, chopped", chopped: true, fragments(hb, cuts: [hb.count / 2]), expect: [.answer(id: 1)]),
        Exchange("3 fragments in one write", [fragments(hb, cuts: [5, 30]).flatMap { $0 }], expect: [.answer(id: 1)]),
        Exchange("1 byte per fragment", fragments(hb, cuts: Array(1..<hb.count)), expect: [.answer(id: 1)]),
        Exchange(
            "0-length first, middle and last fragments",
            [F(1, [], fin: false), F(0, Array(hb.prefix(10)), fin: false), F(0, [], fin: false), F(0, Array(hb.dropFirst(10)), fin: false), F(0, [])],
            expect: [.answer(id: 1)]
        ),
        Exchange(
            "5.6 ping between 2 fragments",
            fragments(hb, cuts: [12]) { _ in F(9, payload(0)) },
            expect: [.pong(payload(0)), .answer(id: 1)]
        ),
        Exchange(
            "5.19 pings between 5 fragments",
            fragments(hb, cuts: [3, 9, 20, 33]) { F(9, payload($0)) },
            expect: (0..<4).map { .pong(payload($0)) } + [.answer(id: 1)]
        ),
        Exchange(
            "5.20 pings between 5 fragments, chopped",
            chopped: true,
            fragments(hb, cuts: [3, 9, 20, 33]) { F(9, payload($0)) },
            expect: (0..<4).map { .pong(payload($0)) } + [.answer(id: 1)]
        ),
        Exchange(
            "unsolicited pongs between fragments",
            fragments(hb, cuts: [12, 24]) { F(0xA, payload($0)) },
            expect: [.answer(id: 1)]
        ),
        Exchange("1.1 whole frame chopped (1 byte per write)", chopped: true, [F(1, hb)], expect: [.answer(id: 1)]),
        Exchange("header and payload in separate writes", [Array(hbFrame.prefix(6)), Array(hbFrame.dropFirst(6))], expect: [.answer(id: 1)]),
        Exchange(
            "3 messages in one write, answered in order",
            [F(1, RPC.heartbeat(id: 1)) + F(1, RPC.heartbeat(id: 2)) + F(1, RPC.heartbeat(id: 3))],
            expect: [.answer(id: 1), .answer(id: 2), .answer(id: 3)]
        ),
    ]

    /// Autobahn 1.1.x: payload lengths around the 7-bit, 16-bit and 64-bit length encodings, up to the
    /// node's default limit (1 MiB), as one frame and as 2 fragments.
    static let lengthsCases = [125, 126, 127, 65535, 65536, 65537, 1 << 20]

    /// Autobahn 1.1.8: a 65535-byte message written in 997-byte pieces.
    @Test func bigMessageInSmallWrites() async throws {
        let frame = F(1, RPC.heartbeat(id: 3, length: 65535))
        let writes = stride(from: 0, to: frame.count, by: 997).map { Array(frame[$0..<min($0 + 997, frame.count)]) }
        try await Conformance.expectExchange(writes, expected: [.answer(id: 3)])
    }

    @Test(arguments: textFramingCases) func textFraming(_ e: Exchange) async throws {
        try await Conformance.expectExchange(e.writes, chopped: e.chopped, expected: e.expected)
    }

    @Test(arguments: lengthsCases) func payloadLengthBoundaries(_ length: Int) async throws {
        let message = RPC.heartbeat(id: 7, length: length)
        #expect(message.count == length)
        try await Conformance.expectExchange([F(1, message)], expected: [.answer(id: 7)])
        try await Conformance.expectExchange(fragments(message, cuts: [length - 1]), expected: [.answer(id: 7)])
    }

    /// Autobahn 2.x: pings get pongs with the same payload, in order; unsolicited pongs get nothing.
    static let pingsCases: [Exchange] = [
        Exchange("2.1 ping without payload", [F(9)], expect: [.pong([])]),
        Exchange("2.2 ping with a text payload", [F(9, Array("Hello, world!".utf8))], expect: [.pong(Array("Hello, world!".utf8))]),
        Exchange("2.3 ping with a binary payload", [F(9, binaryPayload)], expect: [.pong(binaryPayload)]),
        Exchange("2.4 ping with a 125-byte payload", [F(9, (0..<125).map { UInt8($0) })], expect: [.pong((0..<125).map { UInt8($0) })]),
        Exchange("2.6 125-byte ping, chopped", chopped: true, [F(9, (0..<125).map { UInt8($0) })], expect: [.pong((0..<125).map { UInt8($0) })]),
        Exchange("2.7 unsolicited empty pong", [F(0xA)], expect: []),
        Exchange("2.8 unsolicited pong with payload", [F(0xA, Array("unsolicited".utf8))], expect: []),
        Exchange("2.9 unsolicited pong, then ping", [F(0xA, Array("unsolicited".utf8)), F(9, payload(1))], expect: [.pong(payload(1))]),
        Exchange("2.10 10 pings", (0..<10).map { F(9, payload($0)) }, expect: (0..<10).map { .pong(payload($0)) }),
        Exchange("2.11 10 pings, chopped", chopped: true, (0..<10).map { F(9, payload($0)) }, expect: (0..<10).map { .pong(payload($0)) }),
        Exchange("10 pings in one write", [(0..<10).flatMap { F(9, payload($0)) }], expect: (0..<10).map { .pong(payload($0)) }),
        Exchange("ping and request in one write", [F(9, payload(1)) + F(1, hb)], expect: [.pong(payload(1)), .answer(id: 1)]),
    ]

    @Test(arguments: pingsCases) func pingsAndPongs(_ e: Exchange) async throws {
        try await Conformance.expectExchange(e.writes, chopped: e.chopped, expected: e.expected)
    }
}
