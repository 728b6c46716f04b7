import Logging
import NIOCore
import Synchronization

/// The I/O shell of one cluster node: it feeds mesh events and timer ticks into the pure `Membership.Instance`
/// and `InterestTable`, carries out every directive they return over the `PeerMesh`, and forwards messages to
/// exactly the nodes the interest table routes a channel to. All state lives on one event loop (`loop`);
/// public entry points hop there, so no lock guards the protocol state.
public final class ClusterShell: @unchecked Sendable {  // mutable state is confined to `loop` (see above)
    public let settings: ClusterSettings
    /// The loop that owns membership, interest and pending requests.
    public let loop: any EventLoop
    let mesh: PeerMesh
    private let logger: Logger
    private let allocator = ByteBufferAllocator()
    private let startedAt = ContinuousClock.now
    private var membership: Membership.Instance
    private var interest: InterestTable
    private weak var delegate: (any ClusterDeliveryDelegate)?
    private var tick: Scheduled<Void>?
    private var digestTimer: RepeatedTask?
    private var stopping = false
    private var nextRequestID: UInt64 = 1
    private var pending: [UInt64: PendingRequest] = [:]
    private var visibilityWaiters: [VisibilityWaiter] = []
    private var activations: [String: EventLoopFuture<Void>] = [:]
    /// Frames waiting for a link to a member to come back (see `sendInOrder`).
    private var outboxes: [String: [OutboxEntry]] = [:]
    private var outboxRetry: Scheduled<Void>?
    /// Frames given up on because the link to their member did not come back in time.
    private let expiredForwards = Atomic<Int>(0)
    /// Messages sent to another node (one per message and node), for the node's metrics.
    private let forwarded = Atomic<Int>(0)
    /// Members as other threads see them (status queries), refreshed after every membership event.
    private let snapshot = Mutex<[MemberView]>([])

    public init(settings: ClusterSettings, group: any EventLoopGroup, logger: Logger) {
        self.settings = settings
        self.loop = group.next()
        var logger = logger
        logger[metadataKey: "cluster/node"] = "\(settings.nodeName)"
        self.logger = logger
        let myself = Membership.Member(name: settings.nodeName, address: settings.advertisedAddress, incarnation: settings.incarnation)
        self.membership = Membership.Instance(myself: myself, settings: settings.membership, seed: settings.incarnation)
        self.interest = InterestTable(nodeName: settings.nodeName, epoch: settings.incarnation, settings: settings.interest)
        let identity = PeerIdentity(name: settings.nodeName, address: settings.advertisedAddress, incarnation: settings.incarnation)
        self.mesh = PeerMesh(identity: identity, settings: settings.mesh, group: group, logger: logger)
    }

    public func setDelegate(_ delegate: any ClusterDeliveryDelegate) {
        self.delegate = delegate
    }

    private var now: Duration { ContinuousClock.now - startedAt }

    // MARK: Lifecycle

    /// Binds the peer listener, starts the protocol timers and dials the seeds; returns the bound peer port.
    public func start() async throws -> Int {
        mesh.setDelegate(self)
        let port = try await mesh.start()
        try await loop.submit { [self] in
            execute(membership.onTick(now: now))
            let interval = TimeAmount(settings.interest.digestInterval)
            digestTimer = loop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { [self] _ in
                execute(interest.onDigestTick(peers: activePeers))
            }
            refreshSnapshot()
        }.get()
        for seed in settings.seeds where seed != settings.advertisedAddress {
            mesh.connect(to: seed)
        }
        return port
    }

    /// Leaves gracefully: tells every peer this node is `left`, lets that gossip go out, then drains the mesh.
    public func shutdown() async {
        let linger = settings.membership.probeInterval * 2
        try? await loop.submit { [self] in
            stopping = true
            execute(membership.leave(now: now))
            digestTimer?.cancel()
        }.get()
        try? await Task.sleep(for: linger)
        try? await loop.submit { [self] in
            tick?.cancel()
            for id in Array(pending.keys) { finish(id) }
            for waiter in visibilityWaiters { waiter.promise.succeed() }
            visibilityWaiters.removeAll()
        }.get()
        await mesh.shutdown()
    }

    // MARK: Views (any thread)

    /// Every known member but this node.
    public func remoteMembers() -> [MemberView] {
        snapshot.withLock { $0 }
    }

    /// Messages forwarded to other nodes so far (one per message and node).
    public var forwardedMessages: Int { forwarded.load(ordering: .relaxed) }

    /// Frames to other nodes given up on because their link stayed down past `forwardTimeout`.
    public var expiredForwardCount: Int { expiredForwards.load(ordering: .relaxed) }

