import NIOConcurrencyHelpers
import NIOCore
import Synchronization

/// The WebSocket sessions and subscriptions of ONE event loop, and its part of the message path.
///
/// Publishers (any thread) append to the shard's inbox without waking the loop; only the first message of a
/// window schedules the window's end, a window after the previous flush (at once after a quiet spell). The
/// window is `flushDelay`, stretched towards `maxFlushDelay` while the CPUs are saturated (`AdaptiveWindow`).
/// When the window closes the loop applies the inbox: each frame is copied into its channel's `FrameBatch`,
/// every batch is written to each of its subscribers as one shared buffer, and every written connection is
/// flushed once. A busy subscriber costs one write per window however many messages it gets, and the
/// publishing thread pays one locked append per loop and message, no thread wake-up.
///
/// Order: a channel's frames reach each subscriber in the order they were published to this shard. A change
/// of audience (register, subscribe, unsubscribe, unregister) first applies the inbox and writes out the
/// affected batch ("seals" it), so a subscription takes effect exactly between two messages. Broadcasts and
/// channel messages keep their relative order as well (either kind seals the other before queueing).
final class SubscriptionShard {
    let loop: any EventLoop
    let index: Int
    /// How long published frames may wait for more before they are written together (see `SubscriptionShard`).
    private var window: AdaptiveWindow {
        didSet { publishedLength.store(window.length.nanoseconds, ordering: .relaxed) }
    }
    /// `window`'s bounds and current length, for readers on other threads (`windowLength`).
    private let windowBounds: AdaptiveWindow.Bounds
    private let publishedLength: Synchronization.Atomic<Int64>
    /// The current window, readable from any thread: the base one once the loop has been quiet long enough that
    /// the next message starts from it (`AdaptiveWindow.opening`).
    var windowLength: TimeAmount {
        windowBounds.isQuietSpell(.now() - lastFlush) ? windowBounds.base : .nanoseconds(publishedLength.load(ordering: .relaxed))
    }

    private struct Inbox {
        var deliveries: [ShardDelivery] = []
        /// A window is open: its end is scheduled (or about to be) and will apply everything queued.
        var windowOpen = false

        /// Opens the window; true when it was closed (the caller schedules its end).
        mutating func openWindow() -> Bool {
            defer { windowOpen = true }
            return !windowOpen
        }
    }
    private let inbox = NIOLockedValueBox(Inbox())

    // Loop-confined state.
    private var channels: [String: ShardChannel] = [:]
    private(set) var sessions: [ObjectIdentifier: WebSocketSession] = [:]
    /// Channels whose batch has frames waiting (and possibly some sealed since, which the next seal skips).
    private var queuedChannels: ContiguousArray<ShardChannel> = []
    /// Broadcast frames waiting for every session here.
    private var broadcasts = FrameBatch()
    /// Sessions written to since the last flush.
    private var dirty: ContiguousArray<WebSocketSession> = []
    /// When the last window ended (uptime nanoseconds): written on the loop, read by `windowLength` too.
    private let lastFlushNanos = Synchronization.Atomic<UInt64>(0)
    private var lastFlush: NIODeadline {
        get { .uptimeNanoseconds(lastFlushNanos.load(ordering: .relaxed)) }
        set { lastFlushNanos.store(newValue.uptimeNanoseconds, ordering: .relaxed) }
    }
    /// How many shard operations (a window's end, an audience change) are on the stack. A write can close a
    /// session re-entrantly (a write error ends the connection), and the audience change that follows must not
    /// apply messages published meanwhile: only the outermost operation applies the inbox, so frames are never
    /// written ahead of older ones still being sealed.
    private var depth = 0
    /// Promises of congested publishers, completed at the next flush.
    private var writtenPromises: [EventLoopPromise<Void>] = []
    /// The inbox's other array (see `applyTaken`).
    private var spareDeliveries: [ShardDelivery] = []
    private let allocator = ByteBufferAllocator()

    /// A channel batch this big is written and flushed before its window ends: a whole window's frames count
    /// against each subscriber's queue bound until flushed, and a client that keeps up must not be closed.
    let earlyWriteBytes: Int

