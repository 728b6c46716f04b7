import NIOCore
import RocketWSTestKit
import Testing

@testable import NodeServer

/// The shard's write decisions (`FanOutPacer`), driven with events and a made-up clock: no loop, no sockets.
@Suite struct FanOutPacerTests {
    private let t0 = NIODeadline.uptimeNanoseconds(1_000_000_000)
    private func at(_ ms: Double) -> NIODeadline { t0 + .nanoseconds(Int64(ms * 1e6)) }

    @Test func anIdleLoopWritesAMessageAsSoonAsItGetsToIt() {
        var pacer = FanOutPacer(bounds: .init(base: .zero, limit: .milliseconds(150)))
        #expect(pacer.wokeUp(now: at(0)) == .writeRound)
        #expect(pacer.roundEnded(now: at(0.1), moreWaiting: false) == .none)
        // The next message, 2 ms later, again at once.
        #expect(pacer.wokeUp(now: at(2)) == .writeRound)
        #expect(pacer.roundEnded(now: at(2.1), moreWaiting: false) == .none)
    }

    @Test func whatArrivesDuringARoundGoesOutInTheNextOneWithoutWaiting() {
        var pacer = FanOutPacer(bounds: .init(base: .zero, limit: .milliseconds(150)))
        #expect(pacer.wokeUp(now: at(0)) == .writeRound)
        #expect(pacer.roundEnded(now: at(1), moreWaiting: true) == .wakeAgain)
        #expect(pacer.isBusyWriting == false)
        #expect(pacer.wokeUp(now: at(1.02)) == .writeRound)
        #expect(pacer.roundEnded(now: at(2), moreWaiting: false) == .none)
        #expect(pacer.window.length == .zero)
    }

    @Test func aLoopStarvedOfCPUSpreadsItsRoundsAndComesBackWhenItIsNot() {
        var pacer = FanOutPacer(bounds: .init(base: .zero, limit: .milliseconds(150)))
        var now = 0.0
        #expect(pacer.wokeUp(now: at(now)) == .writeRound)
        var timers = 0
        for _ in 0..<60 {
            now += 0.5
            switch pacer.roundEnded(now: at(now), moreWaiting: true) {
            case .wakeAgain:
                now += 3  // the loop's next task starts 3 ms late
                #expect(pacer.wokeUp(now: at(now)) == .writeRound)
            case .armTimer(let due):
                timers += 1
                #expect(due == pacer.lastRound + pacer.window.length)
                now = max(now, Double((due - t0).nanoseconds) / 1e6) + 3  // the timer fires 3 ms late
                #expect(pacer.timerFired(due: due, now: at(now)) == .writeRound)
            default:
                Issue.record("a busy loop must write again")
            }
        }
        #expect(timers > 40)
        #expect(pacer.window.length == .milliseconds(150))
        // CPU is spare again: rounds start on time and the window shrinks to nothing.
        for _ in 0..<60 {
            now += 0.5
            switch pacer.roundEnded(now: at(now), moreWaiting: true) {
            case .wakeAgain:
                #expect(pacer.wokeUp(now: at(now)) == .writeRound)
            case .armTimer(let due):
                now = max(now, Double((due - t0).nanoseconds) / 1e6)
                #expect(pacer.timerFired(due: due, now: at(now)) == .writeRound)
            default:
                Issue.record("a busy loop must write again")
            }
        }
        #expect(pacer.window.length == .zero)
    }

    @Test func aLateWakeUpAfterAQuietSpellIsNeverTakenForSaturation() {
        var pacer = FanOutPacer(bounds: .init(base: .zero, limit: .milliseconds(150)))
        // Light load on a machine whose other work keeps the loop's wake-ups 3 ms late: rounds from idle only.
        for i in 0..<200 {
            let asked = Double(i) * 10
            #expect(pacer.wokeUp(now: at(asked + 3), requestedAt: at(asked)) == .writeRound)
            #expect(pacer.roundEnded(now: at(asked + 3.2), moreWaiting: false) == .none)
        }
        #expect(pacer.window.length == .zero)
    }

