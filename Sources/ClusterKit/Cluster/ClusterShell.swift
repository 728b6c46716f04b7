import Logging
import Metrics
import NIOCore
import Synchronization

/// The I/O shell of one cluster node: it feeds every backend request, mesh event, frame and timer tick into
/// the pure ``Cluster/Instance`` (which owns membership, the interest table, pending requests, outboxes and
/// visibility waiters) and carries out the directives it answers over the `PeerMesh`. It decides nothing.
///
/// All its state lives on one event loop (`loop`, asserted on every use); every entry point hops there (a
/// forward asked on `loop` runs directly; with no active peer a forward is answered without a hop).
public final class ClusterShell: @unchecked Sendable {  // mutable state is confined to `loop` (asserted)
    public let settings: ClusterSettings
    /// The loop that owns the cluster instance and the promises of its requests.
    public let loop: any EventLoop
    /// The peer mesh the shell sends over; a service of its own (it drains after the shell has left).
    public let mesh: PeerMesh
    private let logger: Logger
    private let allocator = ByteBufferAllocator()
    private let startedAt = ContinuousClock.now
    var instance: Cluster.Instance<ByteBuffer>
    weak var delegate: (any ClusterDeliveryDelegate)?
    private var tick: Scheduled<Void>?
    private var countRequests: [Cluster.RequestID: EventLoopPromise<[NodeCount]>] = [:]
    private var statsRequests: [Cluster.RequestID: EventLoopPromise<[LocalStats]>] = [:]
    private var visibilityRequests: [Cluster.RequestID: EventLoopPromise<Void>] = [:]
    var presenceRequests: [Cluster.RequestID: EventLoopPromise<[PresenceReply]>] = [:]
    private var historyAppends: [Cluster.RequestID: EventLoopPromise<History.AppendOutcome>] = [:]
    private var historyReads: [Cluster.RequestID: EventLoopPromise<History.ReadOutcome<ByteBuffer>>] = [:]
    private let ownerChanges: Counter
    /// Messages and bytes of history this node keeps, as the instance last published them.
    private let historyKept = Mutex<(messages: Int, bytes: Int)>((0, 0))
    private let forwardsSent: Counter
    private let forwardsDropped: Counter
    private let malformedFrames: Counter
    /// Members as other threads see them (status queries), as the instance last published them.
    private let snapshot = Mutex<[MemberView]>([])
    /// The bound peer port once ``start()`` ran.
    private let boundPort = Mutex<Int?>(nil)

    /// `metrics` receives the cluster's and the mesh's counters (the node passes its Prometheus registry's).
    public init(settings: ClusterSettings, group: any EventLoopGroup, logger: Logger, metrics: any MetricsFactory = MetricsSystem.factory) {
        self.settings = settings
        self.loop = group.next()
        var logger = logger
        logger[metadataKey: "cluster/node"] = "\(settings.nodeName)"
        self.logger = logger
        let myself = Membership.Member(name: settings.nodeName, address: settings.advertisedAddress, incarnation: settings.incarnation)
        self.instance = Cluster.Instance(myself: myself, settings: settings.core, seed: settings.incarnation)
        let identity = PeerIdentity(name: settings.nodeName, address: settings.advertisedAddress, incarnation: settings.incarnation)
        self.mesh = PeerMesh(identity: identity, settings: settings.mesh, group: group, logger: logger, metrics: metrics)
        self.forwardsSent = Counter(label: "rocketws_forwards_sent_total", dimensions: [], factory: metrics)
        self.forwardsDropped = Counter(label: "rocketws_forwards_dropped_total", dimensions: [], factory: metrics)
        self.malformedFrames = Counter(label: "rocketws_cluster_malformed_frames_total", dimensions: [], factory: metrics)
        self.ownerChanges = Counter(label: "rocketws_channel_owner_changes_total", dimensions: [], factory: metrics)
    }

    public func setDelegate(_ delegate: any ClusterDeliveryDelegate) {
        self.delegate = delegate
    }

