import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A JSON-RPC client for the node's MessagesSource port (`http://HOST:59999/`), the backend API.
///
/// ```swift
/// let ms = try MessagesSourceClient(url: "http://127.0.0.1:59999", apiKey: "secret")
/// let result = try await ms.call(method: "emit", params: ["channel": "chat", "data": ["text": "hi"]])
/// // {"emitted": 3, "nodes": 2}
/// try await ms.notify(method: "emit", params: ["channel": "chat", "data": [:]])   // answered 204
/// let raw = try await ms.postRaw(body: "{not json")                                   // status 200, error -32700
/// try await ms.close()
/// ```
///
/// All requests share one keep-alive HTTP/1.1 connection, opened on first use and reopened if the
/// server closes it. Concurrent requests are pipelined in order.
public final class MessagesSourceClient: Sendable {
    private enum ConnectionState {
        case idle
        case connecting(EventLoopFuture<any Channel>)
        case connected(any Channel)
    }

    public let endpoint: Endpoint
    public let apiKey: String?
    public let requestTimeout: Duration
    private let group: any EventLoopGroup
    private let connection = Mutex(ConnectionState.idle)
    private let nextID = Mutex(0)

    /// - Parameters:
    ///   - url: `http://HOST:PORT/` (or `HOST:PORT`).
    ///   - apiKey: sent as `Authorization: Bearer <key>` on every request.
    public convenience init(
        url: String,
        apiKey: String? = nil,
        requestTimeout: Duration = .seconds(30),
        on group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) throws {
        try self.init(
            endpoint: Endpoint(parsing: url, defaultScheme: "http"),
            apiKey: apiKey,
            requestTimeout: requestTimeout,
            on: group
        )
    }

    public convenience init(
        host: String,
        port: Int,
        apiKey: String? = nil,
        requestTimeout: Duration = .seconds(30),
        on group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        self.init(
            endpoint: Endpoint(scheme: "http", host: host, port: port),
            apiKey: apiKey,
            requestTimeout: requestTimeout,
            on: group
        )
    }

    public init(
        endpoint: Endpoint,
        apiKey: String? = nil,
        requestTimeout: Duration = .seconds(30),
        on group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        self.endpoint = endpoint
        self.apiKey = apiKey.flatMap { $0.isEmpty ? nil : $0 }
        self.requestTimeout = requestTimeout
        self.group = group
    }

    /// A client dropped without ``close()`` still releases its connection.
    deinit {
        self.connection.withLock { state in
            switch state {
            case .idle: break
            case .connecting(let future): future.whenSuccess { $0.close(promise: nil) }
            case .connected(let channel): channel.close(promise: nil)
            }
        }
    }

    // MARK: JSON-RPC

    /// Sends a request with a fresh id and returns its `result`.
    /// - Throws: ``JSONRPCError`` for an error answer; ``ClientError`` for HTTP errors (401, 413, …),
    ///   connection failures and timeouts.
    @discardableResult
    public func call(method: String, params: JSONValue? = nil) async throws -> JSONValue {
        let id = self.nextID.withLock { value -> Int in
            value += 1
            return value
        }
        let body = JSONRPC.request(method: method, params: params, id: .int(id)).serialized()
        let response = try await self.postRaw(body: body)
        guard response.status == 200 else { throw ClientError.httpStatus(response.status, body: response.text) }
        let answer = try response.json()
        if answer["id"]?.intValue != id, answer["error"] == nil {
            throw ClientError.invalidResponse("answer id \(answer["id"] ?? .null) does not match request id \(id)")
        }
        return try JSONRPC.result(of: answer)
    }

    /// Sends a notification (no id); the node answers `204 No Content`.
    public func notify(method: String, params: JSONValue? = nil) async throws {
        let body = JSONRPC.request(method: method, params: params).serialized()
        let response = try await self.postRaw(body: body)
        switch response.status {
        case 204: return
        case 200:
            if let answer = try? response.json(), let error = answer["error"], !error.isNull {
                throw JSONRPCError(error)
            }
            throw ClientError.invalidResponse("notification answered 200 instead of 204: \(response.text.prefix(200))")
        default: throw ClientError.httpStatus(response.status, body: response.text)
        }
    }

    // MARK: Raw HTTP

    /// `POST path` with `body` as is (bad JSON, batches, huge bodies). `Content-Type: application/json`
    /// and the API key are added unless `headers` already has them.
    public func postRaw(body: String, headers: [(String, String)] = [], path: String = "/") async throws -> HTTPResponse
    {
        try await self.postRaw(bytes: Array(body.utf8), headers: headers, path: path)
    }

