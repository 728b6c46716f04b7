import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// Settings of the HTTP MessagesSource.
public struct HTTPMessagesSourceSettings: Sendable {
    public var host: String = "0.0.0.0"
    public var port: Int = 59999
    /// Largest request body accepted; bigger ones get HTTP 413.
    public var maxBodyBytes: Int = 1 << 20
    /// When set, `POST /` and `GET /metrics` need `Authorization: Bearer <apiKey>` (else 401).
    public var apiKey: String?
    /// A connection whose first request head is not complete this long after it opened is closed
    /// (`--handshake-timeout-s`).
    public var handshakeTimeout: TimeAmount = .seconds(10)
    /// A keep-alive connection with no request for this long after its last answer is closed
    /// (`--http-idle-timeout-s`).
    public var idleTimeout: TimeAmount = .seconds(60)
    public init() {}
}

/// The default message source: HTTP/1.1 JSON-RPC on `POST /`, plus `GET /healthz` and `GET /metrics`.
public final class HTTPMessagesSource: MessagesSource {
    public let name = "http"
    private let settings: HTTPMessagesSourceSettings
    private let api: any BackendAPI
    private let group: any EventLoopGroup
    private let logger: Logger
    private let serverChannel = NIOLockedValueBox<(any Channel)?>(nil)

    public init(settings: HTTPMessagesSourceSettings, api: any BackendAPI, group: any EventLoopGroup, logger: Logger) {
        self.settings = settings
        self.api = api
        self.group = group
        self.logger = logger
    }

    public func start() async throws -> Int {
        if let bound = serverChannel.withLockedValue({ $0 }) { return bound.localAddress?.port ?? settings.port }
        let settings = self.settings
        let api = self.api
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let ops = channel.pipeline.syncOperations
                    try MessagesSourceHandler.configure(ops, api: api, settings: settings)
                }
            }
        let channel = try await bootstrap.bind(host: settings.host, port: settings.port).get()
        serverChannel.withLockedValue { $0 = channel }
        return channel.localAddress?.port ?? settings.port
    }

    public func stop() async {
        let channel = serverChannel.withLockedValue { $0 }
        try? await channel?.close()
    }
}

