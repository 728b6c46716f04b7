import Logging
import NIOCore
import NIOPosix
import NIOSSL
import RocketWSProtocol

#if canImport(Glibc)
import Glibc
#endif

/// One address given to `PeerMesh.connect`, kept connected until `forget`.
struct DialTarget: Sendable {
    enum Phase: Sendable, Equatable {
        /// A dial or handshake is in flight.
        case dialing
        /// Waiting for the backoff delay before the next dial.
        case waiting
        /// Our dial lost the simultaneous-dial tie break (or failed) while a link to the same peer
        /// exists; redial when that link goes away.
        case parked
        /// The address is this node itself: never dialed again.
        case isSelf
    }

    let address: String
    var phase: Phase = .dialing
    var attempt = 0
    /// The peer's name, learned in a handshake on a connection dialed to this address.
    var peerName: String?
    var retryTask: Scheduled<Void>?

    init(address: String) { self.address = address }
}

extension PeerMesh {
    /// Jittered exponential backoff: `min(max, min * 2^attempt)` scaled by a random factor in [0.5, 1].
    static func backoff(attempt: Int, min: Duration, max: Duration) -> Duration {
        let base = Double(min.nanosecondsClamped) * Double(1 << Swift.min(attempt, 20))
        let capped = Swift.min(base, Double(max.nanosecondsClamped))
        return .nanoseconds(Int64(capped * Double.random(in: 0.5...1.0)))
    }

    /// A peer address to dial (`HOST:PORT`, `:PORT` on this machine, `[IPv6]:PORT`); nil when it is not one.
    static func parse(address: String) -> (host: String, port: Int)? {
        guard let parsed = try? HostPort(parsing: address, defaultHost: "127.0.0.1") else { return nil }
        return (parsed.host, parsed.port)
    }

    static func isIPAddress(_ host: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
    }

    func dial(_ address: String) {
        guard let (host, port) = Self.parse(address: address) else {
            logger.error("cannot dial malformed peer address", metadata: ["cluster/address": "\(address)"])
            return
        }
        let hw = settings.writeBufferHighWaterMark
        let material = tls.withLock { $0 }
        // The listener's certificate is checked against the dialled name; an IP address is checked against the
        // connection's remote address (it cannot go in SNI).
        let serverName = Self.isIPAddress(host) ? nil : host
        ClientBootstrap(group: group)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelOption(.writeBufferWaterMark, value: .init(low: hw / 2, high: hw))
            .channelOption(.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 4096, initial: 65536, maximum: 1 << 20))
            .connectTimeout(.nanoseconds(settings.connectTimeout.nanosecondsClamped))
            .channelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    if let material {
                        try pipeline.addHandler(NIOSSLClientHandler(context: material.clientContext, serverHostname: serverName))
                        try pipeline.addHandler(PeerTLSGate(mesh: self, logger: logger))
                    }
                    try pipeline.addHandler(
                        PeerConnectionHandler(role: .dialer(target: address), mesh: self, settings: settings, logger: logger))
                }
            }
            .connect(host: host, port: port)
            .whenFailure { [self] error in
                logger.debug("peer dial failed", metadata: ["cluster/address": "\(address)", "error": "\(error)"])
                dialEnded(address, peerName: nil, dialedSelf: false)
            }
    }

    /// A dial to `address` failed or its connection closed.
    func dialEnded(_ address: String, peerName: String?, dialedSelf: Bool) {
        let retry = state.withLock { st -> Bool in
            guard !st.shuttingDown, var target = st.targets[address] else { return false }
            defer { st.targets[address] = target }
            if let peerName { target.peerName = peerName }
            if dialedSelf {
                target.phase = .isSelf
                return false
            }
            if let name = target.peerName, st.links[name] != nil {
                target.phase = .parked
                return false
            }
            return true
        }
        if retry { scheduleRetry(address) }
    }

    func scheduleRetry(_ address: String) {
        let loop = group.any()
        state.withLock { st in
            guard !st.shuttingDown, var target = st.targets[address], target.phase != .waiting, target.phase != .isSelf else { return }
            let delay = Self.backoff(attempt: target.attempt, min: settings.reconnectBackoffMin, max: settings.reconnectBackoffMax)
            target.attempt += 1
            target.phase = .waiting
            target.retryTask = loop.scheduleTask(in: .nanoseconds(delay.nanosecondsClamped)) { [self] in
                redial(address)
            }
            st.targets[address] = target
        }
    }

    private func redial(_ address: String) {
        let go = state.withLock { st -> Bool in
            guard !st.shuttingDown, var target = st.targets[address], target.phase == .waiting else { return false }
            if let name = target.peerName, st.links[name] != nil {
                target.phase = .parked
                st.targets[address] = target
                return false
            }
            target.phase = .dialing
            target.retryTask = nil
            st.targets[address] = target
            return true
        }
        if go { dial(address) }
    }
}
