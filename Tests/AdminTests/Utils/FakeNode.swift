import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket
import RocketWSClient
import Synchronization

/// A tiny in-process stand-in for `rocketws-node`: a WebSocket port (subscribe, unsubscribe,
/// heartbeat, send_data) and a MessagesSource port (emit, notify_all, ping, cluster_status, …).
/// Enough of the contract to test the clients and rocketws-admin without the real node.
final class FakeNode: Sendable {
    let wsPort: Int
    let msPort: Int
    let apiKey: String?
    private let channels: [any Channel]
    let registry: Registry

    var msURL: String { "http://127.0.0.1:\(self.msPort)" }
    var wsURL: String { "ws://127.0.0.1:\(self.wsPort)/" }

    private init(wsPort: Int, msPort: Int, apiKey: String?, channels: [any Channel], registry: Registry) {
        self.wsPort = wsPort
        self.msPort = msPort
        self.apiKey = apiKey
        self.channels = channels
        self.registry = registry
    }

    static func start(apiKey: String? = nil) async throws -> FakeNode {
        let group = MultiThreadedEventLoopGroup.singleton
        let registry = Registry()
        let ws = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 1024)
            .childChannelInitializer { channel in
                let upgrader = NIOWebSocketServerUpgrader(
                    maxFrameSize: 1 << 20,
                    shouldUpgrade: { channel, head in
                        channel.eventLoop.makeSucceededFuture(head.uri == "/forbidden" ? nil : HTTPHeaders())
                    },
                    upgradePipelineHandler: { channel, _ in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandler(
                                NIOWebSocketFrameAggregator(
                                    minNonFinalFragmentSize: 0,
                                    maxAccumulatedFrameCount: 1000,
                                    maxAccumulatedFrameSize: 1 << 20
                                )
                            )
                            try channel.pipeline.syncOperations.addHandler(FakeWebSocketHandler(registry: registry))
                        }
                    }
                )
                return channel.eventLoop.makeCompletedFuture {
                    let forbidden = ForbiddenHandler()
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(
                        withServerUpgrade: (
                            upgraders: [upgrader],
                            completionHandler: { context in
                                context.pipeline.syncOperations.removeHandler(name: "forbidden", promise: nil)
                            }
                        )
                    )
                    try channel.pipeline.syncOperations.addHandler(forbidden, name: "forbidden")
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let ms = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(
                        NIOHTTPServerRequestAggregator(maxContentLength: 1 << 20)
                    )
                    try channel.pipeline.syncOperations.addHandler(
                        FakeMessagesSourceHandler(registry: registry, apiKey: apiKey)
                    )
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return FakeNode(
            wsPort: ws.localAddress!.port!,
            msPort: ms.localAddress!.port!,
            apiKey: apiKey,
            channels: [ws, ms],
            registry: registry
        )
    }

    func stop() async {
        for channel in self.channels { try? await channel.close() }
        self.registry.closeAll()
    }

    /// Subscriptions and connections, shared by all handlers.
    final class Registry: Sendable {
        private struct State {
            var connections: [ObjectIdentifier: any Channel] = [:]
            var subscribers: [String: [ObjectIdentifier: any Channel]] = [:]
        }
        private let state = Mutex(State())

        func connected(_ channel: any Channel) {
            self.state.withLock { $0.connections[ObjectIdentifier(channel)] = channel }
        }

        func disconnected(_ channel: any Channel) {
            self.state.withLock { state in
                state.connections[ObjectIdentifier(channel)] = nil
                for key in state.subscribers.keys { state.subscribers[key]?[ObjectIdentifier(channel)] = nil }
                state.subscribers = state.subscribers.filter { !$0.value.isEmpty }
            }
        }

        func subscribe(_ channel: any Channel, to name: String) {
            self.state.withLock { $0.subscribers[name, default: [:]][ObjectIdentifier(channel)] = channel }
        }

        func unsubscribe(_ channel: any Channel, from name: String) {
            self.state.withLock { state in
                state.subscribers[name]?[ObjectIdentifier(channel)] = nil
                if state.subscribers[name]?.isEmpty == true { state.subscribers[name] = nil }
            }
        }

        var channelCounts: [(String, Int)] {
            self.state.withLock { $0.subscribers.map { ($0.key, $0.value.count) }.sorted { $0.0 < $1.0 } }
        }

        var connectionCount: Int { self.state.withLock { $0.connections.count } }

