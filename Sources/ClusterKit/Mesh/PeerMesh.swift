import Logging
import Metrics
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

/// The HTTP/2 peer mesh: one persistent h2c connection per peer pair, authenticated with the
/// cluster secret, carrying length-prefixed application frames in per-sender order.
///
/// `send` is thread-safe and cheap: it appends the encoded frame to the peer's bounded queue
/// and, at most once per batch, wakes the connection's event loop.
public final class PeerMesh: Sendable {
    public let identity: PeerIdentity
    public let settings: PeerMeshSettings
    /// Where the mesh's counters go (the node's Prometheus registry; swift-metrics' global factory by default).
    let metrics: any MetricsFactory
    let group: any EventLoopGroup
    let logger: Logger

    enum RegisterResult {
        case accepted((any PeerMeshDelegate)?)
        case rejected
    }

    struct Connection {
        var handler: NIOLoopBound<PeerConnectionHandler>
        var channel: any Channel
    }

    struct State {
        var delegate: (any PeerMeshDelegate)?
        var links: [String: PeerLink] = [:] {
            didSet { lastLink = nil }
        }
        /// The link `send` found last: repeated sends to one peer skip hashing the name.
        var lastLink: PeerLink?
        var targets: [String: DialTarget] = [:]
        var connections: [ObjectIdentifier: Connection] = [:]
        var serverChannel: (any Channel)?
        var shuttingDown = false
    }

    let state: Mutex<State>
    /// The TLS contexts when `settings.tls` is set (loaded by `start`, replaced by `reloadTLS`).
    let tls = Mutex<PeerTLSMaterial?>(nil)
    private let refusals = Atomic<UInt64>(0)
    private let protocolErrors = Atomic<UInt64>(0)
    private let refusalCounter: Counter
    private let protocolErrorCounter: Counter

    public init(
        identity: PeerIdentity, settings: PeerMeshSettings, group: any EventLoopGroup, logger: Logger,
        delegate: (any PeerMeshDelegate)? = nil, metrics: any MetricsFactory = MetricsSystem.factory
    ) {
        self.identity = identity
        self.metrics = metrics
        self.settings = settings
        self.group = group
        var logger = logger
        logger[metadataKey: "cluster/node"] = "\(identity.name)"
        self.logger = logger
        self.state = Mutex(State(delegate: delegate))
        self.refusalCounter = Counter(label: "rocketws_mesh_refused_total", dimensions: [], factory: metrics)
        self.protocolErrorCounter = Counter(label: "rocketws_mesh_protocol_errors_total", dimensions: [], factory: metrics)
    }

    public func setDelegate(_ delegate: any PeerMeshDelegate) {
        state.withLock { $0.delegate = delegate }
    }

    // MARK: Public API

