import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket
import Synchronization

/// A WebSocket client for the node's client API (`ws://HOST:58000/`), with JSON-RPC helpers.
///
/// ```swift
/// let ws = try await WebSocketClient.connect(host: "127.0.0.1", port: 58000)
/// let ack = try await ws.call(method: "subscribe", params: ["channel": "chat"])   // "subscribed"
/// let pushed = try await ws.nextMessage(timeout: .seconds(5))                      // {"__type": "message", ...}
/// try await ws.close()
/// ```
///
/// Incoming frames are kept in order in an unbounded queue; ``call(method:params:timeout:)`` takes
/// its answer out by id, so pushed messages that arrive in between are never lost. Pings are
/// answered automatically; a close frame from the server is echoed.
public final class WebSocketClient: Sendable {
    /// Something the server sent.
    public enum Event: Sendable, Equatable {
        case text(String)
        case binary(ByteBuffer)
        /// The server's close frame, or `code: nil` when the connection ended without one.
        case close(code: WebSocketErrorCode?, reason: String)
    }

    /// Sees the payload of each incoming text frame on the event loop before it is queued; returning
    /// `true` consumes it. For load generators that must not build a `String` per message.
    public typealias TextTap = @Sendable (ByteBuffer) -> Bool

    public let channel: any Channel
    public let endpoint: Endpoint
    private let mailbox: Mailbox
    private let nextID = Mutex(0)

    private init(channel: any Channel, endpoint: Endpoint, mailbox: Mailbox) {
        self.channel = channel
        self.endpoint = endpoint
        self.mailbox = mailbox
    }

    /// A client dropped without ``close(code:reason:timeout:)`` still releases its socket.
    deinit {
        self.channel.close(promise: nil)
    }

    // MARK: Connecting

    /// Connects and performs the WebSocket handshake.
    /// - Throws: ``ClientError/connectFailed(_:reason:)``, ``ClientError/handshakeFailed(status:)`` (e.g. 403),
    ///   ``ClientError/timeout(_:)``.
    public static func connect(
        host: String,
        port: Int,
        path: String = "/",
        headers: [(String, String)] = [],
        maxFrameSize: Int = 1 << 24,
        connectTimeout: Duration = .seconds(10),
        textTap: TextTap? = nil,
        on group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> WebSocketClient {
        try await self.connect(
            to: Endpoint(scheme: "ws", host: host, port: port, path: path),
            headers: headers,
            maxFrameSize: maxFrameSize,
            connectTimeout: connectTimeout,
            textTap: textTap,
            on: group
        )
    }

    /// Connects to a `ws://HOST:PORT/path` URL.
    public static func connect(
        url: String,
        headers: [(String, String)] = [],
        maxFrameSize: Int = 1 << 24,
        connectTimeout: Duration = .seconds(10),
        textTap: TextTap? = nil,
        on group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> WebSocketClient {
        try await self.connect(
            to: Endpoint(parsing: url, defaultScheme: "ws"),
            headers: headers,
            maxFrameSize: maxFrameSize,
            connectTimeout: connectTimeout,
            textTap: textTap,
            on: group
        )
    }

    public static func connect(
        to endpoint: Endpoint,
        headers: [(String, String)] = [],
        maxFrameSize: Int = 1 << 24,
        connectTimeout: Duration = .seconds(10),
        textTap: TextTap? = nil,
        on group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> WebSocketClient {
        let eventLoop = group.next()
        let upgraded = eventLoop.makePromise(of: Void.self)
        let mailbox = Mailbox(eventLoop: eventLoop)
        let httpHeaders = HTTPHeaders(headers)

        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(TimeAmount(connectTimeout))
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                let handshake = HandshakeHandler(endpoint: endpoint, headers: httpHeaders, promise: upgraded)
                let upgrader = NIOWebSocketClientUpgrader(maxFrameSize: maxFrameSize, automaticErrorHandling: true) {
                    channel,
                    _ in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandlers([
                            NIOWebSocketFrameAggregator(
                                minNonFinalFragmentSize: 0,
                                maxAccumulatedFrameCount: 1 << 16,
                                maxAccumulatedFrameSize: maxFrameSize
                            ),
                            SessionHandler(mailbox: mailbox, textTap: textTap),
                        ])
                        upgraded.succeed()
                    }
                }
                return channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHTTPClientHandlers(
                        withClientUpgrade: (
                            upgraders: [upgrader],
                            completionHandler: { context in
                                context.pipeline.syncOperations.removeHandler(name: "rocketws.handshake", promise: nil)
                            }
                        )
                    )
                    try sync.addHandler(handshake, name: "rocketws.handshake")
                }
            }

        let channel: any Channel
        do {
            channel = try await bootstrap.connect(host: endpoint.host, port: endpoint.port).get()
        } catch {
            let failure = ClientError.connectFailed(
                endpoint.description,
                reason: ClientError.describeConnectError(error)
            )
            upgraded.fail(failure)
            throw failure
        }
        let timeout = eventLoop.scheduleTask(in: TimeAmount(connectTimeout)) {
            upgraded.fail(ClientError.timeout("WebSocket handshake with \(endpoint)"))
            channel.close(promise: nil)
        }
        do {
            try await upgraded.futureResult.get()
            timeout.cancel()
        } catch {
            timeout.cancel()
            channel.close(promise: nil)
            throw error
        }
        return WebSocketClient(channel: channel, endpoint: endpoint, mailbox: mailbox)
    }

    // MARK: Sending

