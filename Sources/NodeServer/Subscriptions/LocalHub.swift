import ClusterKit
import NIOConcurrencyHelpers
import NIOCore

/// This node's clients and subscriptions across all event loops: one `SubscriptionShard` per loop for the
/// message path, plus node-wide counts (behind a lock, touched on subscribe/unsubscribe and once per publish)
/// that tell when a channel gains its first or loses its last local subscriber.
public final class LocalHub: Sendable {
    private let shards: [SubscriptionShard]
    private struct Counts {
        /// channel -> subscribers per shard index
        var channels: [String: [Int]] = [:]
        var subscriptions = 0
        var connections = 0
    }
    private let counts = NIOLockedValueBox(Counts())

    /// One shard per loop of `group`.
    /// `earlyWriteBytes`: a channel's batch that grows this big inside a window is written and flushed at once
    /// (keep it well under the per-client queue bound, which a batch counts against until flushed).
    /// `maxFlushDelay`: the longest a window stretches while the CPUs are saturated (nil: never stretched).
    public init(group: any EventLoopGroup, flushDelay: TimeAmount = .zero, maxFlushDelay: TimeAmount? = nil, earlyWriteBytes: Int = 1 << 20) {
        var shards: [SubscriptionShard] = []
        for (i, loop) in group.makeIterator().enumerated() {
            shards.append(
                SubscriptionShard(loop: loop, index: i, flushDelay: flushDelay, maxFlushDelay: maxFlushDelay, earlyWriteBytes: earlyWriteBytes))
        }
        self.shards = shards
    }

    /// The longest current fan-out window of any loop.
    public var longestWindow: TimeAmount { shards.map(\.windowLength).max() ?? .zero }

    func shard(for loop: any EventLoop) -> SubscriptionShard {
        for shard in shards where shard.loop === loop { return shard }
        preconditionFailure("event loop is not part of this hub's group")
    }

    // MARK: Sessions (called on the session's loop)

    func register(_ session: WebSocketSession) {
        session.shard.register(session)
        counts.withLockedValue { $0.connections += 1 }
    }

    /// Forgets a closed session; returns the channels that lost their last local subscriber.
    func unregister(_ session: WebSocketSession) -> [String] {
        session.shard.unregister(session)
        var emptied: [String] = []
        for channel in session.channels where session.shard.unsubscribe(session, from: channel) {
            if decrement(channel, shard: session.shard.index) { emptied.append(channel) }
        }
        counts.withLockedValue { $0.connections -= 1 }
        return emptied
    }

    /// Adds a subscription. `added` is false when the session already had it; `activated` is true when it is
    /// the first local subscriber of the channel.
    /// `held`: the session gets the channel's frames only from `release` on (a history subscriber waiting for
    /// its replay).
    func subscribe(_ session: WebSocketSession, to channel: String, held: Bool = false) -> (added: Bool, activated: Bool) {
        guard session.shard.subscribe(session, to: channel, held: held) else { return (false, false) }
        session.channels.insert(channel)
        let index = session.shard.index
        let shardCount = shards.count
        let activated = counts.withLockedValue { counts -> Bool in
            counts.subscriptions += 1
            if var perShard = counts.channels[channel] {
                perShard[index] += 1
                counts.channels[channel] = perShard
                return false
            }
            var perShard = [Int](repeating: 0, count: shardCount)
            perShard[index] = 1
            counts.channels[channel] = perShard
            return true
        }
        return (true, activated)
    }

    /// Removes a subscription. `removed` is false when the session did not have it; `deactivated` is true when
    /// it was the last local subscriber of the channel.
    func unsubscribe(_ session: WebSocketSession, from channel: String) -> (removed: Bool, deactivated: Bool) {
        guard session.shard.unsubscribe(session, from: channel) else { return (false, false) }
        session.channels.remove(channel)
        return (true, decrement(channel, shard: session.shard.index))
    }

    private func decrement(_ channel: String, shard index: Int) -> Bool {
        counts.withLockedValue { counts -> Bool in
            counts.subscriptions -= 1
            guard var perShard = counts.channels[channel] else { return false }
            perShard[index] -= 1
            if perShard.allSatisfy({ $0 <= 0 }) {
                counts.channels.removeValue(forKey: channel)
                return true
            }
            counts.channels[channel] = perShard
            return false
        }
    }