    /// Binds the listener (h2c with prior knowledge, or HTTP/2 over TLS 1.3 when `settings.tls` is set) and
    /// returns the bound port. Throws `PeerTLSError` when a TLS file cannot be used.
    public func start() async throws -> Int {
        if settings.clusterSecret == nil {
            logger.warning("peer mesh started without a cluster secret: any node can join")
        }
        if let files = settings.tls {
            let material = try PeerTLSMaterial(files: files)
            tls.withLock { $0 = material }
        }
        let hw = settings.writeBufferHighWaterMark
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelOption(.writeBufferWaterMark, value: .init(low: hw / 2, high: hw))
            .childChannelOption(.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 4096, initial: 65536, maximum: 1 << 20))
            .childChannelInitializer { [self] channel in
                let material = tls.withLock { $0 }
                return channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    if let material {
                        try pipeline.addHandler(NIOSSLServerHandler(context: material.serverContext))
                        try pipeline.addHandler(PeerTLSGate(mesh: self, logger: logger))
                    }
                    try pipeline.addHandler(
                        PeerConnectionHandler(role: .listener, mesh: self, settings: settings, logger: logger))
                }
            }
            .bind(host: settings.listenHost, port: settings.listenPort).get()
        state.withLock { $0.serverChannel = channel }
        let port = channel.localAddress?.port ?? settings.listenPort
        logger.info("peer mesh listening", metadata: ["cluster/port": "\(port)", "cluster/tls": "\(settings.tls != nil)"])
        return port
    }

    /// Dials `address` ("host:port", DNS names allowed) and keeps it connected: retries with
    /// jittered exponential backoff until connected, and again after every loss, until `forget`.
    public func connect(to address: String) {
        let shouldDial = state.withLock { st -> Bool in
            guard !st.shuttingDown, st.targets[address] == nil else { return false }
            st.targets[address] = DialTarget(address: address)
            return true
        }
        if shouldDial { dial(address) }
    }

    /// Stops reconnecting to `address` (peer dead or left). An existing connection stays up until it breaks.
    public func forget(address: String) {
        let task = state.withLock { $0.targets.removeValue(forKey: address)?.retryTask }
        task?.cancel()
    }

    /// Queues one frame for `peerName`. Thread-safe; `kind` must be >= 16 (0-15 are the mesh's).
    @discardableResult
    public func send(kind: UInt8, payload: ByteBuffer, to peerName: String) -> PeerSendResult {
        precondition(kind >= PeerFrame.firstApplicationKind, "frame kinds 0-15 are reserved for the mesh")
        let link = state.withLock { st -> PeerLink? in
            if let last = st.lastLink, last.identity.name == peerName { return last }
            let link = st.links[peerName]
            st.lastLink = link
            return link
        }
        guard let link else { return .notConnected }
        return link.send(kind: kind, payload: payload)
    }

    /// Queues one frame for each named peer (the payload is encoded once per link, never retained).
    @discardableResult
    public func send(kind: UInt8, payload: ByteBuffer, toAll peerNames: some Sequence<String>) -> [String: PeerSendResult] {
        var results: [String: PeerSendResult] = [:]
        for name in peerNames { results[name] = send(kind: kind, payload: payload, to: name) }
        return results
    }

    /// Queues one frame for every connected peer; returns the result per peer name.
    @discardableResult
    public func broadcast(kind: UInt8, payload: ByteBuffer) -> [String: PeerSendResult] {
        precondition(kind >= PeerFrame.firstApplicationKind, "frame kinds 0-15 are reserved for the mesh")
        let links = state.withLock { Array($0.links.values) }
        var results: [String: PeerSendResult] = [:]
        for link in links { results[link.identity.name] = link.send(kind: kind, payload: payload) }
        return results
    }

    /// Reads the TLS files again (SIGHUP): connections opened from now on use them, live links keep theirs until
    /// they are replaced. A file that cannot be used is logged and the material in use is kept. Returns whether
    /// the new files are in use (false without TLS).
    @discardableResult
    public func reloadTLS() -> Bool {
        guard let material = tls.withLock({ $0 }) else {
            logger.notice("TLS reload asked, but the peer mesh runs without TLS")
            return false
        }
        do {
            try material.reload()
            logger.notice("peer TLS files reloaded", metadata: ["cluster/cert": "\(material.files.certificatePath)"])
            return true
        } catch {
            logger.error("peer TLS reload failed, keeping the files loaded before: \(error)")
            return false
        }
    }

    /// Peers with an authenticated link right now.
    public var connectedPeers: [PeerIdentity] {
        state.withLock { $0.links.values.map(\.identity) }.sorted { $0.name < $1.name }
    }

    /// Per-peer counters of the live links.
    public func stats() -> [PeerLinkStats] {
        state.withLock { Array($0.links.values) }.map { $0.stats() }.sorted { $0.peer.name < $1.peer.name }
    }

    /// Connections refused because the peer failed the handshake (secret, malformed, early frames).
    public var refusedConnections: UInt64 { refusals.load(ordering: .relaxed) }
    /// Connections closed because of a malformed or oversize mesh frame.
    public var protocolErrorCount: UInt64 { protocolErrors.load(ordering: .relaxed) }

    /// Stops listening and dialing, drains every queue (bounded by `drainTimeout`), sends GOAWAY and closes.
    public func shutdown() async {
        let (server, connections, tasks) = state.withLock { st in
            st.shuttingDown = true
            let tasks = st.targets.values.compactMap(\.retryTask)
            st.targets.removeAll()
            return (st.serverChannel, Array(st.connections.values), tasks)
        }
        tasks.forEach { $0.cancel() }
        try? await server?.close()
        for connection in connections {
            let handler = connection.handler
            handler.eventLoop.execute { handler.value.beginDrain() }
        }
        let deadline = group.any().scheduleTask(in: .nanoseconds(settings.drainTimeout.nanosecondsClamped)) {
            for connection in connections { connection.channel.close(promise: nil) }
        }
        for connection in connections { try? await connection.channel.closeFuture.get() }
        deadline.cancel()
        state.withLock { $0.delegate = nil }
    }

    // MARK: Called by connection handlers (on their event loops)

    func connectionOpened(_ handler: PeerConnectionHandler, channel: any Channel) {
        let bound = NIOLoopBound(handler, eventLoop: channel.eventLoop)
        let refuse = state.withLock { st -> Bool in
            if st.shuttingDown { return true }
            st.connections[ObjectIdentifier(handler)] = Connection(handler: bound, channel: channel)
            return false
        }
        if refuse { channel.close(promise: nil) }
    }

    /// Decides whether `link` becomes the peer's live link (one per peer pair):
    /// a higher incarnation replaces the old link; a lower one is refused; for the same incarnation
    /// (simultaneous dials) the connection dialed by the lexicographically smaller node name wins,
    /// and between two dialed by the same node the newer wins (the older is stale).
    func register(_ link: PeerLink) -> RegisterResult {
        let name = link.identity.name
        let preferredDialer = min(identity.name, name)
        let (accepted, replaced, delegate) = state.withLock { st -> (Bool, PeerLink?, (any PeerMeshDelegate)?) in
            if st.shuttingDown { return (false, nil, nil) }
            if let existing = st.links[name] {
                if link.identity.incarnation < existing.identity.incarnation { return (false, nil, nil) }
                if link.identity.incarnation == existing.identity.incarnation && existing.dialer == preferredDialer
                    && link.dialer != preferredDialer
                {
                    return (false, nil, nil)
                }
            }
            let replaced = st.links.updateValue(link, forKey: name)
            if link.dialedByUs, let target = st.targets.first(where: { $0.value.peerName == name })?.key {
                st.targets[target]?.attempt = 0
            }
            return (true, replaced, st.delegate)
        }
        guard accepted else { return .rejected }
        if let replaced {
            replaced.close()
            let handler = replaced.handler
            replaced.eventLoop.execute { handler.value.closeNow() }
            logger.info("peer link replaced", metadata: ["cluster/peer": "\(replaced.identity)"])
            delegate?.peerMesh(self, didDisconnect: replaced.identity)
        }
        return .accepted(delegate)
    }

    func announceConnected(_ link: PeerLink, delegate: (any PeerMeshDelegate)?) {
        logger.info("peer connected", metadata: ["cluster/peer": "\(link.identity)", "cluster/dialed": "\(link.dialedByUs)"])
        delegate?.peerMesh(self, didConnect: link.identity)
    }

    func connectionClosed(_ handler: PeerConnectionHandler, link: PeerLink?) {
        let name = link?.identity.name
        let (removed, delegate, wake) = state.withLock { st -> (Bool, (any PeerMeshDelegate)?, [String]) in
            st.connections.removeValue(forKey: ObjectIdentifier(handler))
            guard let link, let name, st.links[name] === link else { return (false, nil, []) }
            st.links[name] = nil
            let wake = st.targets.filter { $0.value.peerName == name && $0.value.phase == .parked }.map(\.key)
            return (true, st.delegate, wake)
        }
        if removed, let link {
            logger.info("peer disconnected", metadata: ["cluster/peer": "\(link.identity)"])
            delegate?.peerMesh(self, didDisconnect: link.identity)
        }
        if case .dialer(let target) = handler.role {
            dialEnded(target, peerName: handler.learnedPeerName, dialedSelf: handler.dialedSelf)
        }
        for target in wake { scheduleRetry(target) }
    }

    /// The counter of frames dropped for `peer` (one per peer name, shared by its successive links).
    func droppedFramesCounter(peer: String) -> Counter {
        Counter(label: "rocketws_mesh_dropped_frames_total", dimensions: [("peer", peer)], factory: metrics)
    }

    func countRefusal() {
        refusals.add(1, ordering: .relaxed)
        refusalCounter.increment()
    }

    func countProtocolError() {
        protocolErrors.add(1, ordering: .relaxed)
        protocolErrorCounter.increment()
    }

    /// Test hook: stop (or resume) reading from every connection, as a stalled receiver would.
    func _setReading(_ reading: Bool) {
        let connections = state.withLock { Array($0.connections.values) }
        for connection in connections {
            let handler = connection.handler
            handler.eventLoop.execute { reading ? handler.value.resumeReading() : handler.value.pauseReading() }
        }
    }
}