    /// Whether any other member is alive or suspect (any thread; from the last membership snapshot).
    private var hasActivePeers: Bool {
        snapshot.withLock { members in members.contains { $0.state == "alive" || $0.state == "suspect" } }
    }

    /// Per-peer link figures of the mesh (queue depth, drops, frames, round-trip time).
    public func linkStats() -> [PeerLinkStats] {
        mesh.stats()
    }

    /// Names of peers currently alive or suspect (loop only).
    private var activePeers: [String] {
        membership.members.compactMap { $0.name != settings.nodeName && $0.state.isActive ? $0.name : nil }
    }

    private func refreshSnapshot() {
        let views = membership.members.filter { $0.name != settings.nodeName }.map {
            MemberView(name: $0.name, address: $0.address, state: "\($0.state)", incarnation: $0.incarnation, connections: 0, subscriptions: 0)
        }
        snapshot.withLock { $0 = views }
    }

    // MARK: Interest (subscribe visibility)

    /// Publishes this node's first subscriber of `channel`; completes once every active peer acknowledged it, or
    /// after `visibilityTimeout` (laggards are probed at once).
    public func localChannelActivated(_ channel: String, on eventLoop: any EventLoop) -> EventLoopFuture<Void> {
        loop.flatSubmit { [self] in
            let change = interest.localCountChanged(channel: channel, count: 1)
            execute(interest.flush())
            let peers = activePeers
            if interest.isAcknowledged(version: change.visibleAt, by: peers) { return loop.makeSucceededVoidFuture() }
            let promise = loop.makePromise(of: Void.self)
            let deadline = loop.scheduleTask(in: TimeAmount(settings.visibilityTimeout)) { [self] in
                visibilityTimedOut(channel: channel, version: change.visibleAt)
            }
            visibilityWaiters.append(VisibilityWaiter(version: change.visibleAt, channel: channel, promise: promise, deadline: deadline))
            activations[channel] = promise.futureResult
            promise.futureResult.whenComplete { [self] _ in
                if activations[channel] === promise.futureResult { activations[channel] = nil }
            }
            return promise.futureResult
        }.hop(to: eventLoop)
    }

    /// Completes once an activation of `channel` still waiting for acknowledgements is done.
    public func whenVisible(_ channel: String, on eventLoop: any EventLoop) -> EventLoopFuture<Void> {
        loop.flatSubmit { [self] in activations[channel] ?? loop.makeSucceededVoidFuture() }.hop(to: eventLoop)
    }

    /// The last local subscriber of `channel` left; peers learn it lazily (stray forwards are dropped).
    public func localChannelDeactivated(_ channel: String) {
        loop.execute { [self] in
            _ = interest.localCountChanged(channel: channel, count: 0)
            execute(interest.flush())
        }
    }

    private func checkVisibility() {
        let peers = activePeers
        visibilityWaiters.removeAll { waiter in
            guard interest.isAcknowledged(version: waiter.version, by: peers) else { return false }
            waiter.deadline.cancel()
            waiter.promise.succeed()
            return true
        }
    }

    private func visibilityTimedOut(channel: String, version: UInt64) {
        let peers = activePeers
        let laggards = peers.filter { interest.acknowledgedVersion(by: $0) < version }
        logger.warning(
            "peers did not acknowledge a subscription in time; probing them",
            metadata: ["cluster/channel": "\(channel)", "cluster/peers": "\(laggards)"]
        )
        for peer in laggards { execute(membership.onPeerDisconnected(name: peer, now: now)) }
        visibilityWaiters.removeAll { waiter in
            guard waiter.version == version, waiter.channel == channel else { return false }
            waiter.promise.succeed()
            return true
        }
    }

    // MARK: Forwarding

    /// Sends a channel message to every other node with subscribers for it. With `awaitCounts`, the future
    /// carries each node's delivered count (nodes that do not answer within `forwardTimeout` are left out).
    public func forward(channel: String, data: ByteBuffer, timestamp: Int, awaitCounts: Bool, on eventLoop: any EventLoop) -> EventLoopFuture<[NodeCount]> {
        onClusterLoop(answeringOn: eventLoop) { [self] in
            let targets = interest.route(channel)
            guard !targets.isEmpty else { return loop.makeSucceededFuture([]) }
            return send(kind: .forward, channel: channel, data: data, timestamp: timestamp, to: Array(targets), awaitCounts: awaitCounts)
        }
    }