        /// Pushes `data` to the subscribers of `name` (all connections when nil); returns the count.
        func push(_ data: JSONValue, to name: String?, except: ObjectIdentifier? = nil) -> Int {
            let targets = self.state.withLock { state in
                name.map { Array((state.subscribers[$0] ?? [:]).filter { $0.key != except }.values) }
                    ?? Array(state.connections.values)
            }
            var object = data.objectValue ?? [:]
            object["__type"] = name == nil ? "broadcast" : "message"
            object["__ts"] = 1_700_000_000
            if let name { object["__channel"] = .string(name) }
            let text = JSONValue.object(object).serialized()
            for channel in targets {
                let frame = WebSocketFrame(fin: true, opcode: .text, data: channel.allocator.buffer(string: text))
                channel.writeAndFlush(frame, promise: nil)
            }
            return targets.count
        }

        func closeAll() {
            let all = self.state.withLock { Array($0.connections.values) }
            for channel in all { channel.close(promise: nil) }
        }
    }
}

/// Answers 403 to requests that were not upgraded.
private final class ForbiddenHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .end = Self.unwrapInboundIn(data) else { return }
        let head = HTTPResponseHead(version: .http1_1, status: .forbidden, headers: ["Content-Length": "0"])
        context.write(Self.wrapOutboundOut(.head(head)), promise: nil)
        context.writeAndFlush(Self.wrapOutboundOut(.end(nil)), promise: nil)
    }
}

private func rpcAnswer(id: JSONValue?, result: JSONValue) -> JSONValue {
    ["jsonrpc": "2.0", "id": id ?? .null, "result": result]
}

private func rpcError(id: JSONValue?, code: Int, message: String) -> JSONValue {
    ["jsonrpc": "2.0", "id": id ?? .null, "error": ["code": .int(code), "message": .string(message)]]
}

private final class FakeWebSocketHandler: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    let registry: FakeNode.Registry
    init(registry: FakeNode.Registry) { self.registry = registry }

    func handlerAdded(context: ChannelHandlerContext) {
        self.registry.connected(context.channel)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.registry.disconnected(context.channel)
        context.fireChannelInactive()
    }

    private func reply(_ context: ChannelHandlerContext, _ value: JSONValue) {
        let frame = WebSocketFrame(
            fin: true,
            opcode: .text,
            data: context.channel.allocator.buffer(string: value.serialized())
        )
        context.writeAndFlush(Self.wrapOutboundOut(frame), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = Self.unwrapInboundIn(data)
        switch frame.opcode {
        case .text:
            guard let request = try? JSONValue(parsing: frame.unmaskedData) else {
                self.reply(context, rpcError(id: nil, code: -32700, message: "Parse error"))
                return
            }
            let id = request["id"]
            let channel = request["params"]?["channel"]?.stringValue
            switch request["method"]?.stringValue {
            case "subscribe":
                guard let channel else {
                    return self.reply(context, rpcError(id: id, code: -32602, message: "no channel"))
                }
                self.registry.subscribe(context.channel, to: channel)
                self.reply(context, rpcAnswer(id: id, result: "subscribed"))
            case "unsubscribe":
                guard let channel else {
                    return self.reply(context, rpcError(id: id, code: -32602, message: "no channel"))
                }
                self.registry.unsubscribe(context.channel, from: channel)
                self.reply(context, rpcAnswer(id: id, result: "unsubscribed"))
            case "heartbeat":
                self.reply(context, rpcAnswer(id: id, result: ["heartbeat": "ok"]))
            case "ping_me":
                // Test hook: the server pings; the answer comes after the pong is seen.
                var payload = context.channel.allocator.buffer(capacity: 4)
                payload.writeString("abcd")
                context.writeAndFlush(
                    Self.wrapOutboundOut(WebSocketFrame(fin: true, opcode: .ping, data: payload)),
                    promise: nil
                )
                self.pongID = id
            case "burst":
                // Test hook: push `count` messages to this connection, then answer.
                let count = request["params"]?["count"]?.intValue ?? 0
                for index in 0..<count {
                    let text = #"{"__type":"message","__channel":"burst","seq":"# + String(index) + "}"
                    let frame = WebSocketFrame(
                        fin: true,
                        opcode: .text,
                        data: context.channel.allocator.buffer(string: text)
                    )
                    context.write(Self.wrapOutboundOut(frame), promise: nil)
                }
                self.reply(context, rpcAnswer(id: id, result: .int(count)))
            case "send_data":
                guard let channel, let data = request["params"]?["data"] else {
                    return self.reply(context, rpcError(id: id, code: -32602, message: "bad params"))
                }
                let emitted = self.registry.push(data, to: channel, except: ObjectIdentifier(context.channel))
                self.reply(context, rpcAnswer(id: id, result: ["emitted": .int(emitted)]))
            default:
                self.reply(context, rpcError(id: id, code: -32601, message: "Method not found"))
            }
        case .pong:
            if let id = self.pongID {
                self.pongID = nil
                self.reply(context, rpcAnswer(id: id, result: .string(String(buffer: frame.unmaskedData))))
            }
        case .connectionClose:
            var payload = frame.unmaskedData
            let code = payload.readWebSocketErrorCode() ?? .normalClosure
            var echo = context.channel.allocator.buffer(capacity: 2)
            echo.write(webSocketErrorCode: code)
            context.writeAndFlush(Self.wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: echo)))
                .assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        default:
            break
        }
    }

    private var pongID: JSONValue?
}

