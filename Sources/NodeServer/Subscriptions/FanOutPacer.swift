import NIOCore

/// When a fan-out loop writes: the decisions of `SubscriptionShard`'s message path as a pure state machine
/// (events and `now` in, actions out; no loop inside).
///
/// - An idle loop writes a message as soon as it gets to it: the publisher's wake-up starts a round at once.
/// - Batches grow only because the loop is busy: what is published while a round runs waits for the round's
///   end and goes out together in the next round, which runs as the loop's next task.
/// - Rounds are spread by a window (`AdaptiveWindow`) only while the loop is measured to be starved of CPU:
///   its back-to-back rounds start late.
/// - A change of audience applies the inbox first, except inside a round or another change (a write there can
///   close a session re-entrantly): only the outermost operation applies messages, so frames never overtake
///   older ones still being written.
struct FanOutPacer {
    enum Action: Equatable {
        /// Nothing to do until the next event.
        case none
        /// Write a round now: apply the inbox, write every batch, flush every written connection; then report
        /// `roundEnded`.
        case writeRound
        /// Run `wokeUp` again as the loop's next task (after the reads and tasks already queued there).
        case wakeAgain
        /// Arm a timer for this deadline and report `timerFired` with it.
        case armTimer(NIODeadline)
    }

    private enum Phase: Equatable {
        /// Nothing scheduled by the pacer: the next publisher's wake-up starts a round.
        case idle
        /// `wakeAgain` was asked for at this time: the loop is busy, and how late it runs is measured.
        case busy(since: NIODeadline)
        /// Waiting for a stretched window's end.
        case timerArmed(NIODeadline)
        /// Inside a round.
        case writing
        /// Inside a change of audience (outside a round).
        case changingAudience(returnTo: Saved)
    }

    /// What a change of audience returns to (a phase without the nesting).
    private enum Saved: Equatable {
        case idle
        case busy(since: NIODeadline)
        case timerArmed(NIODeadline)
    }

    private(set) var window: AdaptiveWindow
    private var phase: Phase = .idle
    /// When the last round started.
    private(set) var lastRound: NIODeadline

    init(bounds: AdaptiveWindow.Bounds, startedAt start: NIODeadline = .uptimeNanoseconds(0)) {
        self.window = AdaptiveWindow(bounds)
        self.lastRound = start
    }

    /// Inside a round or a change of audience (a session's write that closes it comes back re-entrantly).
    var isBusyWriting: Bool {
        switch phase {
        case .writing, .changingAudience: return true
        case .idle, .busy, .timerArmed: return false
        }
    }

    // MARK: Events

    /// A wake-up ran on the loop: a publisher's (the loop was idle; `requestedAt`: when the publisher asked for
    /// it, nil when unknown) or the pacer's own `wakeAgain`.
    ///
    /// A publisher's wake-up is late when the loop was kept from its CPU. That counts as saturation only when
    /// the loop had been idle for less than `AdaptiveWindow.briefIdle` (messages keep coming faster than the
    /// loop gets to them, as in a burst): after a longer quiet spell a window would only delay the next message.
    mutating func wokeUp(now: NIODeadline, requestedAt: NIODeadline? = nil) -> Action {
        switch phase {
        case .idle:
            let quietFor = (requestedAt ?? now) - lastRound
            window.opening(quietFor: now - lastRound)
            let late = requestedAt.map { now - $0 } ?? .zero
            window.roundStarted(lateness: quietFor < AdaptiveWindow.briefIdle ? late : .zero)
        case .busy(let since):
            window.roundStarted(lateness: now - since)
        case .timerArmed, .writing, .changingAudience:
            // The timer or the running operation's end takes care of what is waiting.
            return .none
        }
        let due = lastRound + window.length
        guard due <= now else {
            phase = .timerArmed(due)
            return .armTimer(due)
        }
        return startRound(now: now)
    }

    /// A timer armed by `armTimer(due)` fired.
    mutating func timerFired(due: NIODeadline, now: NIODeadline) -> Action {
        guard phase == .timerArmed(due) else { return .none }  // superseded (a forced round ran meanwhile)
        window.roundStarted(lateness: now - due)
        return startRound(now: now)
    }

    /// A round ended; `moreWaiting`: messages were published meanwhile (the shell checked the inbox and, when
    /// it was empty, closed it under the same lock, so the next publisher wakes the loop).
    mutating func roundEnded(now: NIODeadline, moreWaiting: Bool) -> Action {
        guard moreWaiting else {
            phase = .idle
            return .none
        }
        let due = lastRound + window.length
        guard due <= now else {
            phase = .timerArmed(due)
            return .armTimer(due)
        }
        phase = .busy(since: now)
        return .wakeAgain
    }

    /// A round forced from outside (shutdown): writes now whatever the window, and ends with `roundEnded`.
    mutating func forceRound(now: NIODeadline) -> Action {
        guard !isBusyWriting else { return .none }
        return startRound(now: now)
    }

    /// A change of audience begins; true when the caller applies the inbox first and reports
    /// `audienceChanged` at its end (false: a nested change, inside a round or another change).
    mutating func audienceChanging() -> Bool {
        switch phase {
        case .writing, .changingAudience: return false
        case .idle: phase = .changingAudience(returnTo: .idle)
        case .busy(let since): phase = .changingAudience(returnTo: .busy(since: since))
        case .timerArmed(let due): phase = .changingAudience(returnTo: .timerArmed(due))
        }
        return true
    }

    /// The outermost change of audience ended.
    mutating func audienceChanged() {
        guard case .changingAudience(let saved) = phase else { return }
        switch saved {
        case .idle: phase = .idle
        case .busy(let since): phase = .busy(since: since)
        case .timerArmed(let due): phase = .timerArmed(due)
        }
    }

    private mutating func startRound(now: NIODeadline) -> Action {
        phase = .writing
        lastRound = now
        return .writeRound
    }
}