    var now: Duration { ContinuousClock.now - startedAt }

    // MARK: Lifecycle

    /// Binds the peer listener, starts the protocol timer and dials the seeds; returns the bound peer port.
    /// Once: a later call returns the same port.
    public func start() async throws -> Int {
        if let port = boundPort.withLock({ $0 }) { return port }
        mesh.setDelegate(self)
        let port = try await mesh.start()
        try await loop.submit { [self] in execute(instance.start(seeds: settings.seeds, now: now)) }.get()
        boundPort.withLock { $0 = port }
        return port
    }

    /// Leaves gracefully: tells every peer this node is `left`, lets that gossip go out and answers what still
    /// waits. The mesh stays up (its own service drains it later, so forwards in flight still finish).
    public func leave() async {
        let linger = settings.membership.probeInterval * 2
        try? await loop.submit { [self] in execute(instance.leave(now: now)) }.get()
        try? await Task.sleep(for: linger)
        try? await loop.submit { [self] in
            tick?.cancel()
            tick = nil
            execute(instance.stop())
        }.get()
    }

    // MARK: Views (any thread)

    /// Every known member but this node.
    public func remoteMembers() -> [MemberView] {
        snapshot.withLock { $0 }
    }

    /// Per-peer link figures of the mesh (queue depth, drops, frames, round-trip time).
    public func linkStats() -> [PeerLinkStats] {
        mesh.stats()
    }

    // MARK: Requests

    /// Publishes this node's first subscriber of `channel`; completes once every active peer acknowledged it, or
    /// after `visibilityTimeout` (laggards are probed at once).
    public func localChannelActivated(_ channel: String, on eventLoop: any EventLoop) -> EventLoopFuture<Void> {
        loop.flatSubmit { [self] in
            let (answer, directives) = instance.localChannelActivated(channel, now: now)
            return carryOut(answer, directives, pending: \.visibilityRequests)
        }.hop(to: eventLoop)
    }

    /// Completes once an activation of `channel` still waiting for acknowledgements is done.
    public func whenVisible(_ channel: String, on eventLoop: any EventLoop) -> EventLoopFuture<Void> {
        loop.flatSubmit { [self] in carryOut(instance.whenVisible(channel), [], pending: \.visibilityRequests) }.hop(to: eventLoop)
    }

    /// The last local subscriber of `channel` left; peers learn it lazily (stray forwards are dropped).
    public func localChannelDeactivated(_ channel: String) {
        onLoop { [self] in execute(instance.localChannelDeactivated(channel, now: now)) }
    }

    /// Sends a channel message to every other node with subscribers for it. With `awaitCounts`, the future
    /// carries each node's delivered count (nodes that do not answer within `forwardTimeout` are left out).
    public func forward(channel: String, data: ByteBuffer, timestamp: Int, awaitCounts: Bool, on eventLoop: any EventLoop) -> EventLoopFuture<[NodeCount]> {
        onClusterLoop(answeringOn: eventLoop) { [self] in
            let (answer, directives) = instance.forward(channel: channel, data: data, timestamp: timestamp, awaitCounts: awaitCounts, now: now)
            return carryOut(answer, directives, pending: \.countRequests)
        }
    }

    /// Sends a `notify_all` message to every other active node.
    public func forwardBroadcast(data: ByteBuffer, timestamp: Int, awaitCounts: Bool, on eventLoop: any EventLoop) -> EventLoopFuture<[NodeCount]> {
        onClusterLoop(answeringOn: eventLoop) { [self] in
            let (answer, directives) = instance.broadcast(data: data, timestamp: timestamp, awaitCounts: awaitCounts, now: now)
            return carryOut(answer, directives, pending: \.countRequests)
        }
    }

