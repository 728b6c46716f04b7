import NIOCore
import Testing

@testable import NodeServer

/// The fan-out window's controller, driven with lateness samples (no loop, no clock).
@Suite struct AdaptiveWindowTests {
    private let base = TimeAmount.milliseconds(50)
    private let limit = TimeAmount.milliseconds(150)

    @Test func startsAtTheBaseAndStaysThereWhileTimersAreOnTime() {
        var window = AdaptiveWindow(base: base, limit: limit)
        #expect(window.length == base)
        for _ in 0..<100 { window.windowEnded(lateness: .microseconds(200)) }
        #expect(window.length == base)
    }

    @Test func stretchesToTheLimitWhileTimersRunLateAndComesBackWhenTheyDoNot() {
        var window = AdaptiveWindow(base: base, limit: limit)
        var lengths: [TimeAmount] = []
        for _ in 0..<20 { lengths.append(window.windowEnded(lateness: .milliseconds(3))) }
        #expect(window.length == limit)
        // A quarter of the base per window end, never past the limit.
        #expect(zip(lengths, lengths.dropFirst()).allSatisfy { $1 - $0 <= .microseconds(12_500) })
        #expect(lengths.max() == limit)
        var back = 0
        while window.length > base, back < 100 {
            window.windowEnded(lateness: .zero)
            back += 1
        }
        #expect(window.length == base)
        #expect(back < 30, "back to the base window within a few dozen windows, took \(back)")
    }

    @Test func aLoneLateTimerDoesNotMoveTheWindow() {
        var window = AdaptiveWindow(base: base, limit: limit)
        for _ in 0..<10 { window.windowEnded(lateness: .microseconds(100)) }
        window.windowEnded(lateness: .milliseconds(10))
        var longest = window.length
        for _ in 0..<40 { longest = max(longest, window.windowEnded(lateness: .microseconds(100))) }
        #expect(longest == base)
    }

    @Test func aLimitAtTheBaseTurnsAdaptationOff() {
        for (b, l) in [(base, base), (base, .milliseconds(10)), (.zero, limit)] {
            var window = AdaptiveWindow(base: b, limit: l)
            for _ in 0..<50 { window.windowEnded(lateness: .milliseconds(20)) }
            #expect(window.length == b)
        }
    }

    @Test func aQuietSpellLongerThanTheLimitStartsAgainFromTheBase() {
        var window = AdaptiveWindow(base: base, limit: limit)
        for _ in 0..<20 { window.windowEnded(lateness: .milliseconds(3)) }
        window.opening(quietFor: limit)
        #expect(window.length == limit, "a pause as long as the longest window is not a quiet spell")
        window.opening(quietFor: limit + .milliseconds(1))
        #expect(window.length == base)
        #expect(window.averageLateness == 0)
    }
}
