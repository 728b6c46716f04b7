import Testing

@testable import ClusterCore

@Suite struct MembershipMessageCodecTests {
    static let gossip: [Membership.Gossip] = [
        .init(member: .init(name: "node-a", address: "10.0.0.1:59998", incarnation: 1_764_000_000_000)),
        .init(member: .init(name: "nöde-ß", address: "[::1]:59998", incarnation: .max, state: .suspect), suspectedBy: "x"),
        .init(member: .init(name: "c", address: "", incarnation: 0, state: .dead)),
        .init(member: .init(name: "d", address: "h:1", incarnation: 127, state: .left)),
        .init(member: .init(name: "e", address: "h:2", incarnation: 128, state: .suspect), suspectedBy: ""),
    ]

    static let messages: [Membership.Message] = [
        .ping(sequence: 0, gossip: []),
        .ping(sequence: .max, gossip: gossip),
        .pingRequest(sequence: 300, target: "node-b", gossip: gossip),
        .ack(sequence: 1, gossip: Array(gossip.prefix(2))),
        .nack(sequence: 1 << 40, gossip: []),
        .sync(entries: gossip, replyWanted: true),
        .sync(entries: [], replyWanted: false),
    ]

    @Test(arguments: messages)
    func roundTrips(_ message: Membership.Message) {
        let bytes = message.encoded()
        #expect(Membership.Message.decode(bytes) == message)
        #expect(Membership.Message.decode(bytes[...]) == message)
    }

    @Test(arguments: messages)
    func everyTruncationAndTrailingByteIsRejected(_ message: Membership.Message) {
        let bytes = message.encoded()
        for length in 0..<bytes.count {
            #expect(Membership.Message.decode(bytes.prefix(length)) == nil, "prefix \(length) of \(bytes.count)")
        }
        #expect(Membership.Message.decode(bytes + [0]) == nil)
    }

    @Test func malformedInputsAreRejected() {
        let cases: [[UInt8]] = [
            [],
            [1],
            [2, 1, 0, 0],  // unknown version
            [1, 9, 0, 0],  // unknown kind
            [1, 5, 2, 0],  // replyWanted flag not 0/1
            [1, 1] + [UInt8](repeating: 0xFF, count: 10) + [0x01, 0],  // varint overflows 64 bits
            [1, 1] + [UInt8](repeating: 0x80, count: 11),  // varint never ends
            [1, 1, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F],  // absurd entry count
            [1, 1, 0, 1, 1, 0x61, 0, 0, 0x08],  // unknown flag bit
            [1, 1, 0, 1, 2, 0xC3, 0x28, 0, 0, 0],  // invalid UTF-8 in a name
            [1, 2, 0, 0x81, 0x10],  // string longer than the limit
        ]
        for bytes in cases {
            #expect(Membership.Message.decode(bytes) == nil, "\(bytes)")
        }
    }

    /// Seeded fuzzing: random bytes and mutated valid encodings never crash the decoder, and whatever it accepts
    /// re-encodes to something that decodes to the same message.
    @Test func fuzzedInputsNeverCrash() {
        var random = Membership.SeededRandom(seed: 0xF022)
        let valid = Self.messages.map { $0.encoded() }
        var accepted = 0
        for round in 0..<20_000 {
            var bytes: [UInt8]
            if round % 2 == 0 {
                let length = Int(random.next() % 48)
                bytes = (0..<length).map { _ in UInt8(truncatingIfNeeded: random.next()) }
                if round % 4 == 0 && bytes.count >= 2 {
                    bytes[0] = 1
                    bytes[1] = UInt8(1 + random.next() % 5)
                }
            } else {
                bytes = valid[Int(random.next() % UInt64(valid.count))]
                for _ in 0..<(1 + random.next() % 3) where !bytes.isEmpty {
                    bytes[Int(random.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: random.next())
                }
            }
            if let message = Membership.Message.decode(bytes) {
                accepted += 1
                #expect(Membership.Message.decode(message.encoded()) == message)
            }
        }
        #expect(accepted > 0)
    }
}
