import NIOConcurrencyHelpers
import NIOCore
import Synchronization

/// The WebSocket sessions and subscriptions of ONE event loop, and its part of the message path.
///
/// Publishers (any thread) append to the shard's inbox; only the first message while the loop has nothing
/// scheduled wakes it. The loop then writes a round: it applies the inbox (each frame is copied into its
/// channel's `FrameBatch`), writes every batch to each of its subscribers as one shared buffer, and flushes
/// every written connection once. What is published while a round runs goes out together in the next round,
/// the loop's next task; so an idle loop writes a message as soon as it gets to it, and batches grow only
/// with the load. While the loop is starved of CPU its rounds are spread further apart (`FanOutPacer`,
/// `AdaptiveWindow`): fewer, larger writes then let more messages through. A busy subscriber costs one
/// write per round however many messages it gets, and the publishing thread pays one locked append per loop
/// and message.
///
/// Order: a channel's frames reach each subscriber in the order they were published to this shard. A change
/// of audience (register, subscribe, unsubscribe, unregister) first applies the inbox and writes out the
/// affected batch ("seals" it), so a subscription takes effect exactly between two messages. Broadcasts and
/// channel messages keep their relative order as well (either kind seals the other before queueing).
final class SubscriptionShard {
    let loop: any EventLoop
    let index: Int
    /// When the loop writes (rounds, windows, re-entrancy); loop-confined.
    private var pacer: FanOutPacer {
        didSet {
            publishedLength.store(pacer.window.length.nanoseconds, ordering: .relaxed)
            lastRoundNanos.store(pacer.lastRound.uptimeNanoseconds, ordering: .relaxed)
        }
    }
    /// The window's bounds, and the pacer's current window and last round, for readers on other threads.
    private let windowBounds: AdaptiveWindow.Bounds
    private let publishedLength: Synchronization.Atomic<Int64>
    private let lastRoundNanos = Synchronization.Atomic<UInt64>(0)
    /// The current window, readable from any thread: the base one once the loop has been quiet long enough that
    /// the next round starts from it (`AdaptiveWindow.opening`).
    var windowLength: TimeAmount {
        let quietFor = NIODeadline.now() - .uptimeNanoseconds(lastRoundNanos.load(ordering: .relaxed))
        return windowBounds.isQuietSpell(quietFor) ? windowBounds.base : .nanoseconds(publishedLength.load(ordering: .relaxed))
    }

    private struct Inbox {
        var deliveries: [ShardDelivery] = []
        /// The loop has been woken (or has a round scheduled) and will apply everything queued.
        var wakeRequested = false