    @Test func lateWakeUpsOfALoopThatBarelyIdlesStretchTheWindow() {
        var pacer = FanOutPacer(bounds: .init(base: .zero, limit: .milliseconds(150)))
        // A burst on saturated CPUs: every round empties the inbox, the next message comes 0.5 ms after the
        // round's end, and the loop runs its wake-up 3 ms later.
        var now = 0.0
        var timers = 0
        for _ in 0..<60 {
            let asked = now + 0.5
            now = asked + 3
            switch pacer.wokeUp(now: at(now), requestedAt: at(asked)) {
            case .writeRound:
                break
            case .armTimer(let due):
                timers += 1
                now = max(now, Double((due - t0).nanoseconds) / 1e6) + 3
                #expect(pacer.timerFired(due: due, now: at(now)) == .writeRound)
            default:
                Issue.record("a wake-up on an idle loop must lead to a round")
            }
            now += 0.5
            #expect(pacer.roundEnded(now: at(now), moreWaiting: false) == .none)
        }
        #expect(timers > 40)
        #expect(pacer.window.length == .milliseconds(150))
    }

    @Test func aFixedWindowHoldsMessagesUntilItEndsAndAQuietSpellSkipsIt() {
        let base = TimeAmount.milliseconds(50)
        var pacer = FanOutPacer(bounds: .init(base: base, limit: base))
        #expect(pacer.wokeUp(now: at(0)) == .writeRound, "the first message after a quiet spell leaves at once")
        #expect(pacer.roundEnded(now: at(0.1), moreWaiting: false) == .none)
        #expect(pacer.wokeUp(now: at(10)) == .armTimer(at(50)))
        #expect(pacer.wokeUp(now: at(11)) == .none, "the armed timer takes care of it")
        #expect(pacer.timerFired(due: at(50), now: at(50.2)) == .writeRound)
        #expect(pacer.roundEnded(now: at(51), moreWaiting: true) == .armTimer(at(100.2)))
        #expect(pacer.timerFired(due: at(100.2), now: at(100.2)) == .writeRound)
        #expect(pacer.roundEnded(now: at(101), moreWaiting: false) == .none)
        #expect(pacer.wokeUp(now: at(400)) == .writeRound)
    }

    @Test func onlyTheOutermostOperationAppliesTheInbox() {
        let base = TimeAmount.milliseconds(50)
        var pacer = FanOutPacer(bounds: .init(base: base, limit: base))
        #expect(pacer.audienceChanging() == true)
        #expect(pacer.audienceChanging() == false, "a close inside a change's writes")
        pacer.audienceChanged()
        #expect(pacer.isBusyWriting == false)

        #expect(pacer.wokeUp(now: at(0)) == .writeRound)
        #expect(pacer.isBusyWriting)
        #expect(pacer.audienceChanging() == false, "a close inside a round's writes")
        #expect(pacer.forceRound(now: at(0.05)) == .none)
        #expect(pacer.roundEnded(now: at(0.1), moreWaiting: true) == .armTimer(at(50)))

        // A change while the timer is armed leaves the timer in charge.
        #expect(pacer.audienceChanging() == true)
        #expect(pacer.timerFired(due: at(50), now: at(50)) == .none, "not inside the change")
        pacer.audienceChanged()
        #expect(pacer.timerFired(due: at(50), now: at(50)) == .writeRound)
    }

    @Test func aForcedRoundSupersedesTheArmedTimer() {
        let base = TimeAmount.milliseconds(50)
        var pacer = FanOutPacer(bounds: .init(base: base, limit: base))
        #expect(pacer.wokeUp(now: at(0)) == .writeRound)
        #expect(pacer.roundEnded(now: at(1), moreWaiting: true) == .armTimer(at(50)))
        #expect(pacer.forceRound(now: at(20)) == .writeRound)
        #expect(pacer.roundEnded(now: at(21), moreWaiting: false) == .none)
        #expect(pacer.timerFired(due: at(50), now: at(50)) == .none)
    }

