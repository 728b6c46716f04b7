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
    let settings: WebSocketSettings
    private let address: HostPort
    private let group: any EventLoopGroup
    private let hub: LocalHub
    let api: NodeAPI
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
        let gate = UpgradeTokenGate()
        let upgrader = NIOWebSocketServerUpgrader(
            maxFrameSize: settings.maxMessageBytes,
            automaticErrorHandling: false,
            shouldUpgrade: { [self] channel, head in
                guard let headers = self.upgradeHeaders(for: head) else { return channel.eventLoop.makeSucceededFuture(nil) }
                guard let verifier = self.api.tokenVerifier, let token = UpgradeTokenGate.token(in: head.uri) else {
                    return channel.eventLoop.makeSucceededFuture(headers)
                }
                return gate.check(token, with: verifier, on: channel.eventLoop, metrics: self.api.metrics).map { $0 ? headers : nil }
            },
            upgradePipelineHandler: { [self] channel, _ in
                channel.eventLoop.makeCompletedFuture {
                    let ops = channel.pipeline.syncOperations
                    // This node writes frames as bytes (one buffer shared by all subscribers): its writes start
                    // from a handler placed before (nearer the socket than) the per-frame encoder.
                    let encoder = try ops.handler(type: WebSocketFrameEncoder.self)
                    let writer = RawFrameWriter()
                    try ops.addHandler(writer, position: .before(encoder))
                    let session = self.makeSession(channel: channel, writer: try ops.context(handler: writer), pinged: true, identity: gate.identity)
                    try ops.addHandler(session)
                }
            }
        )
        let refusal = UpgradeRefusalHandler(server: self, gate: gate)
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

    /// A session for a connection of this port that writes its frames from `writer`; `pinged`: its loop's ping
    /// sweep watches it (an event stream gets comment lines instead, its browser never answers).
    func makeSession(channel: any Channel, writer: ChannelHandlerContext, pinged: Bool, identity: ConnectionIdentity? = nil) -> WebSocketSession {
        let id = nextID.withLockedValue { $0 += 1; return $0 }
        let sweep = pinged ? sweeps.sweep(for: channel.eventLoop) : nil
        return WebSocketSession(
            id: id, shard: hub.shard(for: channel.eventLoop), hub: hub, api: api, settings: settings, writer: writer, sweep: sweep,
            identity: identity)
    }

    /// Why an upgrade request is refused, or nil when it may proceed.
    func refusal(for head: HTTPRequestHead) -> HTTPResponseStatus? {
        let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
        guard path == "/" else { return .notFound }
        return originAndLoadRefusal(for: head)
    }

    /// The `--allowed-origins` and `--max-connections` rules, for WebSocket upgrades and event streams alike.
    func originAndLoadRefusal(for head: HTTPRequestHead) -> HTTPResponseStatus? {
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

/// Answers plain HTTP requests (and refused upgrades) on the WebSocket port: the browser files and event streams
/// (`WebSocketServer+Browser`), else an error (this port speaks WebSocket otherwise).
final class UpgradeRefusalHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let server: WebSocketServer
    private let gate: UpgradeTokenGate
    private var status: HTTPResponseStatus = .upgradeRequired
    private var head: HTTPRequestHead?
    private var browserRoute: WebSocketServer.PlainRequest?

    init(server: WebSocketServer, gate: UpgradeTokenGate) {
        self.server = server
        self.gate = gate
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            browserRoute = server.browserRoute(for: head)
            status = gate.refused ? .unauthorized : server.refusal(for: head) ?? WebSocketServer.handshakeStatus(for: head)
            return
        case .body:
            return
        case .end:
            break
        }
        switch browserRoute {
        case .asset(let asset):
            guard let head else { return }
            let response = asset.response(to: head)
            return respond(context: context, head: response.head, body: response.body)
        case .sse(let request):
            let origin = head?.headers.first(name: "origin")
            guard let verifier = server.api.tokenVerifier else { return startStream(request, origin: origin, identity: nil, context: context) }
            // With --token-secret a stream needs `?token=JWT` too (there is no `connect` request on it).
            guard let token = head.flatMap({ UpgradeTokenGate.token(in: $0.uri) }) else { return refuseToken(context: context) }
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            gate.check(token, with: verifier, on: context.eventLoop, metrics: server.api.metrics).whenSuccess { accepted in
                let (handler, context) = bound.value
                guard accepted else { return handler.refuseToken(context: context) }
                handler.startStream(request, origin: origin, identity: handler.gate.identity, context: context)
            }
            return
        case .refused(let status, let reason):
            var text: [UInt8] = []
            JSONValue.object(["error": .string(reason)]).write(into: &text)
            return respond(context: context, head: Self.jsonHead(status, length: text.count), body: text)
        case nil:
            break
        }
        let body: String
        switch status {
        case .notFound: body = #"{"error":"WebSocket endpoint is at path /"}"#
        case .forbidden: body = #"{"error":"origin not allowed"}"#
        case .serviceUnavailable: body = #"{"error":"connection limit reached"}"#
        case .badRequest: body = #"{"error":"malformed WebSocket handshake"}"#
        case .unauthorized: body = #"{"error":"missing, malformed, wrongly signed or expired connection token"}"#
        default: body = #"{"error":"this port accepts WebSocket upgrades only (version 13)"}"#
        }
        var response = Self.jsonHead(status, length: body.utf8.count)
        if status == .upgradeRequired {
            // RFC 7231 6.5.15: a 426 names the protocol to upgrade to; RFC 6455 4.4: and the version spoken.
            response.headers.add(name: "upgrade", value: "websocket")
            response.headers.add(name: "sec-websocket-version", value: "13")
        }
        respond(context: context, head: response, body: Array(body.utf8))
    }

    private func startStream(_ request: SSERequest, origin: String?, identity: ConnectionIdentity?, context: ChannelHandlerContext) {
        do {
            try server.startStream(request, origin: origin, identity: identity, context: context)
        } catch {
            context.close(promise: nil)
        }
    }

    private func refuseToken(context: ChannelHandlerContext) {
        let body = Array(#"{"error":"missing, malformed, wrongly signed or expired connection token"}"#.utf8)
        respond(context: context, head: Self.jsonHead(.unauthorized, length: body.count), body: body)
    }

    private static func jsonHead(_ status: HTTPResponseStatus, length: Int) -> HTTPResponseHead {
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "application/json")
        headers.add(name: "content-length", value: String(length))
        headers.add(name: "connection", value: "close")
        return HTTPResponseHead(version: .http1_1, status: status, headers: headers)
    }

    /// Writes one whole response, then closes the connection.
    private func respond(context: ChannelHandlerContext, head: HTTPResponseHead, body: [UInt8]) {
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if !body.isEmpty {
            var buffer = context.channel.allocator.buffer(capacity: body.count)
            buffer.writeBytes(body)
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        }
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