    /// `flushDelay`: the window when CPU is plentiful; `maxFlushDelay`: the longest it stretches to while the
    /// CPUs are saturated (nil or `flushDelay`: never stretched).
    init(loop: any EventLoop, index: Int, flushDelay: TimeAmount, maxFlushDelay: TimeAmount? = nil, earlyWriteBytes: Int = 1 << 20) {
        self.loop = loop
        self.index = index
        let bounds = AdaptiveWindow.Bounds(base: flushDelay, limit: maxFlushDelay ?? flushDelay)
        self.windowBounds = bounds
        self.window = AdaptiveWindow(bounds)
        self.publishedLength = Synchronization.Atomic(bounds.base.nanoseconds)
        self.earlyWriteBytes = earlyWriteBytes
    }

    // MARK: Publishing (any thread)

    /// Messages waiting in the inbox above which a publisher is made to wait for its own message's write.
    static let backlogLimit = 4096

    /// Queues a frame for the subscribers of `channel` (or, with nil, for every session) here. Returns a
    /// future of its write when this shard already has `backlogLimit` messages waiting (backpressure), else nil.
    func enqueue(_ frame: ByteBuffer, channel: String?, excluding excluded: WebSocketSession? = nil) -> EventLoopFuture<Void>? {
        let (opensWindow, written) = inbox.withLockedValue { inbox -> (Bool, EventLoopPromise<Void>?) in
            let written = inbox.deliveries.count >= Self.backlogLimit ? loop.makePromise(of: Void.self) : nil
            inbox.deliveries.append(ShardDelivery(frame: frame, channel: channel, excluded: excluded, written: written))
            return (inbox.openWindow(), written)
        }
        if opensWindow { loop.execute { [self] in scheduleWindowEnd() } }
        return written?.futureResult
    }

    // MARK: Sessions and subscriptions (on the loop)

    func register(_ session: WebSocketSession) {
        changingAudience {
            sealBroadcasts()
            sessions[ObjectIdentifier(session)] = session
        }
    }

    func unregister(_ session: WebSocketSession) {
        changingAudience {
            sealBroadcasts()
            sessions.removeValue(forKey: ObjectIdentifier(session))
        }
    }

    /// Adds a subscription; false when the session already had it.
    func subscribe(_ session: WebSocketSession, to channel: String) -> Bool {
        changingAudience {
            if let entry = channels[channel] { seal(entry) }
            // Looked up again: the seal's writes may have closed the channel's last subscriber and dropped its entry.
            if let entry = channels[channel] { return entry.subscribers.insert(session) }
            let entry = ShardChannel()
            _ = entry.subscribers.insert(session)
            channels[channel] = entry
            return true
        }
    }

    /// Removes a subscription; false when the session did not have it.
    func unsubscribe(_ session: WebSocketSession, from channel: String) -> Bool {
        changingAudience {
            guard let entry = channels[channel] else { return false }
            seal(entry)
            guard entry.subscribers.remove(session) else { return false }
            if entry.subscribers.isEmpty, channels[channel] === entry { channels.removeValue(forKey: channel) }
            return true
        }
    }

    /// An audience change: the messages published before it are applied first (by the outermost shard
    /// operation only, see `depth`), so it takes effect exactly between two messages.
    private func changingAudience<Result>(_ change: () -> Result) -> Result {
        depth += 1
        defer { depth -= 1 }
        if depth == 1 { applyTaken() }
        return change()
    }

    /// Called by a session that was written to outside a window (a sealed batch) and is not yet waiting for a flush.
    func markDirty(_ session: WebSocketSession) {
        dirty.append(session)
        if inbox.withLockedValue({ $0.openWindow() }) { scheduleWindowEnd() }
    }

    // MARK: The window

    /// Flushes are at least a window apart (`flushDelay`, longer while the CPUs are saturated: `AdaptiveWindow`):
    /// after a quiet spell that long the window ends at once (after the tasks already queued here); under load it
    /// ends a window after the previous flush.
    private func scheduleWindowEnd() {
        let now = NIODeadline.now()
        let due = lastFlush + window.length
        if window.length == .zero || due <= now {
            window.opening(quietFor: now - lastFlush)
            loop.execute { [self] in endWindow(due: now) }
        } else {
            loop.scheduleTask(deadline: due) { [self] in endWindow(due: due) }
        }
    }

