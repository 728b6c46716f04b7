import ClusterKit
import NIOConcurrencyHelpers
import NIOCore
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The JSON-RPC methods of a node, for its WebSocket clients and for backends (MessagesSource). Parsing
/// happens once per body; a message's `data` stays raw bytes from the request to every subscriber's socket.
public final class NodeAPI: Sendable {
    let hub: LocalHub
    let cluster: any ClusterLink
    let metrics: NodeMetrics
    let settings: WebSocketSettings
    let advertisedAddress: String
    /// Checks connection tokens when `--token-secret` is set.
    let tokenVerifier: ConnectionTokenVerifier?
    let allocator = ByteBufferAllocator()
    /// Tags of this node's history emits (their message keys), and the `send_data` senders they skip.
    let historyTags = Atomic<UInt64>(0)
    let historySenders = NIOLockedValueBox<[UInt64: HistorySender]>([:])

    init(hub: LocalHub, cluster: any ClusterLink, metrics: NodeMetrics, settings: WebSocketSettings, advertisedAddress: String) {
        self.hub = hub
        self.cluster = cluster
        self.metrics = metrics
        self.settings = settings
        self.advertisedAddress = advertisedAddress
        self.tokenVerifier = settings.tokenSecret.map { ConnectionTokenVerifier(secret: $0) }
    }

    typealias Outcome = Result<JSONValue, JSONRPCError>

    // MARK: Bodies, batches and answers

    /// Answers one WebSocket text message; `nil` when nothing is to be sent back (notifications).
    /// `overRate`: the client sends faster than `maxRequestsPerSecond`; every request is answered -32001.
    func handleClientMessage(_ buffer: ByteBuffer, from session: WebSocketSession, overRate: Bool = false) -> EventLoopFuture<[UInt8]?> {
        let loop = session.shard.loop
        if overRate {
            let limit = settings.maxRequestsPerSecond
            return answer(buffer, on: loop) { _ in
                loop.makeSucceededFuture(.failure(.limitExceeded("more than \(limit) requests per second")))
            }
        }
        return answer(buffer, on: loop) { request in self.clientMethod(request, session: session, on: loop) }
    }

    /// Answers one MessagesSource body; `nil` when nothing is to be sent back (HTTP 204).
    public func handleBackendBody(_ buffer: ByteBuffer, on loop: any EventLoop) -> EventLoopFuture<[UInt8]?> {
        metrics.backendRequests.increment()
        return answer(buffer, on: loop) { request in self.backendMethod(request, on: loop) }
    }

    private func answer(
        _ buffer: ByteBuffer,
        on loop: any EventLoop,
        _ method: (JSONRPCRequest) -> EventLoopFuture<Outcome>
    ) -> EventLoopFuture<[UInt8]?> {
        switch JSONRPCParser.parse(buffer) {
        case .invalid(let error):
            metrics.rpcErrors.increment()
            return loop.makeSucceededFuture(JSONRPCResponse.error(error, id: nil))
        case .single(let entry):
            return answer(entry, on: loop, method)
        case .batch(let entries):
            let answers = entries.map { answer($0, on: loop, method) }
            return EventLoopFuture.whenAllSucceed(answers, on: loop).map { JSONRPCResponse.batch($0.compactMap { $0 }) }
        }
    }

    private func answer(
        _ entry: JSONRPCEntry,
        on loop: any EventLoop,
        _ method: (JSONRPCRequest) -> EventLoopFuture<Outcome>
    ) -> EventLoopFuture<[UInt8]?> {
        switch entry {
        case .invalid(let error, let id):
            metrics.rpcErrors.increment()
            return loop.makeSucceededFuture(JSONRPCResponse.error(error, id: id))
        case .request(let request):
            return method(request).map { [metrics] outcome -> [UInt8]? in
                guard let id = request.id else { return nil }
                switch outcome {
                case .success(let result): return JSONRPCResponse.result(result, id: id)
                case .failure(let error):
                    metrics.rpcErrors.increment()
                    return JSONRPCResponse.error(error, id: id)
                }
            }
        }
    }

    // MARK: WebSocket methods

