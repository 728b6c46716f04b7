import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket

/// The WebSocket listener for browser-like clients: HTTP/1.1 upgrade on path `/`, then a `WebSocketSession`.
final class WebSocketServer: Sendable {
    private let settings: WebSocketSettings
    private let hub: LocalHub
    private let api: NodeAPI
    private let logger: Logger
    private let nextID = NIOLockedValueBox<UInt64>(0)
    private let serverChannel = NIOLockedValueBox<(any Channel)?>(nil)

    init(settings: WebSocketSettings, hub: LocalHub, api: NodeAPI, logger: Logger) {
        self.settings = settings
        self.hub = hub
        self.api = api
        self.logger = logger
    }

    /// Binds and returns the bound port.
    func start(host: String, port: Int, group: any EventLoopGroup) async throws -> Int {
        let settings = self.settings
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 4096)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.writeBufferWaterMark, value: .init(low: settings.maxQueueBytes / 2, high: settings.maxQueueBytes))
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture { try self.configure(channel) }
            }
        let channel = try await bootstrap.bind(host: host, port: port).get()
        serverChannel.withLockedValue { $0 = channel }
        return channel.localAddress?.port ?? port
    }

    /// Stops accepting new connections.
    func stopAccepting() async {
        let channel = serverChannel.withLockedValue { $0 }
        try? await channel?.close()
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
                    let session = WebSocketSession(
                        id: id,
                        shard: hub.shard(for: channel.eventLoop),
                        hub: hub,
                        api: self.api,
                        settings: settings,
                        writer: writerContext
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
        guard refusal(for: head) == nil else {
            api.metrics.refusedUpgrades.increment()
            return nil
        }
        return HTTPHeaders()
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
            status = server.refusal(for: head) ?? .upgradeRequired
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
        default: body = #"{"error":"this port accepts WebSocket upgrades only"}"#
        }
        var buffer = context.channel.allocator.buffer(capacity: body.utf8.count)
        buffer.writeString(body)
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "application/json")
        headers.add(name: "content-length", value: String(buffer.readableBytes))
        headers.add(name: "connection", value: "close")
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