    /// Sends one text frame (masked, as RFC 6455 requires of clients).
    public func send(text: String) async throws {
        let buffer = self.channel.allocator.buffer(string: text)
        try await self.sendRaw(frame: WebSocketFrame(fin: true, opcode: .text, data: buffer))
    }

    /// Sends `value` serialized as one text frame.
    public func send(json value: JSONValue) async throws {
        try await self.send(text: value.serialized())
    }

    /// Sends one binary frame.
    public func sendBinary(_ bytes: some Sequence<UInt8>) async throws {
        let buffer = self.channel.allocator.buffer(bytes: bytes)
        try await self.sendRaw(frame: WebSocketFrame(fin: true, opcode: .binary, data: buffer))
    }

    /// Sends any frame as given (fragments, bad opcodes, oversized payloads), for conformance tests.
    /// - Parameter mask: when `true` and the frame has no `maskKey`, a random key is applied; pass
    ///   `false` to send an unmasked frame, which a server must reject.
    public func sendRaw(frame: WebSocketFrame, mask: Bool = true) async throws {
        var frame = frame
        if mask, frame.maskKey == nil { frame.maskKey = .random() }
        do {
            try await self.channel.writeAndFlush(frame).get()
        } catch let error as ClientError {
            throw error
        } catch {
            throw ClientError.connectionClosed(reason: "write failed: \(error)")
        }
    }

    /// Sends a close frame with `code`, waits (up to `timeout`) for the server's close or the end of
    /// the connection, then closes the socket.
    public func close(
        code: WebSocketErrorCode = .normalClosure,
        reason: String = "",
        timeout: Duration = .seconds(5)
    ) async throws {
        guard self.channel.isActive else { return }
        var payload = self.channel.allocator.buffer(capacity: 2 + reason.utf8.count)
        payload.write(webSocketErrorCode: code)
        payload.writeString(reason)
        try? await self.sendRaw(frame: WebSocketFrame(fin: true, opcode: .connectionClose, data: payload))
        let timer = self.channel.eventLoop.scheduleTask(in: TimeAmount(timeout)) { [channel] in
            channel.close(promise: nil)
        }
        try? await self.channel.closeFuture.get()
        timer.cancel()
    }

    /// Closes the socket at once, without a close frame.
    public func abort() async {
        try? await self.channel.close()
    }

    // MARK: Receiving

    /// The next thing the server sent (pushed message, answer without a pending call, binary, the close),
    /// or `nil` when `timeout` passes first or the connection ended and everything was read.
    public func nextEvent(timeout: Duration? = nil) async -> Event? {
        await self.mailbox.next(timeout: timeout)
    }

    /// The next text frame, parsed as JSON; binary frames are skipped. `nil` when `timeout` passes first.
    /// - Throws: ``ClientError/connectionClosed(code:reason:)`` when the connection closes first,
    ///   ``ClientError/invalidResponse(_:)`` for a text frame that is not JSON.
    public func nextMessage(timeout: Duration = .seconds(10)) async throws -> JSONValue? {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        while true {
            let remaining = max(.zero, ContinuousClock.now.duration(to: deadline))
            guard let event = await self.mailbox.next(timeout: remaining) else { return nil }
            switch event {
            case .text(let text): return try Self.parse(text)
            case .binary: continue
            case .close(let code, let reason): throw ClientError.connectionClosed(code: code, reason: reason)
            }
        }
    }

    private static func parse(_ text: String) throws -> JSONValue {
        do {
            return try JSONValue(parsing: text)
        } catch {
            throw ClientError.invalidResponse("text frame is not JSON: \(text.prefix(200))")
        }
    }

    /// All events until the connection ends, in order.
    public var events: Events { Events(mailbox: self.mailbox) }

    public struct Events: AsyncSequence, Sendable {
        public typealias Element = Event
        let mailbox: Mailbox

        public struct AsyncIterator: AsyncIteratorProtocol {
            let mailbox: Mailbox
            public mutating func next() async -> Event? { await self.mailbox.next(timeout: nil) }
        }

        public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(mailbox: self.mailbox) }
    }

    // MARK: JSON-RPC

    /// Sends a JSON-RPC request with a fresh integer id and returns its `result`.
    /// - Throws: ``JSONRPCError`` for an error answer; ``ClientError`` for a timeout or a closed connection.
    @discardableResult
    public func call(
        method: String,
        params: JSONValue? = nil,
        timeout: Duration = .seconds(30)
    ) async throws -> JSONValue {
        try JSONRPC.result(of: try await self.request(method: method, params: params, timeout: timeout))
    }

    /// Like ``call(method:params:timeout:)`` but returns the whole response object.
    public func request(
        method: String,
        params: JSONValue? = nil,
        timeout: Duration = .seconds(30)
    ) async throws -> JSONValue {
        let id = self.nextID.withLock { value -> Int in
            value += 1
            return value
        }
        let text = JSONRPC.request(method: method, params: params, id: .int(id)).serialized()
        let channel = self.channel
        return try await self.mailbox.awaitResponse(id: id, timeout: timeout) {
            let frame = WebSocketFrame(
                fin: true,
                opcode: .text,
                maskKey: .random(),
                data: channel.allocator.buffer(string: text)
            )
            return channel.writeAndFlush(frame)
        }
    }

    /// `subscribe` to `channel`; returns once the node acknowledged it.
    public func subscribe(_ channel: String, timeout: Duration = .seconds(30)) async throws {
        let result = try await self.call(method: "subscribe", params: ["channel": .string(channel)], timeout: timeout)
        guard result == "subscribed" else { throw ClientError.invalidResponse("subscribe answered \(result)") }
    }
}
