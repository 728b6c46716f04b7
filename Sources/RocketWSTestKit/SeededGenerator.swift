import ClusterCore

/// The package's one seeded generator (ClusterCore's SplitMix64, which the membership instance draws from) for
/// seeded tests and simulations: the same seed gives the same run everywhere.
///
/// NOT FOR PUBLIC CONSUMPTION: a helper of this package's tests.
public typealias SeededGenerator = Membership.SeededRandom

extension Membership.SeededRandom {
    /// Uniform in [0, 1).
    public mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }

    /// `true` with probability `p`.
    public mutating func chance(_ p: Double) -> Bool { p > 0 && unit() < p }
}