    /// Sends a `notify_all` message to every other active node.
    public func forwardBroadcast(data: ByteBuffer, timestamp: Int, awaitCounts: Bool, on eventLoop: any EventLoop) -> EventLoopFuture<[NodeCount]> {
        onClusterLoop(answeringOn: eventLoop) { [self] in
            let targets = activePeers
            guard !targets.isEmpty else { return loop.makeSucceededFuture([]) }
            return send(kind: .broadcast, channel: nil, data: data, timestamp: timestamp, to: targets, awaitCounts: awaitCounts)
        }
    }

    /// Runs a forward on the cluster loop: directly when called there (backends are served on it), else with one
    /// hop, and none at all for a cluster of one.
    private func onClusterLoop(
        answeringOn eventLoop: any EventLoop,
        _ body: @escaping @Sendable () -> EventLoopFuture<[NodeCount]>
    ) -> EventLoopFuture<[NodeCount]> {
        if loop.inEventLoop { return body().hop(to: eventLoop) }
        guard hasActivePeers else { return eventLoop.makeSucceededFuture([]) }
        return loop.flatSubmit(body).hop(to: eventLoop)
    }

    private func send(kind: ClusterFrame.Kind, channel: String?, data: ByteBuffer, timestamp: Int, to targets: [String], awaitCounts: Bool) -> EventLoopFuture<[NodeCount]> {
        let id = awaitCounts ? nextID() : 0
        let frame = ClusterFrame.push(requestID: id, timestamp: timestamp, channel: channel, data: data, allocator: allocator)
        var waiting = Set<String>()
        for target in targets where sendInOrder(kind: kind, payload: frame, to: target) {
            waiting.insert(target)
        }
        forwarded.add(waiting.count, ordering: .relaxed)
        guard awaitCounts, !waiting.isEmpty else { return loop.makeSucceededFuture([]) }
        let promise = loop.makePromise(of: [NodeCount].self)
        register(id, waiting: waiting, timeout: settings.forwardTimeout, completion: .counts(promise))
        return promise.futureResult
    }

    // MARK: Sending through link changes

    /// Sends a frame to a member, in order with everything sent before. While the link to it is down (a
    /// reconnect, a simultaneous dial being resolved) frames wait in a small per-peer outbox that is retried
    /// every few milliseconds, up to `forwardTimeout`; so a link that flaps loses nothing and reorders nothing.
    /// Returns false only when the frame was refused (the peer's queue is full, or it is not a member).
    private func sendInOrder(kind: ClusterFrame.Kind, payload: ByteBuffer, to peer: String) -> Bool {
        if outboxes[peer] == nil {
            switch mesh.send(kind: kind.rawValue, payload: payload, to: peer) {
            case .queued: return true
            case .dropped: return false
            case .notConnected: break
            }
        }
        guard membership.member(named: peer)?.state.isActive == true else { return false }
        let deadline = NIODeadline.now() + TimeAmount(settings.forwardTimeout)
        outboxes[peer, default: []].append(OutboxEntry(kind: kind.rawValue, payload: payload, deadline: deadline))
        scheduleOutboxRetry()
        return true
    }

    private func scheduleOutboxRetry() {
        guard outboxRetry == nil else { return }
        outboxRetry = loop.scheduleTask(in: .milliseconds(10)) { [self] in
            outboxRetry = nil
            retryOutboxes()
        }
    }

    private func retryOutboxes() {
        let now = NIODeadline.now()
        for peer in Array(outboxes.keys) {
            var entries = outboxes[peer] ?? []
            while let first = entries.first {
                let result = mesh.send(kind: first.kind, payload: first.payload, to: peer)
                if result == .queued {
                    entries.removeFirst()
                } else if result == .dropped || first.deadline < now {
                    entries.removeFirst()
                    expiredForwards.add(1, ordering: .relaxed)
                } else {
                    break
                }
            }
            outboxes[peer] = entries.isEmpty ? nil : entries
        }
        if !outboxes.isEmpty { scheduleOutboxRetry() }
    }

    // MARK: Status queries

    /// Every other active node's own counts (nodes that do not answer within `statsTimeout` are left out).
    public func remoteStats(on eventLoop: any EventLoop) -> EventLoopFuture<[LocalStats]> {
        loop.flatSubmit { [self] in
            let id = nextID()
            let frame = ClusterFrame.statsRequest(requestID: id, allocator: allocator)
            var waiting = Set<String>()
            for peer in activePeers where sendInOrder(kind: .statsRequest, payload: frame, to: peer) {
                waiting.insert(peer)
            }
            guard !waiting.isEmpty else { return loop.makeSucceededFuture([]) }
            let promise = loop.makePromise(of: [LocalStats].self)
            register(id, waiting: waiting, timeout: settings.statsTimeout, completion: .stats(promise), resend: frame)
            return promise.futureResult
        }.hop(to: eventLoop)
    }

