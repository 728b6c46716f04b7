import Testing

@testable import NodeServer

/// A byte sequence placed inside a JSON string of a request.
struct UTF8Sample: Sendable, CustomTestStringConvertible {
    var name: String
    var bytes: [UInt8]
    var testDescription: String { name }

    init(_ name: String, _ bytes: [UInt8]) {
        self.name = name
        self.bytes = bytes
    }
}

private func F(_ opcode: UInt8, _ payload: [UInt8] = [], fin: Bool = true) -> [UInt8] {
    Conformance.frame(opcode, payload, fin: fin)
}

/// "κόσμε" (Autobahn 6.2 and 6.4 use it).
private let kosme: [UInt8] = [0xCE, 0xBA, 0xE1, 0xBD, 0xB9, 0xCF, 0x83, 0xCE, 0xBC, 0xCE, 0xB5]

/// Autobahn 6.x: text messages must be valid UTF-8 (RFC 3629); invalid ones are failed with 1007, also when
/// the bad sequence is split across fragments, and also in close reasons (7.5.1).
@Suite struct UTF8ConformanceTests {
    static let validCases: [UTF8Sample] = [
        UTF8Sample("6.2 κόσμε", kosme),
        UTF8Sample("6.5 U+0080, first 2-byte", [0xC2, 0x80]),
        UTF8Sample("6.5 U+0800, first 3-byte", [0xE0, 0xA0, 0x80]),
        UTF8Sample("6.5 U+10000, first 4-byte", [0xF0, 0x90, 0x80, 0x80]),
        UTF8Sample("6.6 U+07FF, last 2-byte", [0xDF, 0xBF]),
        UTF8Sample("6.6 U+D7FF, below the surrogates", [0xED, 0x9F, 0xBF]),
        UTF8Sample("6.6 U+E000, above the surrogates", [0xEE, 0x80, 0x80]),
        UTF8Sample("6.6 U+FFFD", [0xEF, 0xBF, 0xBD]),
        UTF8Sample("6.6 U+FFFF (noncharacter, valid)", [0xEF, 0xBF, 0xBF]),
        UTF8Sample("6.6 U+10FFFF, last code point", [0xF4, 0x8F, 0xBF, 0xBF]),
        UTF8Sample("emoji U+1F680", [0xF0, 0x9F, 0x9A, 0x80]),
    ]

    static let invalidCases: [UTF8Sample] = [
        UTF8Sample("6.3 κόσμε with a surrogate inside", kosme + [0xED, 0xA0, 0x80] + Array("edited".utf8)),
        UTF8Sample("6.8 lone continuation byte 0x80", [0x80]),
        UTF8Sample("6.8 lone continuation byte 0xBF", [0xBF]),
        UTF8Sample("6.9 2-byte start without continuation", [0xC2, 0x41]),
        UTF8Sample("6.10 truncated 3-byte sequence", [0xE0, 0xA0]),
        UTF8Sample("6.10 truncated 4-byte sequence", [0xF0, 0x90, 0x80]),
        UTF8Sample("6.12 byte 0xFE", [0xFE]),
        UTF8Sample("6.12 byte 0xFF", [0xFF]),
        UTF8Sample("6.12 bytes 0xF5..0xF7", [0xF5, 0x80, 0x80, 0x80]),
        UTF8Sample("6.13 overlong '/' in 2 bytes", [0xC0, 0xAF]),
        UTF8Sample("6.13 overlong '/' in 3 bytes", [0xE0, 0x80, 0xAF]),
        UTF8Sample("6.13 overlong '/' in 4 bytes", [0xF0, 0x80, 0x80, 0xAF]),
        UTF8Sample("6.13 overlong NUL", [0xC1, 0xBF]),
        UTF8Sample("6.14 surrogate U+D800", [0xED, 0xA0, 0x80]),
        UTF8Sample("6.14 surrogate U+DFFF", [0xED, 0xBF, 0xBF]),
        UTF8Sample("6.14 surrogate pair", [0xED, 0xA0, 0x80, 0xED, 0xB0, 0x80]),
        UTF8Sample("6.11 above U+10FFFF", [0xF4, 0x90, 0x80, 0x80]),
    ]

    @Test(arguments: validCases) func validUTF8IsAnswered(_ sample: UTF8Sample) async throws {
        let message = RPC.heartbeat(id: 1, extra: sample.bytes)
        try await Conformance.expectExchange([F(1, message)], expected: [.answer(id: 1)])
    }

    @Test(arguments: invalidCases) func invalidUTF8Gets1007(_ sample: UTF8Sample) async throws {
        let message = RPC.heartbeat(id: 1, extra: sample.bytes)
        try await Conformance.expectFailure(code: 1007, [F(1, message)])
    }