    private func clientMethod(_ request: JSONRPCRequest, session: WebSocketSession, on loop: any EventLoop) -> EventLoopFuture<Outcome> {
        if let refusal = identityGate(request, session: session, on: loop) { return refusal }
        switch request.method {
        case "subscribe":
            switch request.channelParam() {
            case .failure(let error): return loop.makeSucceededFuture(.failure(error))
            case .success(let channel):
                if channel.hasPrefix(PrivateChannelToken.prefix), session.identity?.channels.contains(channel) != true,
                    let refusal = privateChannelRefusal(request, session: session, channel: channel)
                {
                    return loop.makeSucceededFuture(.failure(refusal))
                }
                let withPresence = Self.paramsMention(request, Self.presenceKeys) && request.paramsValue()?["presence"] == .bool(true)
                switch Self.historyAsk(request) {
                case .failure(let error): return loop.makeSucceededFuture(.failure(error))
                case .success(.some(let ask)):
                    guard withPresence else { return subscribeWithHistory(session, to: channel, ask: ask, on: loop) }
                    return subscribeWithPresence(session, to: channel, on: loop) { subscribeWithHistory(session, to: channel, ask: ask, on: loop) }
                case .success(.none):
                    guard withPresence else { return subscribe(session, to: channel, on: loop) }
                    return subscribeWithPresence(session, to: channel, on: loop) { subscribe(session, to: channel, on: loop) }
                }
            }
        case "connect":
            return connect(request, session: session, on: loop)
        case "presence":
            switch request.channelParam() {
            case .failure(let error): return loop.makeSucceededFuture(.failure(error))
            case .success(let channel): return presenceList(channel, on: loop)
            }
        case "connection_id":
            return loop.makeSucceededFuture(.success(.object(["connection_id": .string(session.connectionID)])))
        case "unsubscribe":
            switch request.channelParam() {
            case .failure(let error): return loop.makeSucceededFuture(.failure(error))
            case .success(let channel):
                unsubscribe(session, from: channel)
                return loop.makeSucceededFuture(.success(.string("unsubscribed")))
            }
        case "send_data":
            switch request.channelAndData() {
            case .failure(let error): return loop.makeSucceededFuture(.failure(error))
            case .success(let params):
                guard session.channels.contains(params.channel) else {
                    return loop.makeSucceededFuture(.failure(.notSubscriber(params.channel)))
                }
                if cluster.historyEnabled {
                    return publishWithHistory(params, excluding: session, on: loop).map { $0.map { .object(["emitted": .int($0.total)]) } }
                }
                return publish(params, excluding: session, awaitCounts: !request.isNotification, on: loop)
                    .map { .success(.object(["emitted": .int($0.total)])) }
            }
        case "heartbeat":
            return loop.makeSucceededFuture(.success(.object(["heartbeat": .string("ok")])))
        default:
            return loop.makeSucceededFuture(.failure(.methodNotFound(request.method)))
        }
    }

    /// Why a `private-` channel subscription is refused, or nil when its token is valid.
    private func privateChannelRefusal(_ request: JSONRPCRequest, session: WebSocketSession, channel: String) -> JSONRPCError? {
        guard let secret = settings.privateChannelSecret else {
            return .forbidden("private channels are disabled on this node (no --private-channel-secret)")
        }
        guard let token = request.paramsValue()?["token"]?.stringValue else {
            return .forbidden("channel '\(channel)' is private: subscribe with a \"token\" signed by your backend")
        }
        guard PrivateChannelToken.verify(token, connectionID: session.connectionID, channel: channel, secret: secret) else {
            return .forbidden("invalid token for channel '\(channel)' on this connection")
        }
        return nil
    }

    func subscribe(_ session: WebSocketSession, to channel: String, on loop: any EventLoop) -> EventLoopFuture<Outcome> {
        if !session.channels.contains(channel), session.channels.count >= settings.maxChannelsPerConnection {
            return loop.makeSucceededFuture(
                .failure(.limitExceeded("at most \(settings.maxChannelsPerConnection) channels per connection"))
            )
        }
        let change = hub.subscribe(session, to: channel)
        // Answer only once every alive peer knows this node wants the channel (subscribe visibility).
        let visible = change.activated ? cluster.localChannelActivated(channel, on: loop) : cluster.whenVisible(channel, on: loop)
        return visible.map { .success(.string("subscribed")) }
    }

    // MARK: MessagesSource methods

