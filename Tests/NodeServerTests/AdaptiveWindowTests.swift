import NIOCore
import Testing

@testable import NodeServer

/// The fan-out window's controller, driven with lateness samples (no loop, no clock).
@Suite struct AdaptiveWindowTests {
    private let limit = TimeAmount.milliseconds(150)

    @Test func aLoopWithSpareCPUKeepsNoWindowAtAll() {
        var window = AdaptiveWindow(base: .zero, limit: limit)
        #expect(window.length == .zero)
        // A thread's wake-up costs tens of microseconds: never a reason to wait.
        for _ in 0..<1000 { window.roundStarted(lateness: .microseconds(80)) }
        #expect(window.length == .zero)
    }

    @Test func stretchesToTheLimitWhileRoundsStartLateAndComesBackWhenTheyDoNot() {
        var window = AdaptiveWindow(base: .zero, limit: limit)
        var lengths: [TimeAmount] = []
        for _ in 0..<40 { lengths.append(window.roundStarted(lateness: .milliseconds(3))) }
        #expect(window.length == limit)
        // Doubling from 1 ms: the limit within a dozen stretched rounds, never past it.
        let stretched = lengths.filter { $0 > .zero }
        #expect(stretched.first == AdaptiveWindow.smallestStretch)
        #expect(stretched.prefix(while: { $0 < limit }).count <= 9)
        #expect(lengths.max() == limit)
        #expect(zip(lengths, lengths.dropFirst()).allSatisfy { $1 >= $0 }, "grows monotonically while saturated")
        var back = 0
        while window.length > .zero, back < 100 {
            window.roundStarted(lateness: .zero)
            back += 1
        }
        #expect(window.length == .zero)
        #expect(back < 40, "back to no window within a few dozen rounds, took \(back)")
    }

    @Test func aLoneLateRoundDoesNotMoveTheWindow() {
        var window = AdaptiveWindow(base: .zero, limit: limit)
        for _ in 0..<10 { window.roundStarted(lateness: .microseconds(100)) }
        window.roundStarted(lateness: .milliseconds(100))
        var longest = window.length
        for _ in 0..<40 { longest = max(longest, window.roundStarted(lateness: .microseconds(100))) }
        #expect(longest == .zero)
    }

    @Test func lateRoundsBetweenTheThresholdsHoldTheWindowWhereItIs() {
        var window = AdaptiveWindow(base: .zero, limit: limit)
        for _ in 0..<4 { window.roundStarted(lateness: .milliseconds(3)) }
        // 0.6 ms late from now on: the average settles between relaxed (0.25 ms) and saturated (1 ms).
        for _ in 0..<30 { window.roundStarted(lateness: .microseconds(600)) }
        let held = window.length
        #expect(held > .zero)
        #expect(held < limit)
        for _ in 0..<200 { window.roundStarted(lateness: .microseconds(600)) }
        #expect(window.length == held)
    }

    @Test func aFixedBaseWindowIsKeptAndStretchedFrom() {
        let base = TimeAmount.milliseconds(20)
        var window = AdaptiveWindow(base: base, limit: limit)
        for _ in 0..<100 { window.roundStarted(lateness: .zero) }
        #expect(window.length == base)
        for _ in 0..<40 { window.roundStarted(lateness: .milliseconds(3)) }
        #expect(window.length == limit)
        for _ in 0..<100 { window.roundStarted(lateness: .zero) }
        #expect(window.length == base)
    }

    @Test func aLimitAtTheBaseTurnsStretchingOff() {
        for (b, l) in [(TimeAmount.milliseconds(50), TimeAmount.milliseconds(50)), (.milliseconds(50), .milliseconds(10)), (.zero, .zero)] {
            var window = AdaptiveWindow(base: b, limit: l)
            for _ in 0..<50 { window.roundStarted(lateness: .milliseconds(20)) }
            #expect(window.length == b)
        }
    }

    @Test func aQuietSpellLongerThanTheLimitStartsAgainFromTheBase() {
        var window = AdaptiveWindow(base: .zero, limit: limit)
        for _ in 0..<40 { window.roundStarted(lateness: .milliseconds(3)) }
        window.opening(quietFor: limit)
        #expect(window.length == limit, "a pause as long as the longest window is not a quiet spell")
        window.opening(quietFor: limit + .milliseconds(1))
        #expect(window.length == .zero)
        #expect(window.averageLateness == 0)
    }
}
