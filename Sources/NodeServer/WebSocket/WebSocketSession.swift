import NIOCore
import NIOWebSocket

/// One WebSocket client after the upgrade: validates frames per RFC 6455, reassembles fragmented messages,
/// hands each text message to the node's API, and receives pushed frames from its loop's shard. It writes
/// pre-encoded frame bytes itself (the upgrader's frame encoder is removed), so a pushed frame is one shared
/// buffer for every subscriber.
public final class WebSocketSession: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = WebSocketFrame
    public typealias OutboundOut = ByteBuffer

    /// A process-unique number for this connection.
    public let id: UInt64
    /// A cluster-unique id for this connection, which private-channel tokens are bound to.
    public let connectionID: String
    let shard: SubscriptionShard
    private let hub: LocalHub
    private let api: NodeAPI
    private let settings: WebSocketSettings
    private var context: ChannelHandlerContext?
    /// Where frame bytes are written: the context of the `RawFrameWriter` nearest the socket.
    private var writer: ChannelHandlerContext?
    /// Channels this client is subscribed to.
    var channels: Set<String> = []
    /// Who this connection is (from `?token=` or `connect`); nil before a token was verified.
    var identity: ConnectionIdentity?
    /// Channels this connection is present in (subscribed with `presence`).
    var presenceChannels: Set<String> = []
    /// A close to send right after the next answer (a refused token: -32005, then 1008).
    var closeAfterReply: (code: UInt16, reason: String)?

    private enum State { case open, closing, closed }
    private var state: State = .open
    /// Neither closing nor closed.
    var isOpen: Bool { state == .open }
    private var fragments: ByteBuffer?
    private var fragmentOpcode: WebSocketOpcode = .text
    /// Leading bytes of `fragments` (a text message) already checked to be complete UTF-8 code points.
    private var validatedBytes = 0
    private var pendingFlush = false
    /// The send queue passed its bound: no more pushes, a 1008 close is on its way.
    private var overflowed = false
    /// Request-rate token bucket (`maxRequestsPerSecond` per second, the same as burst).
    private var requestTokens: Double
    private var lastRefill = NIODeadline.now()
    private var registered = false
    /// The loop's ping sweep (nil: this connection is never pinged) and this client's place in it.
    private let sweep: LivenessSweep?
    private var liveness: ConnectionLiveness
    var sweepSlot = -1

    init(
        id: UInt64, shard: SubscriptionShard, hub: LocalHub, api: NodeAPI, settings: WebSocketSettings, writer: ChannelHandlerContext,
        sweep: LivenessSweep? = nil, identity: ConnectionIdentity? = nil
    ) {
        self.identity = identity
        self.writer = writer
        self.sweep = sweep
        self.liveness = ConnectionLiveness(settings: settings.liveness, now: .now())
        self.id = id
        self.connectionID = "\(api.cluster.localName)-\(String(api.cluster.localIncarnation, radix: 36))-\(id)"
        self.requestTokens = Double(settings.maxRequestsPerSecond)
        self.shard = shard
        self.hub = hub
        self.api = api
        self.settings = settings
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        hub.register(self)
        registered = true
        sweep?.register(self)
        api.metrics.connectionsOpened.increment()
    }

    public func channelInactive(context: ChannelHandlerContext) {
        teardown()
        context.fireChannelInactive()
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        teardown()
    }

    private func teardown() {
        guard state != .closed else { return }
        state = .closed
        sweep?.unregister(self)
        leaveHub()
        context = nil
        writer = nil
    }

    /// Tears the session down when its connection is no longer active; returns whether it did.
    func flushIfDead() -> Bool {
        guard state != .closed, context?.channel.isActive != true else { return false }
        teardown()
        return true
    }

    /// Drops this client's subscriptions (telling the cluster about channels that lost their last subscriber).
    private func leaveHub() {
        guard registered else { return }
        registered = false
        let emptied = hub.unregister(self)
        for channel in emptied { api.cluster.localChannelDeactivated(channel) }
        if let user = identity?.user {
            for channel in presenceChannels { api.cluster.presenceLeft(channel: channel, user: user) }
        }
        presenceChannels.removeAll()
    }

    // MARK: Pushing (called by the shard, on this loop)

    /// Writes pre-encoded frames (one or a batch of them, without flushing); returns false when the client is
    /// gone or closing.
    @inline(__always) @discardableResult
    func push(_ frame: ByteBuffer) -> Bool {
        guard state == .open, !overflowed, let writer else { return false }
        writer.write(NIOAny(frame), promise: nil)
        if !pendingFlush {
            pendingFlush = true
            shard.markDirty(self)
        }
        return true
    }

    func flushPending() {
        pendingFlush = false
        writer?.flush()
    }

    public func channelWritabilityChanged(context: ChannelHandlerContext) {
        // The outbound buffer passed its high-water mark (the per-client send queue bound): this client reads
        // too slowly. Close it alone (1008, policy violation) and count it; nothing else is affected.
        if !context.channel.isWritable, state == .open, !overflowed {
            // NIO reports this inside the write that crossed the mark, often while the shard is writing a batch
            // to many sessions: pushes stop at once, the close (which changes the shard's audience) runs next.
            overflowed = true
            api.metrics.slowClientsClosed.increment()
            let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
            context.eventLoop.execute { bound.value.close(code: 1008, reason: "send queue overflow: client too slow") }
        }
        context.fireChannelWritabilityChanged()
    }

    // MARK: Inbound frames

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        liveness.heard()
        guard state == .open else {
            // Closing handshake we started: the client's close answer ends the connection.
            if state == .closing, frame.opcode == .connectionClose { context.close(promise: nil) }
            return
        }
        // RFC 6455 5.1: a client MUST mask every frame; 5.2: RSV bits need a negotiated extension (none here).
        guard frame.maskKey != nil else { return close(code: 1002, reason: "client frames must be masked") }
        guard !frame.rsv1, !frame.rsv2, !frame.rsv3 else { return close(code: 1002, reason: "reserved bits set") }
        switch frame.opcode {
        case .text, .binary:
            guard fragments == nil else { return close(code: 1002, reason: "new message inside a fragmented one") }
            if frame.fin {
                message(opcode: frame.opcode, frame.unmaskedData)
            } else {
                fragmentOpcode = frame.opcode
                fragments = frame.unmaskedData
                validatedBytes = 0
                guard fragmentsMayBeUTF8() else { return close(code: 1007, reason: "invalid UTF-8 in a text message") }
            }
        case .continuation:
            guard var buffer = fragments else { return close(code: 1002, reason: "continuation without a message") }
            var data = frame.unmaskedData
            guard buffer.readableBytes + data.readableBytes <= settings.maxMessageBytes else {
                fragments = nil
                return close(code: 1009, reason: "message too big")
            }
            fragments = nil
            buffer.writeBuffer(&data)
            if frame.fin {
                message(opcode: fragmentOpcode, buffer)
            } else {
                fragments = buffer
                guard fragmentsMayBeUTF8() else { return close(code: 1007, reason: "invalid UTF-8 in a text message") }
            }
        case .ping:
            writer?.writeAndFlush(NIOAny(WebSocketFrameBytes.pong(frame.unmaskedData, allocator: context.channel.allocator)), promise: nil)
        case .pong:
            break
        case .connectionClose:
            receivedClose(frame.unmaskedData)
        default:
            close(code: 1002, reason: "reserved opcode")
        }
    }

    /// Fail fast (RFC 6455 8.1, Autobahn 6.4): checks the bytes of an unfinished text message received since
    /// the last check, so invalid UTF-8 closes the connection without waiting for the last fragment. The
    /// complete message is still validated as a whole in `message`.
    private func fragmentsMayBeUTF8() -> Bool {
        guard fragmentOpcode == .text, let buffer = fragments else { return true }
        let checked = buffer.withUnsafeReadableBytes { bytes in
            UTF8Validation.validPrefixLength(UnsafeRawBufferPointer(rebasing: bytes[validatedBytes...]))
        }
        guard let checked else { return false }
        validatedBytes += checked
        return true
    }

    private func message(opcode: WebSocketOpcode, _ buffer: ByteBuffer) {
        guard opcode == .text else {
            // Documented choice: binary messages are refused with close 1003 (unsupported data).
            return close(code: 1003, reason: "binary frames are not supported; send JSON-RPC as text")
        }
        let valid = buffer.withUnsafeReadableBytes { UTF8Validation.isValid($0) }
        guard valid else { return close(code: 1007, reason: "invalid UTF-8 in a text message") }
        api.metrics.clientRequests.increment()
        let bound = NIOLoopBound(self, eventLoop: shard.loop)
        api.handleClientMessage(buffer, from: self, overRate: !takeRequestToken()).whenSuccess { reply in
            let session = bound.value
            if let reply { session.sendText(reply) }
            if let close = session.closeAfterReply {
                session.closeAfterReply = nil
                session.close(code: close.code, reason: close.reason)
            }
        }
    }

    /// Takes one token from the request-rate bucket; false when the client sends faster than allowed.
    private func takeRequestToken() -> Bool {
        let now = NIODeadline.now()
        let rate = Double(settings.maxRequestsPerSecond)
        let elapsed = Double((now - lastRefill).nanoseconds) / 1e9
        lastRefill = now
        requestTokens = min(rate, requestTokens + elapsed * rate)
        guard requestTokens >= 1 else { return false }
        requestTokens -= 1
        return true
    }

    private func receivedClose(_ payload: ByteBuffer) {
        var payload = payload
        var code: UInt16 = 1000
        if payload.readableBytes == 1 { return close(code: 1002, reason: "close frame with a 1-byte body") }
        if payload.readableBytes >= 2 {
            let received = payload.readInteger(as: UInt16.self)!
            guard Self.isValidCloseCode(received) else { return close(code: 1002, reason: "invalid close code") }
            let reasonValid = payload.withUnsafeReadableBytes { UTF8Validation.isValid($0) }
            guard reasonValid else { return close(code: 1007, reason: "invalid UTF-8 in close reason") }
            code = received
        }
        // Echo the close (RFC 6455 5.5.1) and end the connection.
        close(code: code, reason: "", grace: .zero)
    }

    /// RFC 6455 7.4: the codes a peer may send in a close frame.
    static func isValidCloseCode(_ code: UInt16) -> Bool {
        switch code {
        case 1000...1003, 1007...1014, 3000...4999: return true
        default: return false
        }
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let error = error as? NIOWebSocketError {
            switch error {
            case .invalidFrameLength: close(code: 1009, reason: "frame too big")
            default: close(code: 1002, reason: "protocol error")
            }
        } else {
            context.close(promise: nil)
        }
    }

    // MARK: Outbound

    /// Sends one text message (a JSON-RPC answer).
    func sendText(_ bytes: [UInt8]) {
        guard state == .open, let writer else { return }
        writer.writeAndFlush(NIOAny(WebSocketFrameBytes.text(bytes, allocator: writer.channel.allocator)), promise: nil)
    }

    /// Starts the closing handshake: sends a close frame, stops pushing, and closes the TCP connection once the
    /// client answers or `grace` passes (a client that stopped reading never answers).
    func close(code: UInt16, reason: String, grace: TimeAmount? = nil) {
        guard state == .open, let context, let writer else { return }
        state = .closing
        fragments = nil
        sweep?.unregister(self)
        leaveHub()
        let channel = context.channel
        let frame = WebSocketFrameBytes.close(code: code, reason: reason, allocator: channel.allocator)
        writer.writeAndFlush(NIOAny(frame), promise: nil)
        let wait = grace ?? settings.closeGrace
        if wait == .zero {
            context.close(promise: nil)
        } else {
            channel.eventLoop.scheduleTask(in: wait) { channel.close(promise: nil) }
        }
    }
}

extension WebSocketSession: SweptConnection {
    func livenessTick(now: NIODeadline) -> ConnectionLiveness.Action {
        liveness.tick(now: now)
    }

    func sendLivenessPing(_ frame: ByteBuffer) {
        guard state == .open, let writer else { return }
        writer.writeAndFlush(NIOAny(frame), promise: nil)
    }

    /// No frame within the pong timeout: subscriptions go at once, a close frame is attempted and the TCP
    /// connection closed without waiting for an answer (the client's network may be gone).
    func dropSilent() {
        guard state == .open else { return }
        api.metrics.clientsTimedOut.increment()
        close(code: 1001, reason: "no answer to ping", grace: .zero)
    }
}

@available(*, unavailable)
extension WebSocketSession: Sendable {}
