import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket
import ServiceLifecycle

/// The WebSocket listener for browser-like clients: HTTP/1.1 upgrade on path `/`, then a `WebSocketSession`.
/// A service of the node: at its graceful shutdown it stops accepting, writes out what was accepted and closes
/// every client with 1001 (going away).
final class WebSocketServer: Service, Sendable {
    private let settings: WebSocketSettings
    private let address: HostPort
    private let group: any EventLoopGroup
    private let hub: LocalHub
    private let api: NodeAPI
    private let sweeps: LivenessSweeps
    private let logger: Logger
    private let nextID = NIOLockedValueBox<UInt64>(0)
    private let serverChannel = NIOLockedValueBox<(any Channel)?>(nil)

    init(settings: WebSocketSettings, address: HostPort, group: any EventLoopGroup, hub: LocalHub, api: NodeAPI, sweeps: LivenessSweeps, logger: Logger) {
        self.settings = settings
        self.address = address
        self.group = group
        self.hub = hub
        self.api = api
        self.sweeps = sweeps
        self.logger = logger
    }

    /// Binds (once: a later call returns the same port) and returns the bound port.
    func start() async throws -> Int {
        if let bound = serverChannel.withLockedValue({ $0 }) { return bound.localAddress?.port ?? address.port }
        let settings = self.settings
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 4096)
            .serverChannelOption(.maxMessagesPerRead, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelOption(.writeBufferWaterMark, value: .init(low: settings.maxQueueBytes / 2, high: settings.maxQueueBytes))
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture { try self.configure(channel) }
            }
        let channel = try await bootstrap.bind(host: address.host, port: address.port).get()
        serverChannel.withLockedValue { $0 = channel }
        return channel.localAddress?.port ?? address.port
    }

    /// Serves until the node's graceful shutdown reaches this service, then closes the clients.
    func run() async throws {
        _ = try await start()
        try? await gracefulShutdown()
        await closeClients()
    }

    /// Stops accepting, writes out every open fan-out window (accepted messages leave first), closes every
    /// client with 1001 (going away) and waits (at most 2 s) for them to go.
    func closeClients() async {
        let channel = serverChannel.withLockedValue { $0 }
        try? await channel?.close()
        try? await hub.flushAll().get()
        try? await hub.forEachSession { $0.close(code: 1001, reason: "server shutting down", grace: .milliseconds(1500)) }.get()
        try? await hub.waitForSessionsToClose(within: .seconds(2))
    }

    private func configure(_ channel: any Channel) throws {
        let settings = self.settings
        let hub = self.hub
        let upgrader = NIOWebSocketServerUpgrader(
            maxFrameSize: settings.maxMessageBytes,
            automaticErrorHandling: false,
            shouldUpgrade: { [self] channel, head in
                channel.eventLoop.makeSucceededFuture(self.upgradeHeaders(for: head))
            },
            upgradePipelineHandler: { [self] channel, _ in
                channel.eventLoop.makeCompletedFuture {
                    let ops = channel.pipeline.syncOperations
                    // This node writes frames as bytes (one buffer shared by all subscribers): its writes start
                    // from a handler placed before (nearer the socket than) the per-frame encoder.
                    let encoder = try ops.handler(type: WebSocketFrameEncoder.self)
                    let writer = RawFrameWriter()
                    try ops.addHandler(writer, position: .before(encoder))
                    let writerContext = try ops.context(handler: writer)
                    let id = self.nextID.withLockedValue { $0 += 1; return $0 }
                    let sweep = self.sweeps.sweep(for: channel.eventLoop)
                    let session = WebSocketSession(
                        id: id,
                        shard: hub.shard(for: channel.eventLoop),
                        hub: hub,
                        api: self.api,
                        settings: settings,
                        writer: writerContext,
                        sweep: sweep
                    )
                    try ops.addHandler(session)
                }
            }
        )
        let refusal = UpgradeRefusalHandler(server: self)
        try channel.pipeline.syncOperations.configureHTTPServerPipeline(
            withServerUpgrade: (upgraders: [upgrader], completionHandler: { context in
                let ops = context.pipeline.syncOperations
                if let refusal = try? ops.context(handlerType: UpgradeRefusalHandler.self) {
                    ops.removeHandler(context: refusal, promise: nil)
                }
            }),
            withErrorHandling: true
        )
        try channel.pipeline.syncOperations.addHandler(refusal)
        let metrics = api.metrics
        let limits = RequestHeadLimits(timeout: settings.handshakeTimeout, timedOut: { metrics.handshakeTimeouts.increment() })
        try channel.pipeline.syncOperations.addHandler(RequestHeadGuard(limits: limits), position: .first)
    }

    /// Why an upgrade request is refused, or nil when it may proceed.
    func refusal(for head: HTTPRequestHead) -> HTTPResponseStatus? {
        let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
        guard path == "/" else { return .notFound }
        if !settings.allowedOrigins.isEmpty {
            guard let origin = head.headers.first(name: "origin"), settings.allowedOrigins.contains(origin) else {
                return .forbidden
            }
        }
        guard hub.connectionCount < settings.maxConnections else { return .serviceUnavailable }
        return nil
    }

    /// Headers for the 101 answer, or nil to refuse the upgrade (the refusal handler answers it).
    private func upgradeHeaders(for head: HTTPRequestHead) -> HTTPHeaders? {
        // NIO's upgrader checks the version and that a key is there, not the rest of RFC 6455 4.2.1.
        guard refusal(for: head) == nil, Self.isWellFormedUpgrade(head) else {
            api.metrics.refusedUpgrades.increment()
            return nil
        }
        return HTTPHeaders()
    }

    /// The status for a request on this port that was not upgraded and not refused for its path, origin or
    /// load (RFC 6455 4.2.1, 4.2.2, 4.4): a WebSocket upgrade with another version than 13 gets 426 (the
    /// answer names version 13), any other malformed upgrade 400, and a plain HTTP request 426.
    static func handshakeStatus(for head: HTTPRequestHead) -> HTTPResponseStatus {
        guard tokens(head, "upgrade").contains("websocket") else { return .upgradeRequired }
        guard head.headers["sec-websocket-version"] == ["13"] else { return .upgradeRequired }
        return .badRequest
    }

    /// RFC 6455 4.2.1: an HTTP/1.1 GET whose Connection lists "Upgrade", with a well-formed key (NIO's
    /// upgrader checks Upgrade and the version).
    static func isWellFormedUpgrade(_ head: HTTPRequestHead) -> Bool {
        head.method == .GET && (head.version.major, head.version.minor) >= (1, 1)
            && tokens(head, "connection").contains("upgrade")
            && isValidKey(head.headers.first(name: "sec-websocket-key"))
    }

    /// The lowercased comma-separated tokens of header `name`.
    private static func tokens(_ head: HTTPRequestHead, _ name: String) -> [String] {
        head.headers[name].flatMap { $0.split(separator: ",") }.map { $0.filter { $0 != " " && $0 != "\t" }.lowercased() }
    }

    /// Whether `key` is a Sec-WebSocket-Key of the form RFC 6455 4.1 requires: 16 bytes in base64.
    static func isValidKey(_ key: String?) -> Bool {
        guard let key, key.utf8.count == 24, key.hasSuffix("==") else { return false }
        return key.utf8.dropLast(2).allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "+"), UInt8(ascii: "/"):
                true
            default: false
            }
        }
    }
}