private final class FakeMessagesSourceHandler: ChannelInboundHandler {
    typealias InboundIn = NIOHTTPServerRequestFull
    typealias OutboundOut = HTTPServerResponsePart

    let registry: FakeNode.Registry
    let apiKey: String?
    init(registry: FakeNode.Registry, apiKey: String?) {
        self.registry = registry
        self.apiKey = apiKey
    }

    private func respond(_ context: ChannelHandlerContext, _ status: HTTPResponseStatus, _ body: String?) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Length", value: String(body?.utf8.count ?? 0))
        if body != nil { headers.add(name: "Content-Type", value: "application/json") }
        context.write(
            Self.wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))),
            promise: nil
        )
        if let body {
            context.write(
                Self.wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))),
                promise: nil
            )
        }
        context.writeAndFlush(Self.wrapOutboundOut(.end(nil)), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let request = Self.unwrapInboundIn(data)
        if request.head.method == .GET, request.head.uri == "/healthz" {
            return self.respond(context, .ok, #"{"status":"ok"}"#)
        }
        if let apiKey, request.head.headers.first(name: "Authorization") != "Bearer \(apiKey)" {
            return self.respond(context, .unauthorized, #"{"error":"unauthorized"}"#)
        }
        guard request.head.method == .POST else { return self.respond(context, .methodNotAllowed, nil) }
        guard let body = request.body, let call = try? JSONValue(parsing: body) else {
            return self.respond(context, .ok, rpcError(id: nil, code: -32700, message: "Parse error").serialized())
        }
        let id = call["id"]
        let params = call["params"]
        let result: JSONValue
        switch call["method"]?.stringValue {
        case "ping": result = ["ping": "ok"]
        case "heartbeat": result = ["heartbeat": "ok"]
        case "emit":
            guard let channel = params?["channel"]?.stringValue, let data = params?["data"], data.objectValue != nil
            else {
                return self.respond(
                    context,
                    .ok,
                    rpcError(id: id, code: -32602, message: "Invalid params").serialized()
                )
            }
            let count = self.registry.push(data, to: channel)
            result = ["emitted": .int(count), "nodes": count > 0 ? 1 : 0]
        case "notify_all":
            guard let data = params?["data"], data.objectValue != nil else {
                return self.respond(
                    context,
                    .ok,
                    rpcError(id: id, code: -32602, message: "Invalid params").serialized()
                )
            }
            let count = self.registry.push(data, to: nil)
            result = ["notified": .int(count), "nodes": 1]
        case "available_channels":
            result = .array(self.registry.channelCounts.map { .string($0.0) })
        case "total_subscribers":
            let counts = self.registry.channelCounts
            let total: Int
            if let channel = params?["channel"]?.stringValue {
                total = counts.first { $0.0 == channel }?.1 ?? 0
            } else {
                total = counts.reduce(0) { $0 + $1.1 }
            }
            result = ["total": .int(total), "nodes": total > 0 ? ["fake": .int(total)] : [:]]
        case "cluster_status":
            let counts = self.registry.channelCounts
            result = [
                "node": "fake",
                "members": [
                    [
                        "name": "fake", "address": "127.0.0.1:59998", "state": "alive", "incarnation": 0,
                        "connections": .int(self.registry.connectionCount),
                        "subscriptions": .int(counts.reduce(0) { $0 + $1.1 }),
                    ]
                ],
                "channels": .array(counts.map { ["channel": .string($0.0), "subscribers": .int($0.1), "nodes": 1] }),
            ]
        default:
            return self.respond(context, .ok, rpcError(id: id, code: -32601, message: "Method not found").serialized())
        }
        if id == nil {
            return self.respond(context, .noContent, nil)
        }
        self.respond(context, .ok, rpcAnswer(id: id, result: result).serialized())
    }
}