    /// Every other active node's own counts (nodes that do not answer within `statsTimeout` are left out).
    public func remoteStats(on eventLoop: any EventLoop) -> EventLoopFuture<[LocalStats]> {
        loop.flatSubmit { [self] in
            let (answer, directives) = instance.requestStats(now: now)
            return carryOut(answer, directives, pending: \.statsRequests)
        }.hop(to: eventLoop)
    }

    // MARK: History

    /// Emits to a history channel through its owner (see ``Cluster/Instance/historyAppend(channel:data:bytes:timestamp:now:)``).
    public func historyAppend(channel: String, data: ByteBuffer, timestamp: Int, tag: UInt64, on eventLoop: any EventLoop) -> EventLoopFuture<History.AppendOutcome> {
        onLoop(answeringOn: eventLoop) { [self] in
            // Kept in storage of its own size, not as a slice that holds the whole request buffer.
            var kept = allocator.buffer(capacity: data.readableBytes)
            kept.writeImmutableBuffer(data)
            let (answer, directives) = instance.historyAppend(channel: channel, data: kept, bytes: kept.readableBytes, timestamp: timestamp, tag: tag, now: now)
            return carryOut(answer, directives, pending: \.historyAppends)
        }
    }

    /// Reads a history channel's kept messages from its owner (nil: no owner answered in time).
    public func historyRead(channel: String, after: UInt64?, limit: Int?, unixTime: Int, on eventLoop: any EventLoop) -> EventLoopFuture<History.ReadOutcome<ByteBuffer>> {
        onLoop(answeringOn: eventLoop) { [self] in
            let (answer, directives) = instance.historyRead(channel: channel, after: after, limit: limit, unixTime: unixTime, now: now)
            return carryOut(answer, directives, pending: \.historyReads)
        }
    }

    /// Messages and bytes of history this node keeps (owner and backup copies alike).
    public var historyKeptCounts: (messages: Int, bytes: Int) { historyKept.withLock { $0 } }

    private func onLoop<Value: Sendable>(answeringOn eventLoop: any EventLoop, _ body: @escaping @Sendable () -> EventLoopFuture<Value>) -> EventLoopFuture<Value> {
        if loop.inEventLoop { return body().hop(to: eventLoop) }
        return loop.flatSubmit(body).hop(to: eventLoop)
    }

    /// Runs a forward on the cluster loop: directly when called there (backends are served on it), else with one
    /// hop, and none at all for a cluster of one (read from the published members, so without a hop).
    private func onClusterLoop(
        answeringOn eventLoop: any EventLoop,
        _ body: @escaping @Sendable () -> EventLoopFuture<[NodeCount]>
    ) -> EventLoopFuture<[NodeCount]> {
        if loop.inEventLoop { return body().hop(to: eventLoop) }
        guard snapshot.withLock({ $0.contains { $0.state.isActive } }) else { return eventLoop.makeSucceededFuture([]) }
        return loop.flatSubmit(body).hop(to: eventLoop)
    }

    /// Runs `body` on the cluster loop: at once when already there, else with one hop.
    func onLoop(_ body: @escaping @Sendable () -> Void) {
        if loop.inEventLoop { body() } else { loop.execute(body) }
    }

    /// Registers the promise of a request answered later (before its directives run, which may complete it).
    func carryOut<Value: Sendable>(
        _ answer: Cluster.Answer<Value>,
        _ directives: [Cluster.Directive<ByteBuffer>],
        pending: ReferenceWritableKeyPath<ClusterShell, [Cluster.RequestID: EventLoopPromise<Value>]>
    ) -> EventLoopFuture<Value> {
        loop.preconditionInEventLoop()
        switch answer {
        case .now(let value):
            execute(directives)
            return loop.makeSucceededFuture(value)
        case .later(let id):
            let promise = loop.makePromise(of: Value.self)
            self[keyPath: pending][id] = promise
            execute(directives)
            return promise.futureResult
        }
    }

    // MARK: Directives

