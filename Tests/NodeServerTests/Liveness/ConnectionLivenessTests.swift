import NIOCore
import RocketWSTestKit
import Testing

@testable import NodeServer

/// The ping rule without sockets: frames heard and sweep ticks in, ping/drop out.
struct ConnectionLivenessTests {
    static let settings = LivenessSettings(pingInterval: .seconds(25), pongTimeout: .seconds(10))
    static let start = NIODeadline.uptimeNanoseconds(1_000_000_000_000)

    static func at(_ seconds: Double) -> NIODeadline {
        start + .nanoseconds(Int64(seconds * 1e9))
    }

    /// Ticks once per sweep period from `from` to `to` seconds; the (time, action) pairs that were not `.none`.
    static func run(_ liveness: inout ConnectionLiveness, from: Double, to: Double, hearing: Set<Int> = []) -> [(Double, ConnectionLiveness.Action)] {
        let period = Double(liveness.settings.sweepPeriod.nanoseconds) / 1e9
        var actions: [(Double, ConnectionLiveness.Action)] = []
        var t = from
        while t <= to + 1e-9 {
            if hearing.contains(Int(t.rounded())) { liveness.heard() }
            let action = liveness.tick(now: at(t))
            if action != .none { actions.append((t, action)) }
            t += period
        }
        return actions
    }

    @Test func aSilentClientIsPingedAfterTheIntervalAndDroppedAfterThePongTimeout() {
        var liveness = ConnectionLiveness(settings: Self.settings, now: Self.start)
        let actions = Self.run(&liveness, from: 1, to: 60)
        // One ping, then the drop verdict (repeated each tick until the session acts on it).
        #expect(actions.first?.1 == .sendPing)
        #expect(actions.dropFirst().allSatisfy { $0.1 == .drop } && actions.count >= 2)
        let ping = actions.first!.0
        let drop = actions.dropFirst().first!.0
        // Pinged within one sweep period of the interval, dropped no earlier than the pong timeout after it and
        // within interval + timeout + two periods of the last sign of life.
        #expect(ping >= 24 && ping <= 25)
        #expect(drop - ping >= 10)
        #expect(drop <= 25 + 10 + 2)
    }

    @Test func anyFrameBeforeTheTimeoutAnswersThePing() {
        var liveness = ConnectionLiveness(settings: Self.settings, now: Self.start)
        #expect(Self.run(&liveness, from: 1, to: 24).map(\.1) == [.sendPing])
        // A request (not a pong) at 30 s: no drop, and the next ping only after another full interval.
        let after = Self.run(&liveness, from: 25, to: 62, hearing: [30])
        #expect(after.map(\.1) == [.sendPing])
        #expect(after.first.map { $0.0 >= 30 + 24 } == true)
    }

    @Test func aClientThatKeepsTalkingIsNeverPinged() {
        var liveness = ConnectionLiveness(settings: Self.settings, now: Self.start)
        let chatty = Set(stride(from: 0, through: 300, by: 20))
        #expect(Self.run(&liveness, from: 1, to: 300, hearing: chatty).isEmpty)
    }

    @Test func aDroppedVerdictRepeatsUntilTheSessionActs() {
        var liveness = ConnectionLiveness(settings: LivenessSettings(pingInterval: .seconds(1), pongTimeout: .seconds(1)), now: Self.start)
        let actions = Self.run(&liveness, from: 0.1, to: 3)
        #expect(actions.first?.1 == .sendPing)
        #expect(actions.dropFirst().allSatisfy { $0.1 == .drop })
        #expect(actions.count >= 2)
    }

    @Test func theSweepPeriodIsATenthOfTheShorterTimeBetween10msAnd1s() {
        #expect(LivenessSettings(pingInterval: .seconds(25), pongTimeout: .seconds(10)).sweepPeriod == .seconds(1))
        #expect(LivenessSettings(pingInterval: .seconds(1), pongTimeout: .seconds(2)).sweepPeriod == .milliseconds(100))
        #expect(LivenessSettings(pingInterval: .milliseconds(50), pongTimeout: .seconds(2)).sweepPeriod == .milliseconds(10))
    }

    /// Seeded random traffic: whatever the pattern, a drop only ever follows a ping answered by silence for
    /// at least the pong timeout, and a client silent for interval + timeout + two periods is always dropped.
    @Test(arguments: [1, 2, 3, 4, 5, 6, 7, 8]) func randomTrafficNeverDropsATalkingClientAndAlwaysDropsASilentOne(seed: UInt64) {
        var random = SeededGenerator(seed: seed)
        let settings = LivenessSettings(pingInterval: .seconds(5), pongTimeout: .seconds(3))
        let period = Double(settings.sweepPeriod.nanoseconds) / 1e9
        var liveness = ConnectionLiveness(settings: settings, now: Self.start)
        var lastFrame = 0.0
        var pingAt: Double?
        var t = period
        while t < 200 {
            // Frames arrive at random moments between ticks, with long silences sometimes.
            if random.next() % 100 < 3 {
                liveness.heard()
                lastFrame = t - period / 2
            }
            switch liveness.tick(now: Self.at(t)) {
            case .none:
                #expect(t - lastFrame < 5 + 3 + 2 * period + 1e-6, "silent since \(lastFrame), not dropped at \(t)")
            case .sendPing:
                #expect(t - lastFrame >= 5 - 2 * period - 1e-6)
                pingAt = t
            case .drop:
                let ping = try! #require(pingAt)
                #expect(t - ping >= 3 - 1e-6 && lastFrame < ping, "dropped at \(t): ping \(ping), last frame \(lastFrame)")
                liveness = ConnectionLiveness(settings: settings, now: Self.at(t))
                lastFrame = t
                pingAt = nil
            }
            t += period
        }
    }
}
