import NIOCore

/// How long a fan-out window lasts, stretched while the machine's CPUs are saturated.
///
/// Most of a window's cost is per client, not per message: one write, one wake-up of the reader, one flush.
/// When CPU is short, fewer and larger writes are what lets more messages through, so the window grows from
/// `base` towards `limit`; when CPU is plentiful the extra latency buys nothing, so it shrinks back to `base`.
///
/// The sign of saturation is lateness: how long after its deadline the loop got to run a window's end (the
/// fan-out threads run at a lower priority, so they are the first kept waiting). A pure state machine: it
/// takes each window end's lateness and answers the length of the next window.
struct AdaptiveWindow {
    /// The shortest and the longest window; immutable, so they can be read from any thread.
    struct Bounds: Sendable {
        /// The window when CPU is plentiful (`--flush-delay-us`).
        let base: TimeAmount
        /// The longest window (`--max-flush-delay-us`); equal to `base` turns adaptation off.
        let limit: TimeAmount

        init(base: TimeAmount, limit: TimeAmount) {
            self.base = base
            self.limit = max(base, limit)
        }

        /// Whether a loop that has not flushed for `quietFor` starts again from the base: quiet for longer than
        /// the longest window, whatever kept the CPUs busy before is old news.
        func isQuietSpell(_ quietFor: TimeAmount) -> Bool { quietFor > limit }
    }

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

    /// Lateness above this average (2 % of the base window) counts as saturation.
    var saturatedAbove: Int64 { base.nanoseconds / 50 }
    /// Lateness below this average (1 % of the base window) counts as spare CPU.
    var relaxedBelow: Int64 { base.nanoseconds / 100 }

    /// A window opens `quietFor` after the last flush: after a quiet spell, back to the base with no history.
    mutating func opening(quietFor: TimeAmount) {
        guard bounds.isQuietSpell(quietFor) else { return }
        length = base
        averageLateness = 0
    }

    /// Records how late a window's end ran and returns the next window's length. The window grows or shrinks by
    /// a quarter of `base` per window end, so it takes a few windows to move; a sample counts for at most four
    /// times the saturation level, so a lone very late timer does not move it at all.
    @discardableResult
    mutating func windowEnded(lateness: TimeAmount) -> TimeAmount {
        let sample = min(max(0, lateness.nanoseconds), 4 * saturatedAbove)
        averageLateness += (sample - averageLateness) / 8
        let step = base.nanoseconds / 4
        if averageLateness > saturatedAbove {
            length = .nanoseconds(min(limit.nanoseconds, length.nanoseconds + step))
        } else if averageLateness < relaxedBelow {
            length = .nanoseconds(max(base.nanoseconds, length.nanoseconds - step))
        }
        return length
    }
}
