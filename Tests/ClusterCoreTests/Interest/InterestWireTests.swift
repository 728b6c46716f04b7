import RocketWSTestKit
import Testing

@testable import ClusterCore

@Suite struct InterestWireTests {
    static let samples: [InterestMessage] = [
        .delta(
            InterestDelta(
                owner: "node-1",
                epoch: 1_700_000_000_123,
                fromVersion: 42,
                ops: [.add("chat"), .remove("news"), .add("çà-ü-日本"), .add(String(repeating: "z", count: 255))]
            )
        ),
        .ack(InterestAck(owner: "n", epoch: .max, version: 0)),
        .digest(InterestDigest(entries: [])),
        .digest(
            InterestDigest(entries: [.init(owner: "a", epoch: 1, version: 2), .init(owner: "b", epoch: 3, version: 4)])
        ),
        .syncRequest(InterestSyncRequest(owner: "owner", knownEpoch: 0, knownVersion: 0)),
        .snapshot(
            InterestSnapshotChunk(owner: "a", epoch: 9, version: 100, index: 3, isLast: false, channels: ["x", "y"])
        ),
        .snapshot(InterestSnapshotChunk(owner: "a", epoch: 9, version: 0, index: 0, isLast: true, channels: [])),
    ]

    @Test func roundTrip() {
        for message in Self.samples {
            let bytes = message.encoded()
            #expect(InterestMessage.decode(bytes) == message)
            #expect(InterestMessage.decode(bytes[...]) == message, "any Collection<UInt8>")
        }
        // The layout of an ack: version, kind, len-prefixed owner, two big-endian u64.
        #expect(
            InterestMessage.ack(InterestAck(owner: "ab", epoch: 1, version: 258)).encoded()
                == [1, 2, 2, 0x61, 0x62, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 2]
        )
    }

    @Test func rejectsTruncationAndTrailingBytes() {
        for message in Self.samples {
            let bytes = message.encoded()
            for length in 0..<bytes.count {
                #expect(InterestMessage.decode(bytes.prefix(length)) == nil)
            }
            #expect(InterestMessage.decode(bytes + [0]) == nil)
        }
    }

    @Test func rejectsInvalidFields() {
        let ack: [UInt8] = [1, 2, 1, 0x61] + [UInt8](repeating: 0, count: 16)
        #expect(InterestMessage.decode(ack) != nil)
        var wrongVersion = ack
        wrongVersion[0] = 2
        #expect(InterestMessage.decode(wrongVersion) == nil)
        var wrongKind = ack
        wrongKind[1] = 9
        #expect(InterestMessage.decode(wrongKind) == nil)
        var emptyOwner = ack
        emptyOwner[2] = 0
        #expect(InterestMessage.decode(emptyOwner) == nil)
        var badUTF8 = ack
        badUTF8[3] = 0xFF
        #expect(InterestMessage.decode(badUTF8) == nil)
        // A delta with zero ops, version 0, or an unknown op kind.
        let delta = InterestMessage.delta(InterestDelta(owner: "a", epoch: 1, fromVersion: 1, ops: [.add("x")]))
            .encoded()
        var zeroOps = Array(delta.prefix(delta.count - 3))
        zeroOps[zeroOps.count - 1] = 0
        #expect(InterestMessage.decode(zeroOps) == nil)
        var zeroFrom = delta
        zeroFrom[4 + 8 + 7] = 0
        #expect(InterestMessage.decode(zeroFrom) == nil)
        var badOp = delta
        badOp[delta.count - 3] = 7
        #expect(InterestMessage.decode(badOp) == nil)
        // A huge count with few bytes is refused before allocating.
        let hugeDigest: [UInt8] = [1, 3, 0xFF, 0xFF, 0xFF, 0xFF, 1, 0x61]
        #expect(InterestMessage.decode(hugeDigest) == nil)
        // Snapshot flags other than bit 0.
        var flags = InterestMessage.snapshot(
            InterestSnapshotChunk(owner: "a", epoch: 1, version: 1, index: 0, isLast: true, channels: [])
        ).encoded()
        flags[flags.count - 5] = 3
        #expect(InterestMessage.decode(flags) == nil)
    }

    @Test func randomGarbageNeverCrashes() {
        var rng = SeededGenerator(seed: 0xBAD_5EED)
        var accepted = 0
        for round in 0..<50_000 {
            let length = Int(rng.next() % 64)
            var bytes = (0..<length).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            if round % 2 == 0, length >= 2 {
                // Plausible headers reach deeper into the decoders.
                bytes[0] = 1
                bytes[1] = UInt8(1 + rng.next() % 5)
            }
            if let message = InterestMessage.decode(bytes) {
                accepted += 1
                #expect(message.encoded() == bytes, "whatever decodes re-encodes to the same bytes")
            }
        }
        // Mutations of valid messages.
        for _ in 0..<20_000 {
            var bytes = Self.samples[Int(rng.next() % UInt64(Self.samples.count))].encoded()
            bytes[Int(rng.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: rng.next())
            if let message = InterestMessage.decode(bytes) {
                accepted += 1
                #expect(message.encoded() == bytes)
            }
        }
        print("interest wire fuzz: \(accepted) of 70000 random inputs decoded (all re-encode identically)")
    }
}
