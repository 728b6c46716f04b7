/// A small seedable pseudo-random generator (SplitMix64, Steele, Lea & Flood 2014), the package's one: the
/// membership instance draws all its randomness (probe order, indirect probe helpers, jitter) from it, so a
/// given seed and a given sequence of inputs always produce the same directives; the AMQP consumer's
/// reconnect jitter and the tests' seeded runs use it too. Not cryptographic.
public struct SeededRandom: RandomNumberGenerator, Sendable, Hashable {
    private var state: UInt64

    public init(seed: UInt64) {
        self.state = seed
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    public mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }

    /// `true` with probability `p`.
    public mutating func chance(_ p: Double) -> Bool { p > 0 && unit() < p }
}

extension Membership {
    /// The generator the membership instance draws from.
    public typealias SeededRandom = ClusterCore.SeededRandom
}
