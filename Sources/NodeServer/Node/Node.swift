import ClusterKit
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import ServiceLifecycle
import UnixSignals

#if canImport(Glibc)
import Glibc
#endif

/// The ports a started node listens on (useful when the configuration asked for port 0).
public struct BoundPorts: Sendable, Equatable {
    public var webSocket: Int
    public var messagesSource: Int
    public var peer: Int?
}

/// One RocketWS node: the WebSocket server, the message sources and the cluster link, each a `Service` under
/// the node's one `ServiceGroup` (see ``services`` for the shutdown order). On graceful shutdown it leaves the
/// cluster, closes its clients with 1001, finishes the forwards in flight and frees its threads.
public final class Node: Sendable {
    public let configuration: NodeConfiguration
    public let metrics = NodeMetrics()
    public let name: String
    private let logger: Logger
    /// The WebSocket clients' loops (one subscription shard each): the fan-out runs here.
    private let group: MultiThreadedEventLoopGroup
    /// One loop for the cluster (membership, interest, peer mesh) and the backends' requests: an emit is routed,
    /// forwarded and answered there without a thread hop, and neither an answer nor a probe or an
    /// acknowledgement waits behind a fan-out in progress.
    private let clusterGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private let hub: LocalHub
    private let cluster: any ClusterLink
    private let api: NodeAPI
    private let sweeps: LivenessSweeps
    private let webSocketServer: WebSocketServer
    private let sources: [any MessagesSource]
    /// Sources that consume a queue: started last and stopped first (before the node leaves the cluster, so
    /// the messages in hand are still answered cluster-wide and acknowledged).
    private let queueSources: [any MessagesSource]
    private let serviceGroup: ServiceGroup
    /// The task running `serviceGroup`, from `start()` on.
    private let running = NIOLockedValueBox<Task<Void, Never>?>(nil)

    /// A node with the default HTTP message source (and the AMQP one when configured). `cluster` overrides the
    /// cluster link (tests); `extraSources` makes more message sources with the node's API; any of
    /// `gracefulShutdownSignals` starts the graceful shutdown.
    public init(
        configuration: NodeConfiguration, logger: Logger, cluster: (any ClusterLink)? = nil,
        extraSources: (any BackendAPI) -> [any MessagesSource] = { _ in [] }, gracefulShutdownSignals: [UnixSignal] = []
    ) {
        self.configuration = configuration
        self.logger = logger
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, configuration.eventLoopThreads))
        self.name = configuration.nodeName ?? Self.defaultName(peerPort: configuration.peerAddress.port)
        self.hub = LocalHub(
            group: group,
            flushDelay: configuration.webSocket.flushDelay,
            maxFlushDelay: configuration.webSocket.maxFlushDelay,
            earlyWriteBytes: min(1 << 20, configuration.webSocket.maxQueueBytes / 4)
        )
        let advertised = configuration.advertise ?? Self.defaultAdvertise(configuration.peerAddress)
        let incarnation = Self.freshIncarnation()
        let link: any ClusterLink
        if let cluster {
            link = cluster
        } else if configuration.clustered {
            let settings = configuration.clusterSettings(nodeName: name, advertisedAddress: advertised, incarnation: incarnation)
            link = ClusterShell(settings: settings, group: clusterGroup, logger: logger, metrics: metrics.factory)
        } else {
            link = SoloCluster(name: name, incarnation: incarnation)
        }
        self.cluster = link
        self.api = NodeAPI(hub: hub, cluster: link, metrics: metrics, settings: configuration.webSocket, advertisedAddress: advertised)
        link.setDelegate(api)
        self.sweeps = LivenessSweeps(group: group, settings: configuration.webSocket.liveness)
        self.webSocketServer = WebSocketServer(
            settings: configuration.webSocket, address: configuration.webSocketAddress, group: group, hub: hub, api: api, sweeps: sweeps,
            logger: logger)
        var sources: [any MessagesSource] = [HTTPMessagesSource(settings: configuration.messagesSource, api: api, group: clusterGroup, logger: logger)]
        sources.append(contentsOf: extraSources(api))
        self.sources = sources
        if let amqp = configuration.amqp {
            self.queueSources = [AMQPMessagesSource(
                settings: amqp, nodeName: name, maxBodyBytes: configuration.messagesSource.maxBodyBytes, api: api,
                loop: clusterGroup.next(), metrics: AMQPSourceMetrics(registry: metrics.registry), logger: logger)]
        } else {
            self.queueSources = []
        }
        let services = Self.services(
            mesh: link.meshService, sources: sources, sweeps: sweeps, webSocketServer: webSocketServer, cluster: link, queueSources: queueSources)
        self.serviceGroup = ServiceGroup(
            configuration: .init(services: services, gracefulShutdownSignals: gracefulShutdownSignals, logger: logger))
    }

    /// Wall-clock milliseconds: a restarted process is always newer than the one before it.
    static func freshIncarnation() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return UInt64(now.tv_sec) * 1000 + UInt64(now.tv_nsec / 1_000_000)
    }

    /// `hostname-PEERPORT`.
    static func defaultName(peerPort: Int) -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        let host = gethostname(&buffer, buffer.count) == 0 ? String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : "node"
        return "\(host)-\(peerPort)"
    }

    static func defaultAdvertise(_ peer: HostPort) -> String {
        if peer.host == "0.0.0.0" || peer.host == "::" {
            var buffer = [CChar](repeating: 0, count: 256)
            let host = gethostname(&buffer, buffer.count) == 0 ? String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : "127.0.0.1"
            return HostPort(host: host, port: peer.port).description
        }
        return peer.description
    }

    /// The node's API (for message sources added in-process).
    public var backendAPI: any BackendAPI { api }

    /// Binds every listener and joins the cluster (in this order, so that the ports are known when it returns),
    /// then runs the services until the graceful shutdown (``stop()`` or a signal).
    public func start() async throws -> BoundPorts {
        lowerFanOutPriority()
        let peer = try await cluster.start()
        sweeps.start()
        let ws = try await webSocketServer.start()
        var ms = 0
        for (i, source) in sources.enumerated() {
            let port = try await source.start()
            if i == 0 { ms = port }
        }
        for source in queueSources { _ = try await source.start() }
        logger.info(
            "node started",
            metadata: ["node/name": "\(name)", "node/ws": "\(ws)", "node/ms": "\(ms)", "node/peer": "\(peer.map(String.init) ?? "none")"]
        )
        let task = Task { [self] in
            do {
                try await serviceGroup.run()
            } catch {
                logger.error("node services failed", metadata: ["node/error": "\(error)"])
            }
            await releaseThreads()
            logger.info("node stopped", metadata: ["node/name": "\(name)"])
        }
        running.withLockedValue { $0 = task }
        return BoundPorts(webSocket: ws, messagesSource: ms, peer: peer)
    }

    /// The client loops run the fan-out, which saturates the cores under load; the backend and cluster loops
    /// do short, latency-critical work (answering emits, acknowledgements, probes). Running the client loops
    /// a few nice levels lower lets the kernel wake the short work at once instead of behind a fan-out slice.
    private func lowerFanOutPriority() {
        #if canImport(Glibc)
        let nice = configuration.fanOutNice
        guard nice > 0 else { return }
        for loop in group.makeIterator() {
            loop.execute {
                // On Linux, PRIO_PROCESS with who 0 is the calling thread alone.
                _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, nice)
            }
        }
        #endif
    }

    /// Reads the peer mesh's TLS files again (what SIGHUP does): new peer connections use them, live links
    /// keep theirs until replaced; a file that cannot be used is logged and the old material kept.
    @discardableResult
    public func reloadPeerTLS() -> Bool { cluster.reloadPeerTLS() }

    /// Shuts the node down gracefully (the order of ``services``) and waits until it is done.
    public func stop() async {
        guard let task = running.withLockedValue({ $0 }) else {
            await releaseThreads()  // never started
            return
        }
        logger.info("node stopping", metadata: ["node/name": "\(name)"])
        await serviceGroup.triggerGracefulShutdown()
        await task.value
    }

    /// Starts the node and serves until its graceful shutdown has run through every service.
    public func run() async throws {
        _ = try await start()
        await running.withLockedValue({ $0 })?.value
    }

    private func releaseThreads() async {
        try? await group.shutdownGracefully()
        try? await clusterGroup.shutdownGracefully()
    }
}