    // MARK: Pending requests

    private func nextID() -> UInt64 {
        defer { nextRequestID &+= 1 }
        return nextRequestID
    }

    private func register(_ id: UInt64, waiting: Set<String>, timeout: Duration, completion: PendingRequest.Completion, resend: ByteBuffer? = nil) {
        let timer = loop.scheduleTask(in: TimeAmount(timeout)) { [self] in finish(id) }
        pending[id] = PendingRequest(waiting: waiting, completion: completion, timer: timer, resend: resend)
    }

    /// A link went away: forwards sent on it are not waited for (re-sending could deliver twice), but
    /// idempotent requests (status queries) are asked again once the peer is back, within their timeout.
    private func linkLost(peer: String) {
        for (id, request) in pending where request.resend == nil { answered(id, by: peer) { _ in } }
    }

    private func linkRestored(peer: String) {
        for request in pending.values where request.waiting.contains(peer) {
            if let frame = request.resend { _ = sendInOrder(kind: .statsRequest, payload: frame, to: peer) }
        }
    }

    private func finish(_ id: UInt64) {
        guard let request = pending.removeValue(forKey: id) else { return }
        request.timer.cancel()
        switch request.completion {
        case .counts(let promise): promise.succeed(request.counts)
        case .stats(let promise): promise.succeed(request.stats)
        }
    }

    private func answered(_ id: UInt64, by peer: String, _ record: (inout PendingRequest) -> Void) {
        guard var request = pending[id], request.waiting.remove(peer) != nil else { return }
        record(&request)
        pending[id] = request
        if request.waiting.isEmpty { finish(id) }
    }

    /// A peer is gone: stop waiting for it.
    private func forgetPending(peer: String) {
        for id in Array(pending.keys) { answered(id, by: peer) { _ in } }
    }

    // MARK: Directives

    private func execute(_ directives: [Membership.Directive]) {
        var membersChanged = false
        for directive in directives {
            switch directive {
            case .send(let message, let name):
                mesh.send(kind: ClusterFrame.Kind.membership.rawValue, payload: buffer(message.encoded()), to: name)
            case .connect(_, let address):
                if !stopping { mesh.connect(to: address) }
            case .memberChanged(let change):
                membersChanged = true
                memberChanged(change)
            case .memberRemoved(let member):
                membersChanged = true
                execute(interest.removeNode(member.name))
                forgetPending(peer: member.name)
            case .scheduleTick(let delay):
                tick?.cancel()
                tick = loop.scheduleTask(in: TimeAmount(delay)) { [self] in execute(membership.onTick(now: now)) }
            }
        }
        if membersChanged {
            refreshSnapshot()
            checkVisibility()
        }
    }

    private func memberChanged(_ change: Membership.MemberChange) {
        let member = change.member
        guard member.name != settings.nodeName else { return }
        logger.info(
            "member \(member.state)",
            metadata: ["cluster/peer": "\(member.name)", "cluster/address": "\(member.address)", "cluster/incarnation": "\(member.incarnation)"]
        )
        switch member.state {
        case .alive, .suspect:
            if change.previousState == nil || change.previousState == .dead || change.previousState == .left {
                if !stopping { mesh.connect(to: member.address) }
                execute(interest.nodeJoined(member.name))
            }
        case .dead, .left:
            if let dropped = outboxes.removeValue(forKey: member.name) { expiredForwards.add(dropped.count, ordering: .relaxed) }
            execute(interest.removeNode(member.name))
            forgetPending(peer: member.name)
            mesh.forget(address: member.address)
        }
    }

    private func execute(_ directives: [InterestDirective]) {
        var acknowledged = false
        for directive in directives {
            switch directive {
            case .broadcast(let message):
                let payload = buffer(message.encoded())
                for peer in activePeers { mesh.send(kind: ClusterFrame.Kind.interest.rawValue, payload: payload, to: peer) }
            case .send(let message, let peer):
                mesh.send(kind: ClusterFrame.Kind.interest.rawValue, payload: buffer(message.encoded()), to: peer)
            case .acknowledged:
                acknowledged = true
            case .routesChanged:
                break
            case .ignored(let reason):
                logger.trace("interest message ignored", metadata: ["cluster/reason": "\(reason)"])
            }
        }
        if acknowledged { checkVisibility() }
    }

    private func buffer(_ bytes: [UInt8]) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        return buffer
    }
}

// MARK: - Mesh events

