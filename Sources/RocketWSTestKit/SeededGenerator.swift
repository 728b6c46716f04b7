import ClusterCore

/// The package's one seeded generator (ClusterCore's SplitMix64) for seeded tests and simulations: the same
/// seed gives the same run everywhere.
///
/// NOT FOR PUBLIC CONSUMPTION: a helper of this package's tests.
public typealias SeededGenerator = SeededRandom
