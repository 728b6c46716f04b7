import NIOCore
import NIOHTTP1

/// One `GET /sse` response (docs/contract.md, "Server-sent events"). The stream is a subscriber like any other:
/// a `WebSocketSession` without a socket of its own sits behind it in the pipeline and is registered in the
/// node's fan-out, so a pushed frame is still encoded once. This handler turns the WebSocket frame bytes that
/// the session writes into events whose `data:` line is the frame's JSON, as chunks of the HTTP response;
/// with history on, each message event carries an `id:` naming every channel's position (`StreamPositions`).
///
/// At the start it subscribes each channel through the node's JSON-RPC `subscribe`: with `recover` from the
/// browser's `Last-Event-ID`, else with `history` (plainly when the node's history is off, then no ids); a
/// channel it cannot recover gets `event: unrecovered`. A comment line goes out every ping interval.
final class SSEStream: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = HTTPServerResponsePart

    /// `history` or `recover` on a node whose history is off (-32004).
    private static let historyOffCode = JSONRPCError.historyOff.code
    /// No owner answered in time; the same request may be sent again (-32006).
    private static let notAcceptedCode = JSONRPCError.notAccepted("").code

    private let request: SSERequest
    private let responseHeaders: HTTPHeaders
    private let commentInterval: TimeAmount
    private var positions = StreamPositions()
    /// The browser's positions from `Last-Event-ID` (nil: a first connection).
    private let resumeFrom: StreamPositions?
    private var historyOff = false
    private var comments: RepeatedTask?
    private var context: ChannelHandlerContext?
    /// The subscriber behind this stream, and the API it subscribes through (set by `subscribeAll`).
    private var session: WebSocketSession?
    private var api: NodeAPI?

    init(request: SSERequest, responseHeaders: HTTPHeaders, commentInterval: TimeAmount) {
        self.request = request
        self.responseHeaders = responseHeaders
        self.commentInterval = commentInterval
        self.resumeFrom = request.lastEventID.map { StreamPositions(eventID: $0) ?? StreamPositions() }
        if let resumeFrom { for channel in request.channels { positions[channel] = resumeFrom[channel] } }
    }

    /// The headers of the 200 answer: an event stream that no proxy buffers or caches.
    static func headers(origin: String?) -> HTTPHeaders {
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "text/event-stream")
        headers.add(name: "cache-control", value: "no-cache")
        // nginx (deploy/compose) would otherwise buffer the stream.
        headers.add(name: "x-accel-buffering", value: "no")
        if let origin { headers.add(name: "access-control-allow-origin", value: origin) }
        return headers
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: responseHeaders))), promise: nil)
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        comments = context.eventLoop.scheduleRepeatedTask(initialDelay: commentInterval, delay: commentInterval) { _ in
            bound.value.send(": ping\n\n")
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        comments?.cancel()
        self.context = nil
        session = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        comments?.cancel()
        context.fireChannelInactive()
    }

    /// Whatever else the browser sends is ignored (an event stream is one request).
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}

    // MARK: Subscribing

    /// Subscribes `session` to the request's channels one after the other, then sends the positions as an id.
    func subscribeAll(_ session: WebSocketSession, api: NodeAPI) {
        self.session = session
        self.api = api
        subscribe(request.channels[...])
    }

    private func subscribe(_ channels: ArraySlice<String>) {
        guard let session, let api, let channel = channels.first, context != nil else {
            // An id even with history off ("-", no position): a reconnect then says so, and gets `unrecovered`.
            send("id: \(positions.isEmpty ? "-" : positions.eventID)\n\n")
            return
        }
        var params: [String: JSONValue] = ["channel": .string(channel)]
        let resumed = resumeFrom?[channel]
        if !historyOff {
            if let resumed {
                params["recover"] = .object(["epoch": .string(resumed.epoch), "offset": .int(resumed.offset)])
            } else {
                params["history"] = .bool(true)
            }
        }
        var text: [UInt8] = []
        JSONValue.object(["jsonrpc": .string("2.0"), "id": .int(1), "method": .string("subscribe"), "params": .object(params)]).write(into: &text)
        var buffer = ByteBufferAllocator().buffer(capacity: text.count)
        buffer.writeBytes(text)
        let bound = NIOLoopBound(self, eventLoop: session.shard.loop)
        api.handleClientMessage(buffer, from: session).whenSuccess { reply in
            let stream = bound.value
            let answer = reply.flatMap { try? JSONValue(parsing: $0) }
            if let error = answer?["error"] {
                if error["code"]?.intValue == Self.historyOffCode, !stream.historyOff {
                    stream.historyOff = true
                    return stream.subscribe(channels)
                }
                if error["code"]?.intValue == Self.notAcceptedCode, let context = stream.context {
                    // No owner of the channel answered in time (a crash being absorbed): ask again shortly.
                    context.eventLoop.scheduleTask(in: .milliseconds(500)) { bound.value.subscribe(channels) }
                    return
                }
                stream.event("error", data: error)
            } else if let result = answer?["result"], let epoch = result["epoch"]?.stringValue, let top = result["offset"]?.intValue {
                let recovered = resumed != nil && result["recovered"] == .bool(true)
                if !recovered {
                    if let current = stream.positions[channel], current.epoch == epoch, current.offset > top {
                        // Frames already sent are past the answer's position: keep theirs.
                    } else {
                        stream.positions[channel] = StreamPositions.Position(epoch: epoch, offset: top)
                    }
                    if stream.resumeFrom != nil {
                        stream.event("unrecovered", data: .object(["channel": .string(channel), "epoch": .string(epoch), "offset": .int(top)]))
                    }
                }
            } else if stream.resumeFrom != nil {
                // History is off: what was missed cannot be replayed.
                stream.event("unrecovered", data: .object(["channel": .string(channel)]))
            }
            stream.subscribe(channels.dropFirst())
        }
    }

    private func event(_ name: String, data: JSONValue) {
        var text = Array("event: \(name)\ndata: ".utf8)
        data.write(into: &text)
        text.append(contentsOf: "\n\n".utf8)
        send(text)
    }

    private func send(_ text: String) { send(Array(text.utf8)) }

    private func send(_ bytes: [UInt8]) {
        guard let context else { return }
        var buffer = context.channel.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
    }

    // MARK: Frames to events

    /// `data` holds whole server-to-client WebSocket frames (RFC 6455 5.2, unmasked), one or a batch.
    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        var frames = unwrapOutboundIn(data)
        var events = context.channel.allocator.buffer(capacity: frames.readableBytes + 64)
        var closing = false
        while let (opcode, payload) = Self.readFrame(&frames) {
            switch opcode {
            case 0x1: appendEvent(payload, to: &events)
            case 0x8: closing = true
            default: break
            }
        }
        if events.readableBytes > 0 {
            context.write(wrapOutboundOut(.body(.byteBuffer(events))), promise: promise)
        } else {
            promise?.succeed()
        }
        if closing {
            context.flush()
            context.close(promise: nil)
        }
    }

    private func appendEvent(_ payload: ByteBuffer, to events: inout ByteBuffer) {
        let pushed = payload.withUnsafeReadableBytes { PushedPosition(json: $0) }
        if let pushed, request.channels.contains(pushed.channel) {
            positions[pushed.channel] = pushed.position
            events.writeString("id: \(positions.eventID)\n")
        }
        events.writeStaticString("data: ")
        let start = events.writerIndex
        events.writeImmutableBuffer(payload)
        // A raw line break in JSON is whitespace (inside strings it is escaped): a space keeps it one data line.
        let breaks = payload.withUnsafeReadableBytes { $0.contains(0x0A) || $0.contains(0x0D) }
        if breaks {
            for index in start..<events.writerIndex {
                let byte = events.getInteger(at: index, as: UInt8.self)!
                if byte == 0x0A || byte == 0x0D { events.setInteger(UInt8(0x20), at: index) }
            }
        }
        events.writeStaticString("\n\n")
    }

    /// The next frame's opcode and payload, or nil at the end of the buffer.
    static func readFrame(_ buffer: inout ByteBuffer) -> (opcode: UInt8, payload: ByteBuffer)? {
        guard let first = buffer.readInteger(as: UInt8.self), let second = buffer.readInteger(as: UInt8.self) else { return nil }
        var length = Int(second & 0x7F)
        if length == 126 {
            guard let extended = buffer.readInteger(as: UInt16.self) else { return nil }
            length = Int(extended)
        } else if length == 127 {
            guard let extended = buffer.readInteger(as: UInt64.self) else { return nil }
            length = Int(extended)
        }
        guard let payload = buffer.readSlice(length: length) else { return nil }
        return (first & 0x0F, payload)
    }
}

@available(*, unavailable)
extension SSEStream: Sendable {}