extension NodeAPI: BackendAPI {
    public func healthBody() -> [UInt8] {
        var bytes: [UInt8] = Array(#"{"status":"ok","node":"#.utf8)
        JSONString.appendQuoted(cluster.localName, to: &bytes)
        bytes.append(contentsOf: #","connections":"#.utf8)
        bytes.append(contentsOf: String(hub.connectionCount).utf8)
        bytes.append(UInt8(ascii: "}"))
        return bytes
    }

    public func refusedUnauthorized() {
        metrics.unauthorized.increment()
    }

    public func handshakeTimedOut() {
        metrics.handshakeTimeouts.increment()
    }

    public func metricsText() -> [UInt8] {
        metrics.connections.set(Double(hub.connectionCount))
        metrics.subscriptions.set(Double(hub.subscriptionCount))
        metrics.channels.set(Double(hub.channelCounts().count))
        metrics.fanOutWindow.set(Double(hub.longestWindow.nanoseconds) / 1e9)
        let kept = cluster.historyKeptCounts
        metrics.historyMessages.set(Double(kept.messages))
        metrics.historyBytes.set(Double(kept.bytes))
        let members = cluster.remoteMembers()
        metrics.peersAlive.set(Double(members.filter { $0.state == .alive }.count))
        metrics.peersSuspect.set(Double(members.filter { $0.state == .suspect }.count))
        metrics.peersDead.set(Double(members.filter { $0.state == .dead }.count))
        metrics.peersLeft.set(Double(members.filter { $0.state == .left }.count))
        for link in cluster.linkStats() {
            let labels = [("peer", link.peer.name)]
            metrics.registry.makeGauge(descriptor: .init(namespace: "rocketws", metricName: "peer_queue", unitName: "bytes", helpText: "Bytes queued for a peer"), labels: labels)
                .set(Double(link.queuedBytes))
            metrics.registry.makeGauge(descriptor: .init(namespace: "rocketws", metricName: "peer_dropped_frames", unitName: "", helpText: "Frames dropped because a peer's queue overflowed"), labels: labels)
                .set(Double(link.droppedFrames))
            metrics.registry.makeGauge(descriptor: .init(namespace: "rocketws", metricName: "peer_sent_frames", unitName: "", helpText: "Frames queued for a peer on its current link"), labels: labels)
                .set(Double(link.sentFrames))
            metrics.registry.makeGauge(descriptor: .init(namespace: "rocketws", metricName: "peer_received_frames", unitName: "", helpText: "Frames received from a peer on its current link"), labels: labels)
                .set(Double(link.receivedFrames))
            if let rtt = link.rtt {
                metrics.registry.makeGauge(descriptor: .init(namespace: "rocketws", metricName: "peer_rtt", unitName: "seconds", helpText: "HTTP/2 PING round-trip time to a peer"), labels: labels)
                    .set(Double(rtt.components.attoseconds) / 1e18 + Double(rtt.components.seconds))
            }
        }
        return metrics.render()
    }
}
