import NIOCore

/// The ping rule for one WebSocket client, as a pure state machine: frames heard, ticks of the loop's sweep in,
/// what to do out. A client silent for `pingInterval` gets a ping; one that stays silent `pongTimeout` after
/// the ping is dropped. Any frame counts as an answer.
///
/// Reads only set a flag (no clock read per frame); the sweep's next tick turns it into a time, so times are
/// known to the sweep's resolution (`LivenessSettings.sweepPeriod`).
struct ConnectionLiveness {
    /// What the session does after a tick.
    enum Action: Equatable {
        case none
        case sendPing
        case drop
    }

    let settings: LivenessSettings
    /// A frame arrived since the last tick.
    private var heardSinceTick = false
    /// When the client was last heard from (at tick resolution).
    private(set) var lastHeard: NIODeadline
    /// When the unanswered ping went out, if one did.
    private(set) var pingSentAt: NIODeadline?

    init(settings: LivenessSettings, now: NIODeadline) {
        self.settings = settings
        self.lastHeard = now
    }

    /// A frame (any frame) arrived from the client.
    @inline(__always)
    mutating func heard() {
        heardSinceTick = true
    }

    /// The sweep's periodic look at this connection.
    mutating func tick(now: NIODeadline) -> Action {
        if heardSinceTick {
            heardSinceTick = false
            lastHeard = now
            pingSentAt = nil
            return .none
        }
        if let pingSentAt {
            return now - pingSentAt >= settings.pongTimeout ? .drop : .none
        }
        // `lastHeard` may be up to one period late: ping one period early rather than one late.
        guard now - lastHeard >= settings.pingInterval - settings.sweepPeriod else { return .none }
        pingSentAt = now
        return .sendPing
    }
}