/// One backend connection: routes requests, enforces the key and the body limit, answers in order.
///
/// Requests are read ahead of their answers (HTTP/1.1 pipelining) up to `maxPipelined`; answers that complete
/// early wait for the ones before them. NIO's pipelining helper is not used: it stops reading while any answer
/// is pending, which costs two `epoll_ctl` calls per request for a backend that waits for each answer.
final class MessagesSourceHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// Requests read ahead of their answers before reading pauses.
    static let maxPipelined = 16

    /// The HTTP/1.1 server pipeline of a backend connection, ending with this handler.
    static func configure(_ ops: ChannelPipeline.SynchronousOperations, api: any BackendAPI, settings: HTTPMessagesSourceSettings) throws {
        // Our responses carry only fixed, known-good header names and values: NIO's per-response header
        // validation (a character walk over every header) is skipped on the message path.
        var decoderLimits = NIOHTTPDecoderLimitConfiguration()
        decoderLimits.maxHeaderFieldSize = RequestHeadLimits.defaultMaxBytes
        decoderLimits.maxHeaderListSize = RequestHeadLimits.defaultMaxBytes
        try ops.configureHTTPServerPipeline(
            withPipeliningAssistance: false, withErrorHandling: true, withOutboundHeaderValidation: false, withEncoderConfiguration: .init(),
            withDecoderLimitConfiguration: decoderLimits
        )
        // Later heads on a keep-alive connection: the decoder's limit, answered 431 instead of NIO's 400.
        let errorHandler = try ops.handler(type: HTTPServerProtocolErrorHandler.self)
        try ops.addHandler(HeaderOverflowResponder(), position: .before(errorHandler))
        try ops.addHandler(MessagesSourceHandler(api: api, settings: settings))
        // The first head: the handshake timeout and the 16 KiB limit, next to the socket.
        let limits = RequestHeadLimits(timeout: settings.handshakeTimeout, timedOut: { api.handshakeTimedOut() })
        try ops.addHandler(RequestHeadGuard(limits: limits), position: .first)
    }

    /// An answer waiting for the answers to earlier requests.
    private struct Answer {
        var head: HTTPRequestHead
        var status: HTTPResponseStatus
        var contentType: String?
        var body: [UInt8]
        var extra: [(String, String)]
        var close: Bool
    }

    private let api: any BackendAPI
    private let settings: HTTPMessagesSourceSettings
    private var head: HTTPRequestHead?
    private var body: ByteBuffer?
    /// Set once this request was answered early (413); the rest of it is ignored and the connection closed.
    private var rejected = false
    /// Requests whose head has arrived; the current one is number `received - 1`.
    private var received = 0
    /// Requests answered on the wire (in order).
    private var written = 0
    private var waiting: [Int: Answer] = [:]
    /// A `read` held back while `maxPipelined` requests await their answers.
    private var readHeld = false
    /// An answer that closes the connection was written: nothing after it is read or answered.
    private var closing = false
    /// The last request head read or answer written (the idle timeout counts from here).
    private var lastActivity = NIODeadline.now()
    private var idleCheck: Scheduled<Void>?

    init(api: any BackendAPI, settings: HTTPMessagesSourceSettings) {
        self.api = api
        self.settings = settings
    }

    func handlerAdded(context: ChannelHandlerContext) {
        scheduleIdleCheck(context: context, at: lastActivity + settings.idleTimeout)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        idleCheck?.cancel()
        idleCheck = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        idleCheck?.cancel()
        idleCheck = nil
        context.fireChannelInactive()
    }

    /// One timer per connection, moved on lazily: when it fires early (the connection was busy) it is set
    /// again for the idle time after the last activity.
    private func scheduleIdleCheck(context: ChannelHandlerContext, at deadline: NIODeadline) {
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        idleCheck = context.eventLoop.scheduleTask(deadline: deadline) {
            let (handler, context) = bound.value
            handler.checkIdle(context: context)
        }
    }

    private func checkIdle(context: ChannelHandlerContext) {
        guard !closing, context.channel.isActive else { return }
        let now = NIODeadline.now()
        if received > written {
            // A request is being answered: not idle.
            scheduleIdleCheck(context: context, at: now + settings.idleTimeout)
        } else if now - lastActivity >= settings.idleTimeout {
            closing = true
            context.close(promise: nil)
        } else {
            scheduleIdleCheck(context: context, at: lastActivity + settings.idleTimeout)
        }
    }

    func read(context: ChannelHandlerContext) {
        if received - written >= Self.maxPipelined {
            readHeld = true
        } else {
            context.read()
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        switch unwrapInboundIn(data) {
        case .head(let head):
            lastActivity = .now()
            self.head = head
            self.body = nil
            self.rejected = false
            received += 1
            if let length = head.headers.first(name: "content-length").flatMap(Int.init), length > settings.maxBodyBytes {
                reject(context: context, status: .payloadTooLarge, message: "request body over \(settings.maxBodyBytes) bytes")
            }
        case .body(var chunk):
            guard !rejected else { return }
            if body == nil {
                body = chunk
            } else {
                body!.writeBuffer(&chunk)
            }
            if body!.readableBytes > settings.maxBodyBytes {
                body = nil
                reject(context: context, status: .payloadTooLarge, message: "request body over \(settings.maxBodyBytes) bytes")
            }
        case .end:
            guard !rejected, let head else { return }
            self.head = nil
            route(context: context, head: head, body: body ?? context.channel.allocator.buffer(capacity: 0))
            body = nil
        }
    }

    private func route(context: ChannelHandlerContext, head: HTTPRequestHead, body: ByteBuffer) {
        let seq = received - 1
        let path = Self.path(of: head.uri)
        switch (path, head.method) {
        case ("/healthz", .GET), ("/healthz", .HEAD):
            respond(seq, context: context, head: head, status: .ok, contentType: "application/json", body: api.healthBody())
        case ("/metrics", .GET):
            guard authorized(head) else { return unauthorized(seq, context: context, head: head) }
            respond(seq, context: context, head: head, status: .ok, contentType: "text/plain; version=0.0.4", body: api.metricsText())
        case ("/", .POST):
            guard authorized(head) else { return unauthorized(seq, context: context, head: head) }
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            api.handleBackendBody(body, on: context.eventLoop).whenComplete { result in
                let (handler, context) = bound.value
                handler.answered(result, seq: seq, context: context, head: head)
            }
        case ("/", _), ("/healthz", _), ("/metrics", _):
            let allowed = path == "/" ? "POST" : "GET"
            respond(
                seq, context: context, head: head, status: .methodNotAllowed, contentType: "application/json",
                body: Array(#"{"error":"method not allowed"}"#.utf8), extra: [("allow", allowed)]
            )
        default:
            respond(seq, context: context, head: head, status: .notFound, contentType: "application/json", body: Array(#"{"error":"not found"}"#.utf8))
        }
    }

    /// The URI without its query (a byte scan: no walk over `Character`s on the message path).
    static func path(of uri: String) -> Substring {
        let utf8 = uri.utf8
        guard let question = utf8.firstIndex(of: UInt8(ascii: "?")) else { return uri[...] }
        return uri[..<question]
    }

    private func answered(_ result: Result<[UInt8]?, any Error>, seq: Int, context: ChannelHandlerContext, head: HTTPRequestHead) {
        switch result {
        case .success(.some(let answer)):
            respond(seq, context: context, head: head, status: .ok, contentType: "application/json", body: answer)
        case .success(.none):
            respond(seq, context: context, head: head, status: .noContent, contentType: nil, body: [])
        case .failure(let error):
            let answer = JSONRPCResponse.error(.internalError("\(error)"), id: nil)
            respond(seq, context: context, head: head, status: .ok, contentType: "application/json", body: answer)
        }
    }

    private func authorized(_ head: HTTPRequestHead) -> Bool {
        guard let key = settings.apiKey else { return true }
        return head.headers.first(name: "authorization") == "Bearer \(key)"
    }

    private func unauthorized(_ seq: Int, context: ChannelHandlerContext, head: HTTPRequestHead) {
        api.refusedUnauthorized()
        respond(
            seq, context: context, head: head, status: .unauthorized, contentType: "application/json",
            body: Array(#"{"error":"missing or wrong API key (Authorization: Bearer <key>)"}"#.utf8),
            extra: [("www-authenticate", "Bearer")]
        )
    }

    private func reject(context: ChannelHandlerContext, status: HTTPResponseStatus, message: String) {
        rejected = true
        var json: [UInt8] = Array(#"{"error":"#.utf8)
        JSONString.appendQuoted(message, to: &json)
        json.append(UInt8(ascii: "}"))
        let head = self.head ?? HTTPRequestHead(version: .http1_1, method: .POST, uri: "/")
        respond(received - 1, context: context, head: head, status: status, contentType: "application/json", body: json, close: true)
    }

    /// Answers request number `seq` once every earlier request is answered.
    private func respond(
        _ seq: Int,
        context: ChannelHandlerContext,
        head: HTTPRequestHead,
        status: HTTPResponseStatus,
        contentType: String?,
        body: [UInt8],
        extra: [(String, String)] = [],
        close: Bool = false
    ) {
        guard !closing else { return }
        let answer = Answer(head: head, status: status, contentType: contentType, body: body, extra: extra, close: close)
        guard seq == written else {
            waiting[seq] = answer
            return
        }
        write(answer, context: context)
        while !closing, let next = waiting.removeValue(forKey: written) { write(next, context: context) }
        context.flush()
        if received == written { lastActivity = .now() }
        if readHeld, !closing, received - written < Self.maxPipelined {
            readHeld = false
            context.read()
        }
    }

    /// Writes one answer (not flushed unless it closes the connection).
    private func write(_ answer: Answer, context: ChannelHandlerContext) {
        written += 1
        let head = answer.head
        var headers = HTTPHeaders()
        if let contentType = answer.contentType { headers.add(name: "content-type", value: contentType) }
        if answer.status != .noContent { headers.add(name: "content-length", value: String(answer.body.count)) }
        for (name, value) in answer.extra { headers.add(name: name, value: value) }
        let keepAlive = head.isKeepAlive && !answer.close
        if !keepAlive { headers.add(name: "connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: answer.status, headers: headers))), promise: nil)
        if !answer.body.isEmpty, head.method != .HEAD {
            var buffer = context.channel.allocator.buffer(capacity: answer.body.count)
            buffer.writeBytes(answer.body)
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        }
        if keepAlive {
            context.write(wrapOutboundOut(.end(nil)), promise: nil)
        } else {
            closing = true
            waiting.removeAll()
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
        }
    }
}

@available(*, unavailable)
extension MessagesSourceHandler: Sendable {}
