import ClusterCore
import NIOCore

/// Delays between reconnection attempts: exponential from `initial`, capped at `maximum`, each drawn at random
/// from its upper half (so nodes that lost the same broker do not all come back in the same instant).
public struct AMQPBackoff: Sendable {
    public var initial: TimeAmount
    public var maximum: TimeAmount
    private var attempt = 0
    private var random: SeededRandom

    public init(initial: TimeAmount = .milliseconds(250), maximum: TimeAmount = .seconds(5), seed: UInt64) {
        self.initial = initial
        self.maximum = maximum
        self.random = SeededRandom(seed: seed)
    }

    /// The delay before the next attempt.
    public mutating func next() -> TimeAmount {
        let shift = min(attempt, 30)
        attempt += 1
        let ceiling = min(maximum.nanoseconds, initial.nanoseconds.multipliedReportingOverflow(by: 1 << shift).overflow ? maximum.nanoseconds : initial.nanoseconds << shift)
        let half = ceiling / 2
        let fraction = random.unit()
        return .nanoseconds(half + Int64(Double(ceiling - half) * fraction))
    }

    /// A connection got as far as consuming: the next loss starts from `initial` again.
    public mutating func reset() {
        attempt = 0
    }
}