    func execute(_ directives: [Cluster.Directive<ByteBuffer>]) {
        loop.preconditionInEventLoop()
        for directive in directives {
            switch directive {
            case .send(let frame, let peers):
                let (kind, payload) = ClusterFrame.encode(frame, allocator: allocator)
                for peer in peers { mesh.send(kind: kind, payload: payload, to: peer) }
            case .sendReporting(let frame, let peers):
                let (kind, payload) = ClusterFrame.encode(frame, allocator: allocator)
                let outcomes = peers.map { Self.outcome(mesh.send(kind: kind, payload: payload, to: $0)) }
                execute(instance.sent(frame, to: peers, outcomes: outcomes, now: now))
            case .offerOutbox(let peer, let frames):
                execute(instance.outboxOffered(to: peer, outcomes: offer(frames, to: peer), now: now))
            case .connect(let address):
                mesh.connect(to: address)
            case .forget(let address):
                mesh.forget(address: address)
            case .deliver(let push, let peer, let ack):
                deliver(push, from: peer, ack: ack)
            case .answerStats(let id, let peer):
                answerStats(id, to: peer)
            case .completeCounts(let id, let counts):
                countRequests.removeValue(forKey: id)?.succeed(counts)
            case .completeStats(let id, let stats):
                statsRequests.removeValue(forKey: id)?.succeed(stats)
            case .completeVisibility(let id):
                visibilityRequests.removeValue(forKey: id)?.succeed()
            case .answerPresence(let id, let request, let peer):
                answerPresence(id, request, to: peer)
            case .completePresence(let id, let replies):
                presenceRequests.removeValue(forKey: id)?.succeed(replies)
            case .presenceEvents(let events):
                delegate?.deliverPresence(events)
            case .deliverHistory(let channel, let epoch, let entry, let peer, let ack):
                deliverHistory(channel: channel, epoch: epoch, entry: entry, from: peer, ack: ack)
            case .completeHistoryAppend(let id, let outcome):
                historyAppends.removeValue(forKey: id)?.succeed(outcome)
            case .completeHistoryRead(let id, let range):
                historyReads.removeValue(forKey: id)?.succeed(range)
            case .publishHistory(let messages, let bytes):
                historyKept.withLock { $0 = (messages, bytes) }
            case .publishMembers(let members):
                snapshot.withLock { $0 = members }
            case .count(let counter, let amount):
                count(counter).increment(by: amount)
            case .report(let report):
                log(report)
            case .scheduleTick(let at):
                tick?.cancel()
                tick = loop.scheduleTask(in: TimeAmount(at - now)) { [self] in execute(instance.onTick(now: now)) }
            }
        }
    }

    /// Offers frames in order; the first the mesh cannot take for want of a link ends the offer.
    private func offer(_ frames: [Cluster.Frame<ByteBuffer>], to peer: String) -> [Cluster.SendOutcome] {
        var outcomes: [Cluster.SendOutcome] = []
        for frame in frames {
            let (kind, payload) = ClusterFrame.encode(frame, allocator: allocator)
            let outcome = Self.outcome(mesh.send(kind: kind, payload: payload, to: peer))
            outcomes.append(outcome)
            if outcome == .notConnected { break }
        }
        return outcomes
    }

    private func deliver(_ push: Cluster.Push<ByteBuffer>, from peer: String, ack: Cluster.RequestID?) {
        guard let delegate else { return }
        let receipt: DeliveryReceipt
        switch push.channel {
        case .some(let channel): receipt = delegate.deliverForwarded(channel: channel, data: push.data, timestamp: push.timestamp)
        case .none: receipt = delegate.deliverForwardedBroadcast(data: push.data, timestamp: push.timestamp)
        }
        guard let ack else { return }
        // The count is known at once; when this node's loops are congested the ack waits for the write,
        // which slows the emitter down to what this node can deliver.
        let frame = ClusterFrame.ack(requestID: ack, count: receipt.count, allocator: allocator)
        let kind = ClusterFrame.Kind.ack.rawValue
        switch receipt.settled {
        case .some(let settled): settled.whenComplete { [mesh] _ in mesh.send(kind: kind, payload: frame, to: peer) }
        case .none: mesh.send(kind: kind, payload: frame, to: peer)
        }
    }

