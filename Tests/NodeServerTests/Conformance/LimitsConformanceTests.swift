import Testing

private func F(_ opcode: UInt8, _ payload: [UInt8] = [], fin: Bool = true) -> [UInt8] {
    Conformance.frame(opcode, payload, fin: fin)
}

private let limit = ConformanceNodes.limitedMessageBytes
private func spaces(_ count: Int) -> [UInt8] { [UInt8](repeating: 0x20, count: count) }

/// A header of a masked text frame that announces `length` bytes (64-bit length form), sent without them.
private func header64(_ opcode: UInt8, length: UInt64) -> [UInt8] {
    [0x80 | opcode, 0x80 | 127] + (0..<8).reversed().map { UInt8(truncatingIfNeeded: length >> (8 * $0)) }
}

/// Message size limits (RFC 6455 7.4.1, 1009 "message too big") on a node with maxMessageBytes = 4096:
/// one frame or a fragmented message in total.
@Suite struct LimitsConformanceTests {
    @Test func messagesUpToTheLimitAreAnswered() async throws {
        let message = RPC.heartbeat(id: 1, length: limit)
        try await Conformance.expectExchange(on: ConformanceNodes.limited, [F(1, message)], expected: [.answer(id: 1)])
        let half = limit / 2
        try await Conformance.expectExchange(
            on: ConformanceNodes.limited,
            [F(1, Array(message[..<half]), fin: false), F(9), F(0, Array(message[half...]))],
            expected: [.pong([]), .answer(id: 1)]
        )
    }

    static let tooBigCases: [Violation] = [
        Violation("frame of limit + 1 bytes", code: 1009, [F(1, RPC.heartbeat(id: 1, length: limit + 1))]),
        Violation(
            "frame of limit + 1 bytes after a valid message",
            code: 1009,
            answers: 1,
            [F(1, RPC.heartbeat(id: 1)), F(1, RPC.heartbeat(id: 2, length: limit + 1))]
        ),
        Violation("binary frame of limit + 1 bytes", code: 1009, [F(2, [UInt8](repeating: 0, count: limit + 1))]),
        Violation("16-bit length header over the limit, payload never sent", code: 1009, [[0x81, 0x80 | 126, 0x10, 0x01]]),
        Violation("64-bit length header of 2^62 bytes, payload never sent", code: 1009, [header64(1, length: 1 << 62)]),
        Violation("64-bit length header with the top bit set", code: 1009, [header64(1, length: 1 << 63)]),
        Violation(
            "2 fragments totalling limit + 1",
            code: 1009,
            [F(1, [UInt8](repeating: 0x20, count: limit / 2), fin: false), F(0, [UInt8](repeating: 0x20, count: limit / 2 + 1))]
        ),
        Violation(
            "100-byte fragments past the limit",
            code: 1009,
            [(0..<41).flatMap { F($0 == 0 ? 1 : 0, [UInt8](repeating: 0x20, count: 100), fin: false) }]
        ),
        Violation(
            "fragments past the limit with pings between",
            code: 1009,
            pongs: 2,
            [F(1, spaces(2000), fin: false), F(9), F(0, spaces(2000), fin: false), F(9), F(0, spaces(97))]
        ),
    ]

    @Test(arguments: tooBigCases) func tooBigGets1009(_ v: Violation) async throws {
        try await Conformance.expectFailure(on: ConformanceNodes.limited, code: v.code, answers: v.answers, pongs: v.pongs, v.writes)
    }
}