    /// Seeded simulation of one loop: messages arrive at a given rate, a round costs 0.2 ms plus 2 us per
    /// message, and while `starved` every task of the loop starts 2-4 ms late. Every message is written
    /// exactly once; at light load each in the round its own wake-up starts; starved, batches grow.
    @Test(arguments: [(100.0, false), (1000.0, false), (5000.0, false), (1000.0, true), (5000.0, true)])
    func simulatedLoadIsWrittenOnceAndBatchedOnlyWhenBusy(rate: Double, starved: Bool) {
        var sim = LoopSimulation(seed: 42, ratePerSecond: rate, starved: starved)
        sim.run(seconds: 3)
        #expect(sim.written == sim.published)
        #expect(sim.published > Int(rate * 2.5))
        if rate <= 100 {
            #expect(sim.largestBatch == 1)
            #expect(sim.worstWait < .milliseconds(1))
        }
        if starved {
            #expect(sim.largestBatch >= 100, "a starved loop writes fewer, larger batches")
        } else {
            #expect(sim.worstWait < .milliseconds(2), "spare CPU: no message waits for a window")
        }
    }
}

/// One fan-out loop as a discrete-event simulation around a real `FanOutPacer` (see the test above).
private struct LoopSimulation {
    private var random: SeededGenerator
    private let interval: Double
    private let starved: Bool
    private var pacer = FanOutPacer(bounds: .init(base: .zero, limit: .milliseconds(150)))
    /// Arrival times (ms) of messages in the inbox, and whether the loop was woken for them.
    private var inbox: [Double] = []
    private var wakeRequested = false
    /// The loop's tasks: (start time in ms, task).
    private enum Task { case wake(requestedAt: Double?), timer(NIODeadline) }
    private var tasks: [(Double, Task)] = []
    private(set) var published = 0
    private(set) var written = 0
    private(set) var largestBatch = 0
    private(set) var worstWait = TimeAmount.zero

    init(seed: UInt64, ratePerSecond: Double, starved: Bool) {
        random = SeededGenerator(seed: seed)
        interval = 1000 / ratePerSecond
        self.starved = starved
    }

    private static func deadline(_ ms: Double) -> NIODeadline { .uptimeNanoseconds(UInt64(1e9 + ms * 1e6)) }
    private static func ms(_ deadline: NIODeadline) -> Double { (Double(deadline.uptimeNanoseconds) - 1e9) / 1e6 }

    private mutating func delay() -> Double { starved ? 2 + 2 * random.unit() : 0.01 }

    private var nextArrival = 0.0
    private var end = 0.0

    mutating func run(seconds: Double) {
        end = seconds * 1000
        while nextArrival < end || !tasks.isEmpty {
            tasks.sort { $0.0 < $1.0 }
            guard let (now, task) = tasks.first, now <= nextArrival || nextArrival >= end else {
                arrive(before: nextArrival + 1e-9)
                continue
            }
            tasks.removeFirst()
            let action: FanOutPacer.Action
            switch task {
            case .wake(let asked): action = pacer.wokeUp(now: Self.deadline(now), requestedAt: asked.map(Self.deadline))
            case .timer(let due): action = pacer.timerFired(due: due, now: Self.deadline(now))
            }
            perform(action, now: now)
        }
    }

    /// Publishes every message due before `time` (the first one since the loop closed its inbox wakes it).
    private mutating func arrive(before time: Double) {
        while nextArrival < time, nextArrival < end {
            published += 1
            inbox.append(nextArrival)
            if !wakeRequested {
                wakeRequested = true
                tasks.append((nextArrival + delay(), .wake(requestedAt: nextArrival)))
            }
            nextArrival += interval * 2 * random.unit()
        }
    }

    private mutating func perform(_ action: FanOutPacer.Action, now: Double) {
        switch action {
        case .none: return
        case .wakeAgain: tasks.append((now + delay(), .wake(requestedAt: nil)))
        case .armTimer(let due): tasks.append((max(now, Self.ms(due)) + delay(), .timer(due)))
        case .writeRound:
            let batch = inbox
            inbox.removeAll()
            written += batch.count
            largestBatch = max(largestBatch, batch.count)
            for arrival in batch { worstWait = max(worstWait, .nanoseconds(Int64((now - arrival) * 1e6))) }
            let ended = now + 0.2 + 0.002 * Double(batch.count)
            arrive(before: ended)  // published while the round runs: in the inbox when it ends
            if inbox.isEmpty { wakeRequested = false }
            perform(pacer.roundEnded(now: Self.deadline(ended), moreWaiting: wakeRequested), now: ended)
        }
    }
}