extension ClusterShell: PeerMeshDelegate {
    public func peerMesh(_ mesh: PeerMesh, didConnect peer: PeerIdentity) {
        loop.execute { [self] in
            execute(membership.onPeerConnected(name: peer.name, address: peer.address, incarnation: peer.incarnation, now: now))
            execute(interest.nodeJoined(peer.name))
            linkRestored(peer: peer.name)
        }
    }

    public func peerMesh(_ mesh: PeerMesh, didDisconnect peer: PeerIdentity) {
        loop.execute { [self] in
            linkLost(peer: peer.name)
            execute(membership.onPeerDisconnected(name: peer.name, now: now))
        }
    }

    public func peerMesh(_ mesh: PeerMesh, didReceive kind: UInt8, payload: ByteBuffer, from peer: PeerIdentity) {
        switch ClusterFrame.Kind(rawValue: kind) {
        case .forward, .broadcast:
            // Delivered right here on the mesh connection's loop: no hop to the cluster loop on the message path.
            let isForward = kind == ClusterFrame.Kind.forward.rawValue
            guard let push = ClusterFrame.decodePush(payload, hasChannel: isForward), let delegate else { return }
            let receipt: DeliveryReceipt
            if let channel = push.channel {
                receipt = delegate.deliverForwarded(channel: channel, data: push.data, timestamp: push.timestamp)
            } else {
                receipt = delegate.deliverForwardedBroadcast(data: push.data, timestamp: push.timestamp)
            }
            guard push.requestID != 0 else { return }
            // The count is known at once; when this node's loops are congested the ack waits for the write,
            // which slows the emitter down to what this node can deliver.
            let ack = ClusterFrame.ack(requestID: push.requestID, count: receipt.count, allocator: allocator)
            let kind = ClusterFrame.Kind.ack.rawValue
            if let settled = receipt.settled {
                settled.whenComplete { [mesh] _ in mesh.send(kind: kind, payload: ack, to: peer.name) }
            } else {
                mesh.send(kind: kind, payload: ack, to: peer.name)
            }
        case .ack:
            guard let ack = ClusterFrame.decodeAck(payload) else { return }
            loop.execute { [self] in
                answered(ack.requestID, by: peer.name) { $0.counts.append(NodeCount(node: peer.name, count: ack.count)) }
            }
        case .statsRequest:
            guard let id = ClusterFrame.decodeStatsRequest(payload), let stats = delegate?.localStats() else { return }
            mesh.send(kind: ClusterFrame.Kind.statsResponse.rawValue, payload: ClusterFrame.statsResponse(requestID: id, stats: stats, allocator: allocator), to: peer.name)
        case .statsResponse:
            guard let response = ClusterFrame.decodeStatsResponse(payload, node: peer.name) else { return }
            loop.execute { [self] in answered(response.requestID, by: peer.name) { $0.stats.append(response.stats) } }
        case .membership:
            guard let message = Membership.Message.decode(payload.readableBytesView) else {
                logger.warning("undecodable membership message", metadata: ["cluster/peer": "\(peer.name)"])
                return
            }
            loop.execute { [self] in execute(membership.onMessage(message, from: peer.name, now: now)) }
        case .interest:
            guard let message = InterestMessage.decode(payload.readableBytesView) else {
                logger.warning("undecodable interest message", metadata: ["cluster/peer": "\(peer.name)"])
                return
            }
            loop.execute { [self] in
                // Messages from nodes membership no longer counts as members would resurrect stale routes.
                guard membership.member(named: peer.name)?.state.isActive == true else { return }
                execute(interest.apply(message, from: peer.name))
            }
        case nil:
            logger.debug("unknown frame kind", metadata: ["cluster/peer": "\(peer.name)", "cluster/kind": "\(kind)"])
        }
    }
}

/// A request waiting for answers from several peers.
struct PendingRequest {
    enum Completion {
        case counts(EventLoopPromise<[NodeCount]>)
        case stats(EventLoopPromise<[LocalStats]>)
    }
    var waiting: Set<String>
    var completion: Completion
    var timer: Scheduled<Void>
    var counts: [NodeCount] = []
    var stats: [LocalStats] = []
    /// The request frame, for requests that may be sent again (status queries).
    var resend: ByteBuffer? = nil
}

/// A frame waiting for the link to its member.
struct OutboxEntry {
    var kind: UInt8
    var payload: ByteBuffer
    var deadline: NIODeadline
}

/// A first subscriber waiting for the cluster to acknowledge its channel.
struct VisibilityWaiter {
    var version: UInt64
    var channel: String
    var promise: EventLoopPromise<Void>
    var deadline: Scheduled<Void>
}