    private func deliverHistory(channel: String, epoch: String, entry: History.Entry<ByteBuffer>, from peer: String, ack: Cluster.RequestID?) {
        let receipt = delegate?.deliverHistory(channel: channel, epoch: epoch, entry: entry) ?? DeliveryReceipt(count: 0)
        guard let ack else { return }
        if peer == settings.nodeName {
            execute(instance.historyDelivered(requestID: ack, count: receipt.count, now: now))
            return
        }
        let frame = ClusterFrame.ack(requestID: ack, count: receipt.count, allocator: allocator)
        let kind = ClusterFrame.Kind.ack.rawValue
        switch receipt.settled {
        case .some(let settled): settled.whenComplete { [mesh] _ in mesh.send(kind: kind, payload: frame, to: peer) }
        case .none: mesh.send(kind: kind, payload: frame, to: peer)
        }
    }

    private func answerStats(_ id: Cluster.RequestID, to peer: String) {
        guard let stats = delegate?.localStats() else { return }
        let (kind, payload) = ClusterFrame.encode(.statsResponse(requestID: id, stats: stats), allocator: allocator)
        mesh.send(kind: kind, payload: payload, to: peer)
    }

    private func count(_ counter: Cluster.Counter) -> Counter {
        switch counter {
        case .forwardsSent: forwardsSent
        case .forwardsDropped: forwardsDropped
        case .malformedFrames: malformedFrames
        case .channelOwnerChanges: ownerChanges
        }
    }

    private static func outcome(_ result: PeerSendResult) -> Cluster.SendOutcome {
        switch result {
        case .queued: .queued
        case .dropped: .dropped
        case .notConnected: .notConnected
        }
    }

    private func log(_ report: Cluster.Report) {
        switch report {
        case .memberChanged(let change):
            let member = change.member
            logger.info(
                "member \(member.state)",
                metadata: ["cluster/peer": "\(member.name)", "cluster/address": "\(member.address)", "cluster/incarnation": "\(member.incarnation)"]
            )
        case .visibilityTimedOut(let channel, let laggards):
            logger.warning(
                "peers did not acknowledge a subscription in time; probing them",
                metadata: ["cluster/channel": "\(channel)", "cluster/peers": "\(laggards)"]
            )
        case .malformedFrame(let kind, let peer):
            logger.warning("undecodable cluster frame", metadata: ["cluster/peer": "\(peer)", "cluster/kind": "\(kind)"])
        case .interestIgnored(let reason):
            logger.trace("interest message ignored", metadata: ["cluster/reason": "\(reason)"])
        }
    }
}

// MARK: - Mesh events (on the mesh connections' loops; each hops to `loop`)

extension ClusterShell: PeerMeshDelegate {
    public func peerMesh(_ mesh: PeerMesh, didConnect peer: PeerIdentity) {
        onLoop { [self] in
            execute(instance.linkUp(name: peer.name, address: peer.address, incarnation: peer.incarnation, now: now))
        }
    }

    public func peerMesh(_ mesh: PeerMesh, didDisconnect peer: PeerIdentity) {
        onLoop { [self] in execute(instance.linkDown(name: peer.name, now: now)) }
    }

    public func peerMesh(_ mesh: PeerMesh, didReceive kind: UInt8, payload: ByteBuffer, from peer: PeerIdentity) {
        // Decoded where it arrived; only the decoded frame crosses to the cluster loop.
        switch ClusterFrame.decode(kind: kind, payload: payload, from: peer.name) {
        case .some(let frame):
            onLoop { [self] in execute(instance.onFrame(frame, from: peer.name, now: now)) }
        case .none:
            onLoop { [self] in execute(instance.onMalformedFrame(kind: kind, from: peer.name)) }
        }
    }
}
