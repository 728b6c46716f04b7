import NIOCore
import Synchronization

/// The WebSocket sessions and subscriptions of ONE event loop. Everything here runs on `loop`, so the
/// message path takes no lock: a publish hops once per loop (not once per subscriber), writes the shared
/// frame to each subscriber, and flushes every written connection once the messages queued behind it on this
/// loop are written too (so a burst leaves in few large writes rather than one syscall per message).
final class SubscriptionShard {
    let loop: any EventLoop
    let index: Int
    /// Messages handed to this loop and not yet written (any thread reads it; publishers add, the loop subtracts).
    let backlog = Atomic<Int>(0)
    /// How often a flush may step behind queued deliveries before it flushes anyway (bounds the added latency).
    private static let maxFlushDeferrals = 8
    private var flushDeferrals = 0
    private var channels: [String: SubscriberList<WebSocketSession>] = [:]
    private(set) var sessions: [ObjectIdentifier: WebSocketSession] = [:]
    private var dirty: ContiguousArray<WebSocketSession> = []
    private var flushScheduled = false

    /// How long written frames may wait for more before they are flushed together (see `markDirty`).
    let flushDelay: TimeAmount

    init(loop: any EventLoop, index: Int, flushDelay: TimeAmount) {
        self.loop = loop
        self.index = index
        self.flushDelay = flushDelay
    }

    func register(_ session: WebSocketSession) {
        sessions[ObjectIdentifier(session)] = session
    }

    func unregister(_ session: WebSocketSession) {
        sessions.removeValue(forKey: ObjectIdentifier(session))
    }

    /// Adds a subscription; false when the session already had it.
    func subscribe(_ session: WebSocketSession, to channel: String) -> Bool {
        if let list = channels[channel] { return list.insert(session) }
        let list = SubscriberList<WebSocketSession>()
        _ = list.insert(session)
        channels[channel] = list
        return true
    }

    /// Removes a subscription; false when the session did not have it.
    func unsubscribe(_ session: WebSocketSession, from channel: String) -> Bool {
        guard let list = channels[channel], list.remove(session) else { return false }
        if list.isEmpty { channels.removeValue(forKey: channel) }
        return true
    }

    /// Writes `frame` to every subscriber of `channel` here except `excluded`; returns how many.
    @discardableResult
    func deliver(_ frame: ByteBuffer, to channel: String, excluding excluded: ObjectIdentifier?) -> Int {
        guard let list = channels[channel] else { return 0 }
        var count = 0
        for session in list.members where ObjectIdentifier(session) != excluded {
            if session.push(frame) { count += 1 }
        }
        return count
    }

    /// Writes `frame` to every session here; returns how many.
    @discardableResult
    func deliverToAll(_ frame: ByteBuffer) -> Int {
        var count = 0
        for session in sessions.values where session.push(frame) { count += 1 }
        return count
    }

    /// Called by a session that was written to and is not yet waiting for a flush.
    /// The first write after a flush schedules the next one `flushDelay` later, so the frames of the messages
    /// that arrive in between leave in one write per connection (one syscall carries many frames in a burst).
    func markDirty(_ session: WebSocketSession) {
        dirty.append(session)
        if !flushScheduled {
            flushScheduled = true
            if flushDelay == .zero {
                loop.execute { [self] in flushDirty() }
            } else {
                loop.scheduleTask(in: flushDelay) { [self] in flushDirty() }
            }
        }
    }

    private func flushDirty() {
        // More deliveries are queued behind this task: let them add their frames first, then write once.
        if backlog.load(ordering: .relaxed) > 0, flushDeferrals < Self.maxFlushDeferrals {
            flushDeferrals += 1
            loop.execute { [self] in flushDirty() }
            return
        }
        flushDeferrals = 0
        flushScheduled = false
        let sessions = dirty
        dirty.removeAll(keepingCapacity: true)
        for session in sessions { session.flushPending() }
    }
}

// Confined to `loop`: every method is called on it (publishers hop with `loop.execute`).
extension SubscriptionShard: @unchecked Sendable {}