    /// `awaitCounts`: wait for the cluster's delivered counts even for a notification (a queued message is
    /// acknowledged only once its emit is answered).
    func backendMethod(_ request: JSONRPCRequest, on loop: any EventLoop, awaitCounts: Bool = false) -> EventLoopFuture<Outcome> {
        let awaitCounts = awaitCounts || !request.isNotification
        switch request.method {
        case "emit":
            switch request.channelAndData() {
            case .failure(let error): return loop.makeSucceededFuture(.failure(error))
            case .success(let params):
                if cluster.historyEnabled {
                    return publishWithHistory(params, excluding: nil, on: loop).map { result in
                        result.map { .object(["emitted": .int($0.total), "nodes": .int($0.nodes), "epoch": .string($0.epoch), "offset": .int(Int(clamping: $0.offset))]) }
                    }
                }
                return publish(params, excluding: nil, awaitCounts: awaitCounts, on: loop)
                    .map { .success(.object(["emitted": .int($0.total), "nodes": .int($0.nodes)])) }
            }
        case "notify_all":
            switch request.dataParam() {
            case .failure(let error): return loop.makeSucceededFuture(.failure(error))
            case .success(let data):
                return broadcast(data, awaitCounts: awaitCounts, on: loop)
                    .map { .success(.object(["notified": .int($0.total), "nodes": .int($0.nodes)])) }
            }
        case "total_subscribers":
            switch request.optionalChannelParam() {
            case .failure(let error): return loop.makeSucceededFuture(.failure(error))
            case .success(let channel): return totalSubscribers(channel, on: loop)
            }
        case "available_channels":
            return allStats(on: loop).map { stats in
                let names = Set(stats.flatMap { $0.channels.keys })
                return .success(.array(names.sorted().map { .string($0) }))
            }
        case "cluster_status":
            return clusterStatus(on: loop)
        case "presence", "presence_stats", "disconnect", "unsubscribe":
            return backendPresenceMethod(request, on: loop)
        case "history":
            return historyMethod(request, on: loop)
        case "flush_dead_clients":
            return hub.flushDeadSessions().hop(to: loop).map { .success(.object(["flushed": .int($0)])) }
        case "ping":
            return loop.makeSucceededFuture(.success(.object(["ping": .string("ok")])))
        case "heartbeat":
            return loop.makeSucceededFuture(.success(.object(["heartbeat": .string("ok")])))
        default:
            return loop.makeSucceededFuture(.failure(.methodNotFound(request.method)))
        }
    }

    // MARK: The message path

    private struct Reach {
        var total: Int
        var nodes: Int
    }

    private func publish(_ params: ChannelData, excluding: WebSocketSession?, awaitCounts: Bool, on loop: any EventLoop) -> EventLoopFuture<Reach> {
        let started = ContinuousClock.now
        let timestamp = Self.unixSeconds()
        metrics.messagesIn.increment()
        // Forward first, so the other nodes start their fan-out while this one does its own.
        let remote = cluster.forward(channel: params.channel, data: params.data, timestamp: timestamp, awaitCounts: awaitCounts, on: loop)
        let local = deliverLocally(channel: params.channel, data: params.data, timestamp: timestamp, excluding: excluding)
        return Self.settle(local, remote, on: loop).map { [metrics] counts in
            metrics.publishLatency.record(ContinuousClock.now - started)
            return Self.reach(local: local.count, remote: counts)
        }
    }

    private func broadcast(_ data: ByteBuffer, awaitCounts: Bool, on loop: any EventLoop) -> EventLoopFuture<Reach> {
        let timestamp = Self.unixSeconds()
        metrics.broadcastsIn.increment()
        let remote = cluster.forwardBroadcast(data: data, timestamp: timestamp, awaitCounts: awaitCounts, on: loop)
        let local = deliverLocally(channel: nil, data: data, timestamp: timestamp)
        return Self.settle(local, remote, on: loop).map { Self.reach(local: local.count, remote: $0) }
    }

    /// The remote counts, once the local delivery is settled too (only waited for when the loops are congested).
    private static func settle(_ local: DeliveryReceipt, _ remote: EventLoopFuture<[NodeCount]>, on loop: any EventLoop) -> EventLoopFuture<[NodeCount]> {
        guard let settled = local.settled else { return remote }
        return settled.hop(to: loop).flatMap { remote }
    }

    private static func reach(local: Int, remote: [NodeCount]) -> Reach {
        var reach = Reach(total: local, nodes: local > 0 ? 1 : 0)
        for count in remote where count.count > 0 {
            reach.total += count.count
            reach.nodes += 1
        }
        return reach
    }