        /// Notes a wake-up; true when none was requested yet (the caller wakes the loop).
        mutating func requestWake() -> Bool {
            defer { wakeRequested = true }
            return !wakeRequested
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
    /// Promises of congested publishers, completed at the next flush.
    private var writtenPromises: [EventLoopPromise<Void>] = []
    /// The inbox's other array (see `applyTaken`).
    private var spareDeliveries: [ShardDelivery] = []
    private let allocator = ByteBufferAllocator()

    /// A channel batch this big is written and flushed before its round ends: a round's frames count against
    /// each subscriber's queue bound until flushed, and a client that keeps up must not be closed.
    let earlyWriteBytes: Int

    /// `flushDelay`: the shortest time between two rounds while CPU is spare (zero: rounds follow the load);
    /// `maxFlushDelay`: the longest it stretches to while the loop is starved of CPU (nil or `flushDelay`:
    /// never stretched).
    init(loop: any EventLoop, index: Int, flushDelay: TimeAmount, maxFlushDelay: TimeAmount? = nil, earlyWriteBytes: Int = 1 << 20) {
        self.loop = loop
        self.index = index
        let bounds = AdaptiveWindow.Bounds(base: flushDelay, limit: maxFlushDelay ?? flushDelay)
        self.windowBounds = bounds
        self.pacer = FanOutPacer(bounds: bounds)
        self.publishedLength = Synchronization.Atomic(bounds.base.nanoseconds)
        self.earlyWriteBytes = earlyWriteBytes
    }

    // MARK: Publishing (any thread)

    /// Messages waiting in the inbox above which a publisher is made to wait for its own message's write.
    static let backlogLimit = 4096

    /// Queues a frame for the subscribers of `channel` (or, with nil, for every session) here. Returns a
    /// future of its write when this shard already has `backlogLimit` messages waiting (backpressure), else nil.
    func enqueue(_ frame: ByteBuffer, channel: String?, excluding excluded: WebSocketSession? = nil, offset: UInt64 = 0) -> EventLoopFuture<Void>? {
        let (wakes, written) = inbox.withLockedValue { inbox -> (Bool, EventLoopPromise<Void>?) in
            let written = inbox.deliveries.count >= Self.backlogLimit ? loop.makePromise(of: Void.self) : nil
            inbox.deliveries.append(ShardDelivery(frame: frame, channel: channel, excluded: excluded, written: written, offset: offset))
            return (inbox.requestWake(), written)
        }
        if wakes { wakeLoop(requestedAt: .now()) }
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

    /// Adds a subscription; false when the session already had it. `held`: the channel's frames are kept for
    /// the session until `release` (a history subscriber waiting for its replay).
    func subscribe(_ session: WebSocketSession, to channel: String, held: Bool = false) -> Bool {
        changingAudience {
            if let entry = channels[channel] { seal(entry) }
            // Looked up again: the seal's writes may have closed the channel's last subscriber and dropped its entry.
            let entry = channels[channel] ?? ShardChannel()
            channels[channel] = entry
            guard !entry.held.contains(where: { $0.session === session }) else { return false }
            guard held else { return entry.subscribers.insert(session) }
            guard !entry.subscribers.contains(session) else { return false }
            entry.held.append(HeldSubscriber(session: session))
            return true
        }
    }

    /// Ends a hold: writes `replay`, then the frames kept meanwhile whose offset is above `cut`, and makes the
    /// session an ordinary subscriber, between two messages. False when the session is no longer held.
    @discardableResult
    func release(_ session: WebSocketSession, from channel: String, replay: [ByteBuffer], cut: UInt64) -> Bool {
        changingAudience {
            guard let entry = channels[channel], let index = entry.held.firstIndex(where: { $0.session === session }) else { return false }
            seal(entry)
            let held = entry.held.remove(at: index)
            for frame in replay { session.push(frame) }
            for kept in held.frames where kept.offset > cut { session.push(kept.frame) }
            return entry.subscribers.insert(session)
        }
    }

    /// Removes a subscription; false when the session did not have it.
    func unsubscribe(_ session: WebSocketSession, from channel: String) -> Bool {
        changingAudience {
            guard let entry = channels[channel] else { return false }
            seal(entry)
            if let index = entry.held.firstIndex(where: { $0.session === session }) {
                entry.held.remove(at: index)
            } else {
                guard entry.subscribers.remove(session) else { return false }
            }
            if entry.isUnused, channels[channel] === entry { channels.removeValue(forKey: channel) }
            return true
        }
    }

    /// An audience change: the messages published before it are applied first (by the outermost shard
    /// operation only, see `FanOutPacer`), so it takes effect exactly between two messages.
    private func changingAudience<Result>(_ change: () -> Result) -> Result {
        guard pacer.audienceChanging() else { return change() }
        applyTaken()
        let result = change()
        pacer.audienceChanged()
        // Batches sealed by the change wait for their flush in the next round.
        if !dirty.isEmpty, inbox.withLockedValue({ $0.requestWake() }) { wakeLoop() }
        return result
    }

    /// Called by a session on its first write since its last flush.
    func markDirty(_ session: WebSocketSession) {
        dirty.append(session)
    }

    // MARK: Rounds

    /// Wakes the loop for the inbox; a publisher's wake-up says when it was asked for (how late the loop runs
    /// it is the pacer's sign of saturation).
    private func wakeLoop(requestedAt: NIODeadline? = nil) {
        loop.execute { [self] in perform(pacer.wokeUp(now: .now(), requestedAt: requestedAt)) }
    }

    private func perform(_ action: FanOutPacer.Action) {
        switch action {
        case .none:
            return
        case .writeRound:
            writeRound()
        case .wakeAgain:
            wakeLoop()
        case .armTimer(let due):
            loop.scheduleTask(deadline: due) { [self] in perform(pacer.timerFired(due: due, now: .now())) }
        }
    }

    /// Applies the inbox, writes every batch, flushes every written connection, then tells the pacer whether
    /// more is waiting (closing the inbox under the same lock when not, so the next publisher wakes the loop).
    private func writeRound() {
        applyTaken()
        sealChannels()
        sealBroadcasts()
        var sessions: ContiguousArray<WebSocketSession> = []
        swap(&sessions, &dirty)
        let written = writtenPromises
        writtenPromises.removeAll()
        for session in sessions { session.flushPending() }
        for promise in written { promise.succeed() }
        sessions.removeAll(keepingCapacity: true)
        if dirty.isEmpty { dirty = sessions }
        // Sessions written to during the flushes (a re-entrant close's seal) wait for the next round too.
        let unflushed = !dirty.isEmpty
        let more = inbox.withLockedValue { inbox -> Bool in
            if inbox.deliveries.isEmpty, !unflushed { inbox.wakeRequested = false }
            return inbox.wakeRequested
        }
        perform(pacer.roundEnded(now: .now(), moreWaiting: more))
    }

    /// Writes a round now, whatever the window (node shutdown: what was accepted is written before clients are
    /// closed).
    func flushNow() {
        perform(pacer.forceRound(now: .now()))
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
                deliver(delivery.frame, to: channel, excluding: delivery.excluded, offset: delivery.offset)
            } else {
                deliverToAll(delivery.frame)
            }
            if let written = delivery.written { writtenPromises.append(written) }
        }
    }

    /// Queues `frame` for every subscriber of `channel` here except `excluded`.
    private func deliver(_ frame: ByteBuffer, to channel: String, excluding excluded: WebSocketSession?, offset: UInt64) {
        guard let entry = channels[channel] else { return }
        for held in entry.held where held.session !== excluded { held.keep(frame, offset: offset) }
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