    /// Autobahn 6.2 and 6.4: a message cut into 2 fragments at every byte, through the middle of code
    /// points, is accepted when valid and failed with 1007 when not (this server validates when the message
    /// is complete, which RFC 6455 allows; fail-fast is not required).
    @Test func validUTF8SplitAtEveryByte() async throws {
        let message = RPC.heartbeat(id: 1, extra: kosme + [0xF0, 0x9F, 0x9A, 0x80] + kosme)
        let start = message.firstIndex(of: 0xCE)! - 1
        for cut in start..<(start + 27) {
            try await Conformance.expectExchange(
                [F(1, Array(message[..<cut]), fin: false), F(0, Array(message[cut...]))],
                expected: [.answer(id: 1)]
            )
        }
    }

    @Test func invalidUTF8SplitAcrossFragments() async throws {
        let message = RPC.heartbeat(id: 1, extra: kosme + [0xED, 0xA0, 0x80] + Array("edited".utf8))
        let bad = message.firstIndex(of: 0xED)!
        for cut in (bad - 1)...(bad + 3) {
            try await Conformance.expectFailure(code: 1007, [F(1, Array(message[..<cut]), fin: false), F(0, Array(message[cut...]))])
        }
        // One byte per fragment, the message complete.
        try await Conformance.expectFailure(code: 1007, message.indices.map { F($0 == 0 ? 1 : 0, [message[$0]], fin: $0 == message.count - 1) })
        // Truncated at the end of the message: the last fragment ends inside a code point.
        try await Conformance.expectFailure(code: 1007, [F(1, Array(#"{"jsonrpc":"2.0","#.utf8), fin: false), F(0, [0xCE, 0xBA, 0xE1, 0xBD])])
    }

    /// Autobahn 6.4 (fail fast): invalid UTF-8 in an unfinished text message fails the connection at once,
    /// without waiting for a final fragment that never comes.
    static let failFastCases: [UTF8Sample] = [
        UTF8Sample("6.4.1 surrogate in the 2nd of 3 fragments", kosme + [0xED, 0xA0, 0x80]),
        UTF8Sample("6.4.2 surrogate cut after its 2nd byte", kosme + [0xED, 0xA0]),
        UTF8Sample("6.4.3 invalid 4-byte start", kosme + [0xF4, 0x90]),
        UTF8Sample("6.4.4 byte 0xFF", kosme + [0xFF]),
        UTF8Sample("ASCII then a lone continuation byte", Array("abc".utf8) + [0x80]),
    ]

    @Test(arguments: failFastCases) func invalidUTF8FailsFastInFragments(_ sample: UTF8Sample) async throws {
        let start = Array(#"{"jsonrpc":"2.0","id":1,"method":"heartbeat","params":{"s":""#.utf8)
        // In the second fragment, and in the first one; the message is never finished.
        try await Conformance.expectFailure(code: 1007, [F(1, start, fin: false), F(0, sample.bytes, fin: false)])
        try await Conformance.expectFailure(code: 1007, [F(1, start + sample.bytes, fin: false)])
    }

    @Test func validUTF8OneBytePerFragment() async throws {
        let message = RPC.heartbeat(id: 1, extra: kosme + [0xF0, 0x9F, 0x9A, 0x80, 0xF4, 0x8F, 0xBF, 0xBF])
        let frames = message.indices.map { F($0 == 0 ? 1 : 0, [message[$0]], fin: $0 == message.count - 1) }
        try await Conformance.expectExchange(frames, expected: [.answer(id: 1)])
    }

    /// The validator behind fail-fast: complete code points, or nil when no continuation can make it valid.
    @Test func validPrefixLength() {
        let cases: [([UInt8], Int?)] = [
            ([], 0), (Array("ascii only".utf8), 10), (kosme, 11),
            ([0x61, 0xCE], 1), ([0x61, 0xE1, 0xBD], 1), ([0xF0, 0x9F, 0x9A], 0), ([0xF4, 0x8F], 0),
            ([0x61, 0xED, 0xA0], nil), ([0xF4, 0x90], nil), ([0xE0, 0x80], nil), ([0xF0, 0x8F], nil),
            ([0xC0], nil), ([0xFF], nil), ([0x80], nil), ([0xE1, 0x41], nil), ([0xF1, 0x80, 0x41], nil),
        ]
        for (bytes, expected) in cases {
            #expect(bytes.withUnsafeBytes { UTF8Validation.validPrefixLength($0) } == expected, "\(bytes)")
        }
    }

    static let badReasonsCases: [UTF8Sample] = [
        UTF8Sample("7.5.1 κόσμε with a surrogate", kosme + [0xED, 0xA0, 0x80] + Array("edited".utf8)),
        UTF8Sample("truncated code point", [0xCE]),
        UTF8Sample("byte 0xFF", [0xFF]),
    ]

    @Test(arguments: badReasonsCases) func invalidUTF8CloseReasonGets1007(_ sample: UTF8Sample) async throws {
        try await Conformance.expectFailure(code: 1007, [F(8, RawSocket.closeBody(1000, sample.bytes))])
    }
}
