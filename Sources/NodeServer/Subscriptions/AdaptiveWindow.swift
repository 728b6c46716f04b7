import NIOCore

/// The shortest time between two write rounds of one fan-out loop: `base` (zero by default: a round follows
/// the previous one as soon as the loop gets to it) while CPU is spare, stretched towards `limit` while the
/// machine's CPUs are saturated.
///
/// Most of a round's cost is per client, not per message: one write, one wake-up of the reader, one flush.
/// When CPU is short, fewer and larger writes are what lets more messages through, so the window grows; when
/// CPU is spare the extra latency buys nothing, so it shrinks back to `base`.
///
/// The sign of saturation is lateness: how long after it was due a busy loop got to run its next round (the
/// fan-out threads run at a lower priority, so they are the first kept waiting). A pure state machine: it
/// takes each round's lateness and answers the window before the next one.
struct AdaptiveWindow {
    /// The shortest and the longest window; immutable, so they can be read from any thread.
    struct Bounds: Sendable {
        /// The window when CPU is spare (`--flush-delay-us`; zero: rounds follow the load).
        let base: TimeAmount
        /// The longest window (`--max-flush-delay-us`); equal to `base` turns stretching off.
        let limit: TimeAmount

        init(base: TimeAmount, limit: TimeAmount) {
            self.base = max(.zero, base)
            self.limit = max(self.base, limit)
        }

        /// Whether a loop that has not started a round for `quietFor` starts again from the base: quiet for
        /// longer than the longest window, whatever kept the CPUs busy before is old news.
        func isQuietSpell(_ quietFor: TimeAmount) -> Bool { quietFor > limit }
    }

    /// A lateness average above this counts as saturation (a loop kept from its CPU for a millisecond at a time).
    static let saturatedAbove: Int64 = 1_000_000
    /// A lateness average below this counts as spare CPU (a thread's wake-up costs tens of microseconds).
    static let relaxedBelow: Int64 = 250_000
    /// An idle spell shorter than this between two rounds still counts as a busy loop: a publisher's late
    /// wake-up after it is a sign of saturation (see `FanOutPacer.wokeUp`).
    static let briefIdle = TimeAmount.milliseconds(2)
    /// The first stretch, and the shortest stretched window (below it the window falls back to `base`).
    static let smallestStretch = TimeAmount.milliseconds(1)

    let bounds: Bounds
    var base: TimeAmount { bounds.base }
    var limit: TimeAmount { bounds.limit }
    /// The current length.
    private(set) var length: TimeAmount
    /// Moving average of the lateness, in nanoseconds (each new sample weighs 1/8).
    private(set) var averageLateness: Int64 = 0

    init(_ bounds: Bounds) {
        self.bounds = bounds
        self.length = bounds.base
    }

    init(base: TimeAmount, limit: TimeAmount) {
        self.init(Bounds(base: base, limit: limit))
    }

    /// A round starts `quietFor` after the previous one: after a quiet spell, back to the base with no history.
    mutating func opening(quietFor: TimeAmount) {
        guard bounds.isQuietSpell(quietFor) else { return }
        length = base
        averageLateness = 0
    }

    /// Records how late a round started and returns the window before the next one. Saturation doubles the
    /// window (a burst reaches the limit within a few dozen rounds, a fraction of a second); spare CPU takes a
    /// quarter off per round (a stretched window comes back within a few of its own lengths). A sample counts
    /// for at most four times the saturation level, so one very late round does not stretch it at all.
    @discardableResult
    mutating func roundStarted(lateness: TimeAmount) -> TimeAmount {
        let sample = min(max(0, lateness.nanoseconds), 4 * Self.saturatedAbove)
        averageLateness += (sample - averageLateness) / 8
        guard base < limit else { return length }
        if averageLateness > Self.saturatedAbove {
            let grown = max(length.nanoseconds * 2, base.nanoseconds + Self.smallestStretch.nanoseconds)
            length = .nanoseconds(min(limit.nanoseconds, grown))
        } else if averageLateness < Self.relaxedBelow, length > base {
            let shrunk = length.nanoseconds - length.nanoseconds / 4
            length = shrunk < base.nanoseconds + Self.smallestStretch.nanoseconds ? base : .nanoseconds(shrunk)
        }
        return length
    }
}