    /// Hands a channel message (`channel` set) or a broadcast to this node's clients: the frame is built once,
    /// and only when someone is there to receive it. The one local path for accepted and forwarded messages.
    private func deliverLocally(channel: String?, data: ByteBuffer, timestamp: Int, excluding: WebSocketSession? = nil) -> DeliveryReceipt {
        let allocator = self.allocator
        let receipt: DeliveryReceipt
        if let channel {
            receipt = hub.publish(to: channel, excluding: excluding) {
                PushFrame.make(data: data, kind: .message, timestamp: timestamp, channel: channel, allocator: allocator)
            }
        } else {
            receipt = hub.broadcast {
                PushFrame.make(data: data, kind: .broadcast, timestamp: timestamp, channel: nil, allocator: allocator)
            }
        }
        metrics.messagesOut.increment(by: Int64(receipt.count))
        return receipt
    }

    /// Delivers a message that another node forwarded here.
    public func deliverForwarded(channel: String, data: ByteBuffer, timestamp: Int) -> DeliveryReceipt {
        metrics.forwardsReceived.increment()
        return deliverLocally(channel: channel, data: data, timestamp: timestamp)
    }

    /// Delivers a broadcast that another node forwarded here.
    public func deliverForwardedBroadcast(data: ByteBuffer, timestamp: Int) -> DeliveryReceipt {
        metrics.forwardsReceived.increment()
        return deliverLocally(channel: nil, data: data, timestamp: timestamp)
    }

    static func unixSeconds() -> Int {
        Int(time(nil))
    }

    // MARK: Views

    /// This node's own counts.
    public func localStats() -> LocalStats {
        LocalStats(
            node: cluster.localName,
            connections: hub.connectionCount,
            subscriptions: hub.subscriptionCount,
            channels: hub.channelCounts()
        )
    }

    private func allStats(on loop: any EventLoop) -> EventLoopFuture<[LocalStats]> {
        let local = localStats()
        return cluster.remoteStats(on: loop).map { [local] + $0 }
    }

    private func totalSubscribers(_ channel: String?, on loop: any EventLoop) -> EventLoopFuture<Outcome> {
        allStats(on: loop).map { stats in
            var total = 0
            var nodes: [String: JSONValue] = [:]
            for node in stats {
                let count = channel.map { node.channels[$0] ?? 0 } ?? node.subscriptions
                guard count > 0 else { continue }
                total += count
                nodes[node.node] = .int(count)
            }
            return .success(.object(["total": .int(total), "nodes": .object(nodes)]))
        }
    }

    private func clusterStatus(on loop: any EventLoop) -> EventLoopFuture<Outcome> {
        allStats(on: loop).map { [self] stats in
            let byNode = Dictionary(stats.map { ($0.node, $0) }, uniquingKeysWith: { a, _ in a })
            let me = byNode[cluster.localName]
            var members: [MemberView] = [
                MemberView(
                    name: cluster.localName,
                    address: advertisedAddress,
                    state: .alive,
                    incarnation: cluster.localIncarnation,
                    connections: me?.connections ?? 0,
                    subscriptions: me?.subscriptions ?? 0
                )
            ]
            for var member in cluster.remoteMembers() {
                if let s = byNode[member.name] {
                    member.connections = s.connections
                    member.subscriptions = s.subscriptions
                }
                members.append(member)
            }
            var channels: [String: (subscribers: Int, nodes: Int)] = [:]
            for node in stats {
                for (channel, count) in node.channels where count > 0 {
                    channels[channel, default: (0, 0)].subscribers += count
                    channels[channel, default: (0, 0)].nodes += 1
                }
            }
            let memberValues: [JSONValue] = members.map { m in
                .object([
                    "name": .string(m.name), "address": .string(m.address), "state": .string(m.state.description),
                    "incarnation": .int(Int(clamping: m.incarnation)), "connections": .int(m.connections),
                    "subscriptions": .int(m.subscriptions),
                ])
            }
            let channelValues: [JSONValue] = channels.keys.sorted().map { name in
                .object(["channel": .string(name), "subscribers": .int(channels[name]!.subscribers), "nodes": .int(channels[name]!.nodes)])
            }
            return .success(.object(["node": .string(cluster.localName), "members": .array(memberValues), "channels": .array(channelValues)]))
        }
    }
}