    // MARK: Publishing (any thread)

    /// Hands a frame to every loop with subscribers of `channel` (minus `session`, a subscriber itself) and
    /// returns how many subscribers it goes to. `frame` is built only when there is someone to write it to, once,
    /// and the same buffer goes to every loop. `settled` is nil when the loops keep up; when one of them has
    /// `SubscriptionShard.backlogLimit` messages waiting, it completes once this message is written there
    /// (backpressure).
    func publish(to channel: String, excluding session: WebSocketSession? = nil, offset: UInt64 = 0, frame: () -> ByteBuffer) -> DeliveryReceipt {
        guard let perShard = counts.withLockedValue({ $0.channels[channel] }) else { return DeliveryReceipt(count: 0) }
        var total = 0
        let frame = frame()
        var waits: [EventLoopFuture<Void>] = []
        for shard in shards where perShard[shard.index] > 0 {
            total += perShard[shard.index]
            let excluded = session.flatMap { $0.shard === shard ? $0 : nil }
            waits.appendIfCongested(shard.enqueue(frame, channel: channel, excluding: excluded, offset: offset))
        }
        if session != nil { total -= 1 }
        return DeliveryReceipt(count: max(total, 0), settled: waits.settled(on: shards[0].loop))
    }

    /// Hands a frame to every connected client of this node; returns how many (see `publish` for `frame` and
    /// `settled`).
    func broadcast(frame: () -> ByteBuffer) -> DeliveryReceipt {
        let total = counts.withLockedValue { $0.connections }
        guard total > 0 else { return DeliveryReceipt(count: 0) }
        let frame = frame()
        var waits: [EventLoopFuture<Void>] = []
        for shard in shards {
            waits.appendIfCongested(shard.enqueue(frame, channel: nil))
        }
        return DeliveryReceipt(count: total, settled: waits.settled(on: shards[0].loop))
    }

    // MARK: Views

    /// Connected WebSocket clients.
    public var connectionCount: Int { counts.withLockedValue { $0.connections } }
    /// Subscriptions over all clients and channels.
    public var subscriptionCount: Int { counts.withLockedValue { $0.subscriptions } }
    /// channel -> local subscribers.
    public func channelCounts() -> [String: Int] {
        counts.withLockedValue { $0.channels.mapValues { $0.reduce(0, +) } }
    }

    /// Writes out every loop's open window now (shutdown: accepted messages leave before clients are closed).
    func flushAll() -> EventLoopFuture<Void> {
        let futures = shards.map { shard in shard.loop.submit { shard.flushNow() } }
        return EventLoopFuture.andAllSucceed(futures, on: shards[0].loop)
    }

    /// Drops sessions whose connection is gone but that are still registered; returns how many.
    func flushDeadSessions() -> EventLoopFuture<Int> {
        countSessions { $0.flushIfDead() ? 1 : 0 }
    }

    /// Runs `body` on every shard's loop for each of its sessions and adds up what it returns.
    func countSessions(_ body: @escaping @Sendable (WebSocketSession) -> Int) -> EventLoopFuture<Int> {
        let futures = shards.map { shard in
            shard.loop.submit { Array(shard.sessions.values).reduce(0) { $0 + body($1) } }
        }
        return EventLoopFuture.reduce(0, futures, on: shards[0].loop, +)
    }

    /// Polls until no session is connected or `within` passed.
    func waitForSessionsToClose(within limit: Duration) async throws {
        let deadline = ContinuousClock.now + limit
        while connectionCount > 0, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Runs `body` on every shard's loop with its sessions; completes when all are done.
    func forEachSession(_ body: @escaping @Sendable (WebSocketSession) -> Void) -> EventLoopFuture<Void> {
        let futures = shards.map { shard in
            shard.loop.submit { for session in shard.sessions.values { body(session) } }
        }
        return EventLoopFuture.andAllSucceed(futures, on: shards[0].loop)
    }
}

extension [EventLoopFuture<Void>] {
    fileprivate mutating func appendIfCongested(_ future: EventLoopFuture<Void>?) {
        if let future { append(future) }
    }

    /// nil when nothing is to be waited for.
    fileprivate func settled(on loop: any EventLoop) -> EventLoopFuture<Void>? {
        isEmpty ? nil : EventLoopFuture.andAllSucceed(self, on: loop)
    }
}
