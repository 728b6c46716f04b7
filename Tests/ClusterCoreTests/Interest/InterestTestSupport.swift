@testable import ClusterCore

/// SplitMix64: a small, seeded, deterministic generator for the interest tests.
struct InterestTestRNG: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { self.state = seed }

    mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// `true` with probability `p`.
    mutating func chance(_ p: Double) -> Bool { p > 0 && Double(self.next() >> 11) / Double(1 << 53) < p }
}

extension InterestDirective {
    /// The message and destination (nil = broadcast) of a send/broadcast directive.
    var outgoing: (message: InterestMessage, to: String?)? {
        switch self {
        case .broadcast(let message): return (message, nil)
        case .send(let message, let to): return (message, to)
        case .acknowledged, .routesChanged, .ignored: return nil
        }
    }
}

extension Array where Element == InterestDirective {
    var deltas: [InterestDelta] {
        self.compactMap { if case .broadcast(.delta(let d)) = $0 { return d } else { return nil } }
    }

    var snapshotChunks: [InterestSnapshotChunk] {
        self.compactMap { if case .send(.snapshot(let c), _) = $0 { return c } else { return nil } }
    }

    var syncRequests: [(InterestSyncRequest, String)] {
        self.compactMap { if case .send(.syncRequest(let r), let to) = $0 { return (r, to) } else { return nil } }
    }

    var acks: [(InterestAck, String)] {
        self.compactMap { if case .send(.ack(let a), let to) = $0 { return (a, to) } else { return nil } }
    }

    var ignoredReasons: [InterestIgnoredReason] {
        self.compactMap { if case .ignored(let r) = $0 { return r } else { return nil } }
    }
}
