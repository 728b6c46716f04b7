import NIOCore

/// Delays between reconnection attempts: exponential from `initial`, capped at `maximum`, each drawn at random
/// from its upper half (so nodes that lost the same broker do not all come back in the same instant).
public struct AMQPBackoff: Sendable {
    public var initial: TimeAmount
    public var maximum: TimeAmount
    private var attempt = 0
    private var random: SplitMix64

    public init(initial: TimeAmount = .milliseconds(250), maximum: TimeAmount = .seconds(5), seed: UInt64) {
        self.initial = initial
        self.maximum = maximum
        self.random = SplitMix64(seed: seed)
    }

    /// The delay before the next attempt.
    public mutating func next() -> TimeAmount {
        let shift = min(attempt, 30)
        attempt += 1
        let ceiling = min(maximum.nanoseconds, initial.nanoseconds.multipliedReportingOverflow(by: 1 << shift).overflow ? maximum.nanoseconds : initial.nanoseconds << shift)
        let half = ceiling / 2
        let fraction = Double(random.next() >> 11) / Double(1 << 53)
        return .nanoseconds(half + Int64(Double(ceiling - half) * fraction))
    }

    /// A connection got as far as consuming: the next loss starts from `initial` again.
    public mutating func reset() {
        attempt = 0
    }
}

/// A small seeded generator (deterministic jitter in tests).
struct SplitMix64: Sendable {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