/// Answers plain HTTP requests (and refused upgrades) on the WebSocket port: this port speaks WebSocket only.
final class UpgradeRefusalHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let server: WebSocketServer
    private var status: HTTPResponseStatus = .upgradeRequired

    init(server: WebSocketServer) {
        self.server = server
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            status = server.refusal(for: head) ?? WebSocketServer.handshakeStatus(for: head)
            return
        case .body:
            return
        case .end:
            break
        }
        let body: String
        switch status {
        case .notFound: body = #"{"error":"WebSocket endpoint is at path /"}"#
        case .forbidden: body = #"{"error":"origin not allowed"}"#
        case .serviceUnavailable: body = #"{"error":"connection limit reached"}"#
        case .badRequest: body = #"{"error":"malformed WebSocket handshake"}"#
        default: body = #"{"error":"this port accepts WebSocket upgrades only (version 13)"}"#
        }
        var buffer = context.channel.allocator.buffer(capacity: body.utf8.count)
        buffer.writeString(body)
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "application/json")
        headers.add(name: "content-length", value: String(buffer.readableBytes))
        headers.add(name: "connection", value: "close")
        if status == .upgradeRequired {
            // RFC 7231 6.5.15: a 426 names the protocol to upgrade to; RFC 6455 4.4: and the version spoken.
            headers.add(name: "upgrade", value: "websocket")
            headers.add(name: "sec-websocket-version", value: "13")
        }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
    }
}

@available(*, unavailable)
extension UpgradeRefusalHandler: Sendable {}

/// A pass-through handler next to the socket: WebSocket sessions write pre-encoded frame bytes from its
/// context, so they skip the frame encoder that the upgrader installs.
final class RawFrameWriter: ChannelOutboundHandler {
    typealias OutboundIn = ByteBuffer
}

@available(*, unavailable)
extension RawFrameWriter: Sendable {}