    /// `due`: when the window's end was meant to run; how late it ran sizes the next window.
    private func endWindow(due: NIODeadline) {
        depth += 1
        defer { depth -= 1 }
        window.windowEnded(lateness: .now() - due)
        applyTaken()
        lastFlush = .now()
        sealChannels()
        sealBroadcasts()
        var sessions: ContiguousArray<WebSocketSession> = []
        swap(&sessions, &dirty)
        let written = writtenPromises
        writtenPromises.removeAll()
        // Close the window; messages queued since the take above open the next one at once.
        let reopen = inbox.withLockedValue { inbox -> Bool in
            if inbox.deliveries.isEmpty { inbox.windowOpen = false }
            return inbox.windowOpen
        }
        for session in sessions { session.flushPending() }
        for promise in written { promise.succeed() }
        if reopen { scheduleWindowEnd() }
    }

    /// Ends the current window now (node shutdown: what was accepted is written before clients are closed).
    func flushNow() {
        let open = inbox.withLockedValue { $0.windowOpen }
        if open || !dirty.isEmpty { endWindow(due: .now()) }
    }

    /// Swaps the inbox with an empty array (whose storage alternates between the two: no allocation per take)
    /// and applies what it held.
    private func applyTaken() {
        var taken: [ShardDelivery] = []
        swap(&taken, &spareDeliveries)
        inbox.withLockedValue { swap(&taken, &$0.deliveries) }
        apply(taken)
        taken.removeAll(keepingCapacity: true)
        spareDeliveries = taken
    }

    private func apply(_ deliveries: [ShardDelivery]) {
        for delivery in deliveries {
            if let channel = delivery.channel {
                deliver(delivery.frame, to: channel, excluding: delivery.excluded)
            } else {
                deliverToAll(delivery.frame)
            }
            if let written = delivery.written { writtenPromises.append(written) }
        }
    }

    /// Queues `frame` for every subscriber of `channel` here except `excluded`.
    private func deliver(_ frame: ByteBuffer, to channel: String, excluding excluded: WebSocketSession?) {
        guard let entry = channels[channel] else { return }
        sealBroadcasts()
        if let excluded, excluded.channels.contains(channel), sessions[ObjectIdentifier(excluded)] === excluded {
            // The sender is a subscriber here: this one frame goes to the others only, after what is queued.
            seal(entry)
            for session in entry.subscribers.members where session !== excluded { session.push(frame) }
            return
        }
        // An empty batch is in no list yet (a sealed one may still be listed: sealing it again is a no-op).
        if entry.batch.isEmpty { queuedChannels.append(entry) }
        entry.batch.append(frame, allocator: allocator)
        if entry.batch.byteCount >= earlyWriteBytes {
            seal(entry)
            for session in entry.subscribers.members { session.flushPending() }
        }
    }

    /// Queues `frame` for every session here.
    private func deliverToAll(_ frame: ByteBuffer) {
        guard !sessions.isEmpty else { return }
        sealChannels()
        broadcasts.append(frame, allocator: allocator)
    }

    /// Writes a channel's waiting frames to each of its subscribers (without flushing).
    private func seal(_ entry: ShardChannel) {
        guard !entry.batch.isEmpty else { return }
        let frames = entry.batch.take()
        for session in entry.subscribers.members { session.push(frames) }
    }

    private func sealChannels() {
        // Taken out first: a session closed by one of these writes must not change the list being walked.
        var entries: ContiguousArray<ShardChannel> = []
        swap(&entries, &queuedChannels)
        for entry in entries { seal(entry) }
        if queuedChannels.isEmpty {
            entries.removeAll(keepingCapacity: true)
            queuedChannels = entries
        }
    }

    private func sealBroadcasts() {
        guard !broadcasts.isEmpty else { return }
        let frames = broadcasts.take()
        for session in sessions.values { session.push(frames) }
    }
}

// Loop-confined state is only touched on `loop`; the inbox is behind its lock.
extension SubscriptionShard: @unchecked Sendable {}
