import NIOCore
import Synchronization

/// The WebSocket sessions and subscriptions of ONE event loop. Everything here runs on `loop`, so the
/// message path takes no lock: a publish hops once per loop (not once per subscriber) and copies its frame
/// into the channel's `FrameBatch`; the flush then writes each batch to each subscriber as one shared buffer
/// and flushes every written connection once (a burst leaves in few large writes, one syscall per client per
/// flush rather than one per message).
///
/// Order: a channel's frames reach each subscriber in the order they were published here; a batch is written
/// out early ("sealed") whenever its audience is about to change or a frame must skip one member, so joining,
/// leaving and exclusions take effect exactly between two messages. Broadcasts and channel messages keep
/// their relative order on the loop as well (either kind seals the other before queueing).
final class SubscriptionShard {
    let loop: any EventLoop
    let index: Int
    /// Messages handed to this loop and not yet written (any thread reads it; publishers add, the loop subtracts).
    let backlog = Atomic<Int>(0)
    /// How often a flush may step behind queued deliveries before it flushes anyway (bounds the added latency).
    private static let maxFlushDeferrals = 8
    private var flushDeferrals = 0
    private var channels: [String: ShardChannel] = [:]
    private(set) var sessions: [ObjectIdentifier: WebSocketSession] = [:]
    /// Channels whose batch has frames waiting.
    private var queuedChannels: ContiguousArray<ShardChannel> = []
    /// Broadcast frames waiting for every session here.
    private var broadcasts = FrameBatch()
    /// Sessions written to since the last flush.
    private var dirty: ContiguousArray<WebSocketSession> = []
    private var flushScheduled = false
    private var lastFlush = NIODeadline.distantPast
    private let allocator = ByteBufferAllocator()

    /// How long published frames may wait for more before they are written together (see `scheduleFlush`).
    let flushDelay: TimeAmount

    init(loop: any EventLoop, index: Int, flushDelay: TimeAmount) {
        self.loop = loop
        self.index = index
        self.flushDelay = flushDelay
    }

    func register(_ session: WebSocketSession) {
        sealBroadcasts()
        sessions[ObjectIdentifier(session)] = session
    }

    func unregister(_ session: WebSocketSession) {
        sealBroadcasts()
        sessions.removeValue(forKey: ObjectIdentifier(session))
    }

    /// Adds a subscription; false when the session already had it.
    func subscribe(_ session: WebSocketSession, to channel: String) -> Bool {
        if let entry = channels[channel] {
            seal(entry)
            return entry.subscribers.insert(session)
        }
        let entry = ShardChannel()
        _ = entry.subscribers.insert(session)
        channels[channel] = entry
        return true
    }

    /// Removes a subscription; false when the session did not have it.
    func unsubscribe(_ session: WebSocketSession, from channel: String) -> Bool {
        guard let entry = channels[channel] else { return false }
        seal(entry)
        guard entry.subscribers.remove(session) else { return false }
        if entry.subscribers.isEmpty { channels.removeValue(forKey: channel) }
        return true
    }

    /// Queues `frame` for every subscriber of `channel` here except `excluded`; returns how many.
    @discardableResult
    func deliver(_ frame: ByteBuffer, to channel: String, excluding excluded: ObjectIdentifier?) -> Int {
        guard let entry = channels[channel] else { return 0 }
        sealBroadcasts()
        if let excluded, let sender = sessions[excluded], sender.channels.contains(channel) {
            // The sender is a subscriber here: this one frame goes to the others only, after what is queued.
            seal(entry)
            var count = 0
            for session in entry.subscribers.members where ObjectIdentifier(session) != excluded {
                if session.push(frame) { count += 1 }
            }
            return count
        }
        entry.batch.append(frame, allocator: allocator)
        if !entry.isQueued {
            entry.isQueued = true
            queuedChannels.append(entry)
            scheduleFlush()
        }
        return entry.subscribers.count
    }

    /// Queues `frame` for every session here; returns how many.
    @discardableResult
    func deliverToAll(_ frame: ByteBuffer) -> Int {
        guard !sessions.isEmpty else { return 0 }
        sealChannels()
        broadcasts.append(frame, allocator: allocator)
        scheduleFlush()
        return sessions.count
    }

    /// Called by a session that was written to and is not yet waiting for a flush.
    func markDirty(_ session: WebSocketSession) {
        dirty.append(session)
        scheduleFlush()
    }

    /// Flushes are at least `flushDelay` apart: the first frame after a quiet spell that long leaves at once
    /// (after the tasks already queued here), and under load the frames of one window leave together, so a
    /// busy subscriber costs one write per window however many messages it gets.
    private func scheduleFlush() {
        guard !flushScheduled else { return }
        flushScheduled = true
        let due = lastFlush + flushDelay
        if flushDelay == .zero || due <= NIODeadline.now() {
            loop.execute { [self] in flushDirty() }
        } else {
            loop.scheduleTask(deadline: due) { [self] in flushDirty() }
        }
    }

    /// Writes a channel's waiting frames to each of its subscribers (without flushing).
    private func seal(_ entry: ShardChannel) {
        guard !entry.batch.isEmpty else { return }
        let frames = entry.batch.take()
        for session in entry.subscribers.members { session.push(frames) }
    }

    private func sealChannels() {
        for entry in queuedChannels {
            entry.isQueued = false
            seal(entry)
        }
        queuedChannels.removeAll(keepingCapacity: true)
    }

    private func sealBroadcasts() {
        guard !broadcasts.isEmpty else { return }
        let frames = broadcasts.take()
        for session in sessions.values { session.push(frames) }
    }

    private func flushDirty() {
        // More deliveries are queued behind this task: let them add their frames first, then write once.
        if backlog.load(ordering: .relaxed) > 0, flushDeferrals < Self.maxFlushDeferrals {
            flushDeferrals += 1
            loop.execute { [self] in flushDirty() }
            return
        }
        flushDeferrals = 0
        lastFlush = .now()
        sealChannels()
        sealBroadcasts()
        var sessions: ContiguousArray<WebSocketSession> = []
        swap(&sessions, &dirty)
        // From here a new frame (even one queued by a flush below) schedules the next flush.
        flushScheduled = false
        for session in sessions { session.flushPending() }
    }
}

// Confined to `loop`: every method is called on it (publishers hop with `loop.execute`).
extension SubscriptionShard: @unchecked Sendable {}