    public func postRaw(
        bytes: [UInt8],
        headers: [(String, String)] = [],
        path: String = "/"
    ) async throws
        -> HTTPResponse
    {
        var httpHeaders = HTTPHeaders(headers)
        if !httpHeaders.contains(name: "Content-Type") {
            httpHeaders.add(name: "Content-Type", value: "application/json")
        }
        return try await self.request(.POST, path: path, headers: httpHeaders, body: bytes)
    }

    /// `GET path` (`/healthz`, `/metrics`).
    public func get(path: String, headers: [(String, String)] = []) async throws -> HTTPResponse {
        try await self.request(.GET, path: path, headers: HTTPHeaders(headers), body: nil)
    }

    /// Any request on the shared connection.
    public func request(
        _ method: HTTPMethod,
        path: String,
        headers: HTTPHeaders = [:],
        body: [UInt8]?
    ) async throws -> HTTPResponse {
        var headers = headers
        if !headers.contains(name: "Host") { headers.add(name: "Host", value: self.endpoint.hostHeader) }
        if let apiKey = self.apiKey, !headers.contains(name: "Authorization") {
            headers.add(name: "Authorization", value: "Bearer \(apiKey)")
        }
        if let body {
            headers.replaceOrAdd(name: "Content-Length", value: String(body.count))
        }
        let head = HTTPRequestHead(version: .http1_1, method: method, uri: path, headers: headers)
        do {
            return try await self.send(head: head, body: body)
        } catch is NotSent {
            // The shared connection closed before the request went out (say, after a `Connection: close`
            // answer): nothing reached the server, so one retry on a new connection is safe.
            do {
                return try await self.send(head: head, body: body)
            } catch is NotSent {
                throw ClientError.connectionClosed(reason: "the server closed the connection")
            }
        }
    }

    private func send(head: HTTPRequestHead, body: [UInt8]?) async throws -> HTTPResponse {
        let channel = try await self.channel()
        let promise = channel.eventLoop.makePromise(of: HTTPResponse.self)
        let bodyBuffer = body.map { channel.allocator.buffer(bytes: $0) }
        let timeout = self.requestTimeout
        let what = "\(head.method) \(self.endpoint.hostHeader)\(head.uri)"
        let timer = channel.eventLoop.scheduleTask(in: TimeAmount(timeout)) {
            promise.fail(ClientError.timeout("no HTTP answer to \(what) within \(timeout)"))
            channel.close(promise: nil)
        }
        // A write that fails never reached the server whole (or the handler at all, on a connection
        // that just closed): the caller may retry.
        channel.writeAndFlush(PendingRequest(head: head, body: bodyBuffer, promise: promise)).whenFailure { _ in
            promise.fail(NotSent())
        }
        defer { timer.cancel() }
        return try await promise.futureResult.get()
    }

    /// Closes the connection; a later request opens a new one.
    public func close() async throws {
        let state = self.connection.withLock { state -> ConnectionState in
            defer { state = .idle }
            return state
        }
        switch state {
        case .idle: return
        case .connecting(let future): try? await future.get().close()
        case .connected(let channel): try? await channel.close()
        }
    }

    // MARK: Connection

    private func channel() async throws -> any Channel {
        let (future, started): (EventLoopFuture<any Channel>, Bool) = self.connection.withLock { state in
            switch state {
            case .connected(let channel) where channel.isActive:
                return (channel.eventLoop.makeSucceededFuture(channel), false)
            case .connecting(let future):
                return (future, false)
            case .idle, .connected:
                let future = self.connect()
                state = .connecting(future)
                return (future, true)
            }
        }
        if started {
            future.whenComplete { result in
                self.connection.withLock { state in
                    guard case .connecting(let pending) = state, pending === future else { return }
                    switch result {
                    case .success(let channel): state = .connected(channel)
                    case .failure: state = .idle
                    }
                }
            }
        }
        do {
            return try await future.get()
        } catch {
            throw ClientError.connectFailed(self.endpoint.description, reason: ClientError.describeConnectError(error))
        }
    }

    private func connect() -> EventLoopFuture<any Channel> {
        ClientBootstrap(group: self.group)
            .connectTimeout(.seconds(10))
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHTTPClientHandlers()
                    try sync.addHandler(NIOHTTPClientResponseAggregator(maxContentLength: 1 << 28))
                    try sync.addHandler(ConnectionHandler())
                }
            }
            .connect(host: self.endpoint.host, port: self.endpoint.port)
    }
}
