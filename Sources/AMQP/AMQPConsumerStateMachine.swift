import NIOCore

/// A RabbitMQ queue consumer as a pure state machine: events (bytes received, the transport opened or closed,
/// a timer tick, a delivery handled, stop) with the current time in, `AMQPConsumerAction`s out. It speaks the
/// subset of AMQP 0-9-1 a consumer needs, on one channel:
///
///     protocol header -> connection.start / start-ok (PLAIN) -> tune / tune-ok -> open / open-ok
///     -> channel.open -> queue.declare (durable) -> basic.qos (prefetch) -> basic.consume (manual acks)
///     -> basic.deliver + content header + body frames ... -> basic.ack (or basic.reject, requeue)
///
/// Heartbeats go both ways: one is sent when nothing else was for half the negotiated interval, and a broker
/// silent for two intervals is dead. A lost connection is retried after a jittered backoff, forever, until
/// `stop`. Stopping cancels the consumer, waits (bounded) for the deliveries in hand to be handled and
/// acknowledged, then closes the connection.
public struct AMQPConsumerStateMachine: Sendable {
    /// The one channel the consumer opens.
    public static let channel: UInt16 = 1

    private enum Handshake: Sendable {
        case awaitingStart, awaitingTune, awaitingOpenOk, awaitingChannelOpenOk, awaitingDeclareOk, awaitingQosOk, awaitingConsumeOk
    }

    private enum State: Sendable {
        /// Before `start`.
        case idle
        /// TCP connect in progress.
        case connecting
        case handshaking(Handshake, deadline: NIODeadline)
        case consuming
        /// Stopping: basic.cancel sent; deliveries in hand are still acknowledged.
        case draining(deadline: NIODeadline)
        /// connection.close sent (by us), waiting for close-ok.
        case closing(deadline: NIODeadline)
        /// The transport is being closed; waiting for `transportClosed`.
        case closingTransport
        case waitingToReconnect
        case stopped
    }

    /// A message being assembled from its method, header and body frames.
    private struct Assembly: Sendable {
        var deliveryTag: UInt64
        var redelivered: Bool
        var bodySize: UInt64?
        var body: ByteBuffer?
        var received: UInt64 = 0
        var discarding = false
    }

    public let settings: AMQPConsumerSettings
    private var state: State = .idle
    private var stopRequested = false
    private var decoder: AMQPFrameDecoder
    private var backoff: AMQPBackoff
    private let allocator = ByteBufferAllocator()
    /// Connections opened so far; deliveries carry it so that a stale acknowledgement is dropped.
    public private(set) var connectionNumber: UInt64 = 0
    /// Negotiated heartbeat interval (nil: none).
    public private(set) var heartbeat: TimeAmount?
    /// Negotiated largest frame.
    public private(set) var frameMax: UInt32 = 0
    private var lastReceived = NIODeadline.uptimeNanoseconds(0)
    private var lastSent = NIODeadline.uptimeNanoseconds(0)
    private var consumerTag = ""
    private var consumerCancelled = false
    private var assembly: Assembly?
    /// Deliveries handed on and not yet reported handled, on the current connection.
    public private(set) var unacknowledged = 0
    /// Why the current connection is ending, once known.
    private var disconnectReason: AMQPDisconnectReason?

    public init(settings: AMQPConsumerSettings) {
        self.settings = settings
        self.decoder = AMQPFrameDecoder(maxPayloadBytes: Int(max(settings.frameMax, 4096)) - AMQPFrame.overhead)
        self.backoff = AMQPBackoff(initial: settings.reconnectInitial, maximum: settings.reconnectMaximum, seed: settings.seed)
    }

    /// Whether the consumer is receiving deliveries now.
    public var isConsuming: Bool {
        if case .consuming = state { return true }
        return false
    }

    public var isStopped: Bool {
        if case .stopped = state { return true }
        return false
    }

    // MARK: Events

    /// Begins connecting.
    public mutating func start(now: NIODeadline) -> [AMQPConsumerAction] {
        guard case .idle = state else { return [] }
        state = .connecting
        return [.openTransport]
    }

    /// The reconnect delay is over.
    public mutating func reconnectDue(now: NIODeadline) -> [AMQPConsumerAction] {
        guard case .waitingToReconnect = state else { return [] }
        state = .connecting
        return [.openTransport]
    }

    /// TCP is connected: send the protocol header.
    public mutating func transportOpened(now: NIODeadline) -> [AMQPConsumerAction] {
        guard case .connecting = state else { return [] }
        if stopRequested {
            state = .closingTransport
            return [.closeTransport]
        }
        connectionNumber += 1
        decoder = AMQPFrameDecoder(maxPayloadBytes: Int(max(settings.frameMax, 4096)) - AMQPFrame.overhead)
        heartbeat = nil
        frameMax = settings.frameMax
        consumerTag = ""
        consumerCancelled = false
        assembly = nil
        unacknowledged = 0
        disconnectReason = nil
        lastReceived = now
        lastSent = now
        let deadline = now + settings.handshakeTimeout
        state = .handshaking(.awaitingStart, deadline: deadline)
        var out = allocator.buffer(capacity: 8)
        out.writeBytes(AMQPFrame.protocolHeader)
        return [.send(out), .scheduleTick(at: deadline)]
    }

    /// The TCP connection is gone (closed by either side, or the connect failed with `error`).
    public mutating func transportClosed(error: String? = nil, now: NIODeadline) -> [AMQPConsumerAction] {
        let wasConnected: Bool
        switch state {
        case .idle, .stopped, .waitingToReconnect: return []
        case .connecting: wasConnected = false
        default: wasConnected = true
        }
        let reason = disconnectReason ?? (stopRequested ? .stopped : .transport(error ?? "closed by the broker without connection.close"))
        disconnectReason = nil
        assembly = nil
        unacknowledged = 0
        heartbeat = nil
        var actions: [AMQPConsumerAction] = wasConnected || error != nil ? [.disconnected(reason)] : []
        if stopRequested {
            state = .stopped
            actions.append(.stopped)
        } else {
            state = .waitingToReconnect
            actions.append(.scheduleReconnect(after: backoff.next()))
        }
        return actions
    }

    /// Bytes from the broker.
    public mutating func bytesReceived(_ bytes: ByteBuffer, now: NIODeadline) -> [AMQPConsumerAction] {
        switch state {
        case .handshaking, .consuming, .draining, .closing: break
        default: return []
        }
        lastReceived = now
        decoder.append(bytes)
        var out = allocator.buffer(capacity: 0)
        var actions: [AMQPConsumerAction] = []
        while true {
            let frame: AMQPFrame
            do {
                guard let next = try decoder.next() else { break }
                frame = next
            } catch {
                protocolError(AMQPCloseReason(replyCode: error.replyCode, replyText: error.description), into: &out, &actions, abort: true)
                break
            }
            handle(frame, now: now, into: &out, &actions)
            if case .closingTransport = state { break }
        }
        return finish(out, actions, now: now)
    }

    /// Timer: heartbeats, and the handshake, drain and close deadlines.
    public mutating func tick(now: NIODeadline) -> [AMQPConsumerAction] {
        var out = allocator.buffer(capacity: 0)
        var actions: [AMQPConsumerAction] = []
        switch state {
        case .handshaking(_, let deadline) where now >= deadline:
            disconnectReason = .handshakeTimedOut
            closeTransport(&actions)
            return actions
        case .draining(let deadline) where now >= deadline:
            sendConnectionClose(.success("stopping"), into: &out, now: now)
        case .closing(let deadline) where now >= deadline:
            closeTransport(&actions)
            return actions
        default:
            break
        }
        if let heartbeat, isPastTune {
            if now - lastReceived >= heartbeat + heartbeat {
                disconnectReason = .missedHeartbeats(heartbeat)
                closeTransport(&actions)
                return actions
            }
            if now - lastSent >= .nanoseconds(heartbeat.nanoseconds / 2) {
                AMQPFrame.encodeHeartbeat(into: &out)
            }
        }
        var result = finish(out, actions, now: now)
        if let next = nextTick(now: now) { result.append(.scheduleTick(at: next)) }
        return result
    }

    /// A delivery was handled: acknowledge it (`requeue`: give it back to the queue instead). Deliveries of an
    /// earlier connection are ignored (the broker redelivers them).
    public mutating func handled(_ delivery: AMQPDelivery, requeue: Bool = false, now: NIODeadline) -> [AMQPConsumerAction] {
        guard delivery.connection == connectionNumber else { return [] }
        switch state {
        case .consuming, .draining: break
        default: return []
        }
        unacknowledged -= 1
        var out = allocator.buffer(capacity: 32)
        let method: AMQPMethod = requeue ? .basicReject(deliveryTag: delivery.deliveryTag, requeue: true) : .basicAck(deliveryTag: delivery.deliveryTag, multiple: false)
        method.encode(channel: Self.channel, into: &out)
        if case .draining = state { closeIfDrained(into: &out, now: now) }
        return finish(out, [], now: now)
    }

    /// Stops for good: drains and closes a consuming connection, abandons anything else.
    public mutating func stop(now: NIODeadline) -> [AMQPConsumerAction] {
        guard !stopRequested else { return [] }
        stopRequested = true
        var out = allocator.buffer(capacity: 0)
        var actions: [AMQPConsumerAction] = []
        switch state {
        case .idle, .waitingToReconnect:
            state = .stopped
            return [.stopped]
        case .connecting:
            return [.closeTransport]
        case .handshaking:
            sendConnectionClose(.success("stopping"), into: &out, now: now)
        case .consuming:
            let deadline = now + settings.drainTimeout
            state = .draining(deadline: deadline)
            if consumerCancelled {
                closeIfDrained(into: &out, now: now)
            } else {
                AMQPMethod.basicCancel(consumerTag: consumerTag, noWait: false).encode(channel: Self.channel, into: &out)
            }
        case .draining, .closing, .closingTransport, .stopped:
            return []
        }
        var result = finish(out, actions, now: now)
        if let next = nextTick(now: now) { result.append(.scheduleTick(at: next)) }
        actions = result
        return actions
    }

    // MARK: Frames

    private var isPastTune: Bool {
        switch state {
        case .handshaking(let step, _):
            switch step {
            case .awaitingStart, .awaitingTune: return false
            default: return true
            }
        case .consuming, .draining, .closing: return true
        default: return false
        }
    }

    private mutating func handle(_ frame: AMQPFrame, now: NIODeadline, into out: inout ByteBuffer, _ actions: inout [AMQPConsumerAction]) {
        switch frame.kind {
        case .heartbeat:
            return
        case .method:
            let method: AMQPMethod
            do {
                method = try AMQPMethod.decode(frame.payload)
            } catch {
                protocolError(AMQPCloseReason(replyCode: error.replyCode, replyText: error.description), into: &out, &actions, abort: false)
                return
            }
            if frame.channel == 0 {
                handleConnection(method, now: now, into: &out, &actions)
            } else if frame.channel == Self.channel {
                handleChannel(method, now: now, into: &out, &actions)
            } else {
                protocolError(AMQPCloseReason(replyCode: 504, replyText: "CHANNEL_ERROR - method on unopened channel \(frame.channel)"), into: &out, &actions, abort: false)
            }
        case .header:
            handleHeader(frame, into: &out, &actions)
        case .body:
            handleBody(frame, into: &out, &actions)
        }
    }

    private mutating func handleConnection(_ method: AMQPMethod, now: NIODeadline, into out: inout ByteBuffer, _ actions: inout [AMQPConsumerAction]) {
        if case .closing = state {
            // After our close only close-ok (or a crossing close) matters.
            switch method {
            case .connectionCloseOk:
                closeTransport(&actions)
            case .connectionClose:
                AMQPMethod.connectionCloseOk.encode(channel: 0, into: &out)
                closeTransport(&actions)
            default:
                break
            }
            return
        }
        switch (state, method) {
        case (.handshaking(.awaitingStart, let deadline), .connectionStart(_, _, _, let mechanisms, _)):
            guard mechanisms.split(separator: " ").contains("PLAIN") else {
                disconnectReason = .noSupportedMechanism(mechanisms)
                closeTransport(&actions)
                return
            }
            var response: [UInt8] = [0]
            response += Array(settings.url.user.utf8)
            response.append(0)
            response += Array(settings.url.password.utf8)
            AMQPMethod.connectionStartOk(clientProperties: clientProperties, mechanism: "PLAIN", response: response, locale: "en_US")
                .encode(channel: 0, into: &out)
            state = .handshaking(.awaitingTune, deadline: deadline)
        case (.handshaking(.awaitingTune, let deadline), .connectionTune(let channelMax, let serverFrameMax, let serverHeartbeat)):
            let frameMax = Self.negotiate(settings.frameMax, serverFrameMax, floor: 4096)
            // Heartbeats: 0 on our side turns them off; else the smaller non-zero interval.
            let heartbeatSeconds = settings.heartbeatSeconds == 0 ? 0 : Self.negotiate(settings.heartbeatSeconds, serverHeartbeat, floor: 1)
            let channels = Self.negotiate(UInt16(1), channelMax, floor: 1)
            self.frameMax = frameMax
            decoder.maxPayloadBytes = Int(frameMax) - AMQPFrame.overhead
            heartbeat = heartbeatSeconds == 0 ? nil : .seconds(Int64(heartbeatSeconds))
            AMQPMethod.connectionTuneOk(channelMax: channels, frameMax: frameMax, heartbeat: heartbeatSeconds).encode(channel: 0, into: &out)
            AMQPMethod.connectionOpen(virtualHost: settings.url.virtualHost).encode(channel: 0, into: &out)
            state = .handshaking(.awaitingOpenOk, deadline: deadline)
            if let next = nextTick(now: now) { actions.append(.scheduleTick(at: next)) }
        case (.handshaking(.awaitingOpenOk, let deadline), .connectionOpenOk):
            AMQPMethod.channelOpen.encode(channel: Self.channel, into: &out)
            state = .handshaking(.awaitingChannelOpenOk, deadline: deadline)
        case (_, .connectionClose(let reason)):
            AMQPMethod.connectionCloseOk.encode(channel: 0, into: &out)
            disconnectReason = .closedByBroker(reason)
            closeTransport(&actions)
        case (_, .connectionBlocked), (_, .connectionUnblocked):
            break  // only publishers are blocked; acknowledgements still flow
        case (_, .unsupported(let classID, let methodID)):
            protocolError(AMQPCloseReason(replyCode: 540, replyText: "NOT_IMPLEMENTED", classID: classID, methodID: methodID), into: &out, &actions, abort: false)
        default:
            let (classID, methodID) = method.identifier
            protocolError(AMQPCloseReason(replyCode: 503, replyText: "COMMAND_INVALID - unexpected method", classID: classID, methodID: methodID), into: &out, &actions, abort: false)
        }
    }

    private mutating func handleChannel(_ method: AMQPMethod, now: NIODeadline, into out: inout ByteBuffer, _ actions: inout [AMQPConsumerAction]) {
        switch (state, method) {
        case (.handshaking(.awaitingChannelOpenOk, let deadline), .channelOpenOk):
            var arguments = AMQPFieldTable()
            if let ttl = settings.messageTTLMilliseconds {
                arguments.entries.append((name: "x-message-ttl", value: ttl <= Int64(Int32.max) ? .int32(Int32(ttl)) : .int64(ttl)))
            }
            AMQPMethod.queueDeclare(queue: settings.queue, passive: false, durable: true, exclusive: false, autoDelete: false, noWait: false, arguments: arguments)
                .encode(channel: Self.channel, into: &out)
            state = .handshaking(.awaitingDeclareOk, deadline: deadline)
        case (.handshaking(.awaitingDeclareOk, let deadline), .queueDeclareOk(let queue, let messages, let consumers)):
            pendingDeclare = (queue, messages, consumers)
            AMQPMethod.basicQos(prefetchSize: 0, prefetchCount: settings.prefetch, global: false).encode(channel: Self.channel, into: &out)
            state = .handshaking(.awaitingQosOk, deadline: deadline)
        case (.handshaking(.awaitingQosOk, let deadline), .basicQosOk):
            AMQPMethod.basicConsume(queue: settings.queue, consumerTag: "", noLocal: false, noAck: false, exclusive: false, noWait: false, arguments: [:])
                .encode(channel: Self.channel, into: &out)
            state = .handshaking(.awaitingConsumeOk, deadline: deadline)
        case (.handshaking(.awaitingConsumeOk, _), .basicConsumeOk(let tag)):
            consumerTag = tag
            state = .consuming
            backoff.reset()
            let declared = pendingDeclare ?? (settings.queue, 0, 0)
            actions.append(.consuming(queue: declared.queue, messageCount: declared.messages, consumerCount: declared.consumers))
            if let next = nextTick(now: now) { actions.append(.scheduleTick(at: next)) }
        case (.consuming, .basicDeliver(_, let tag, let redelivered, _, _)), (.draining, .basicDeliver(_, let tag, let redelivered, _, _)):
            guard assembly == nil else {
                return protocolError(AMQPCloseReason(replyCode: 505, replyText: "UNEXPECTED_FRAME - deliver before the last body was complete", classID: 60, methodID: 60), into: &out, &actions, abort: false)
            }
            assembly = Assembly(deliveryTag: tag, redelivered: redelivered)
        case (.draining, .basicCancelOk):
            consumerCancelled = true
            closeIfDrained(into: &out, now: now)
        case (.consuming, .basicCancel(_, let noWait)), (.draining, .basicCancel(_, let noWait)):
            // The broker cancelled us (queue deleted): reconnect, which declares the queue again.
            if !noWait { AMQPMethod.basicCancelOk(consumerTag: consumerTag).encode(channel: Self.channel, into: &out) }
            consumerCancelled = true
            if case .consuming = state {
                disconnectReason = .consumerCancelled
                sendConnectionClose(.success("consumer cancelled by the broker"), into: &out, now: now)
            } else {
                closeIfDrained(into: &out, now: now)
            }
        case (_, .channelFlow(let active)):
            AMQPMethod.channelFlowOk(active: active).encode(channel: Self.channel, into: &out)
        case (_, .channelClose(let reason)):
            AMQPMethod.channelCloseOk.encode(channel: Self.channel, into: &out)
            disconnectReason = .channelClosedByBroker(reason)
            sendConnectionClose(.success("channel closed by the broker"), into: &out, now: now)
        case (_, .unsupported(let classID, let methodID)):
            protocolError(AMQPCloseReason(replyCode: 540, replyText: "NOT_IMPLEMENTED", classID: classID, methodID: methodID), into: &out, &actions, abort: false)
        default:
            let (classID, methodID) = method.identifier
            protocolError(AMQPCloseReason(replyCode: 503, replyText: "COMMAND_INVALID - unexpected method", classID: classID, methodID: methodID), into: &out, &actions, abort: false)
        }
    }

    private var pendingDeclare: (queue: String, messages: UInt32, consumers: UInt32)?

    private mutating func handleHeader(_ frame: AMQPFrame, into out: inout ByteBuffer, _ actions: inout [AMQPConsumerAction]) {
        guard frame.channel == Self.channel, var current = assembly, current.bodySize == nil else {
            return protocolError(AMQPCloseReason(replyCode: 505, replyText: "UNEXPECTED_FRAME - content header without a deliver"), into: &out, &actions, abort: false)
        }
        let header: AMQPContentHeader
        do {
            header = try AMQPContentHeader.decode(frame.payload)
        } catch {
            return protocolError(AMQPCloseReason(replyCode: error.replyCode, replyText: error.description), into: &out, &actions, abort: false)
        }
        current.bodySize = header.bodySize
        if header.bodySize > UInt64(settings.maxBodyBytes) {
            current.discarding = true
        }
        assembly = current
        completeIfWhole(into: &out, &actions)
    }

    private mutating func handleBody(_ frame: AMQPFrame, into out: inout ByteBuffer, _ actions: inout [AMQPConsumerAction]) {
        guard frame.channel == Self.channel, var current = assembly, let size = current.bodySize else {
            return protocolError(AMQPCloseReason(replyCode: 505, replyText: "UNEXPECTED_FRAME - body without a content header"), into: &out, &actions, abort: false)
        }
        let length = UInt64(frame.payload.readableBytes)
        guard current.received + length <= size else {
            return protocolError(AMQPCloseReason(replyCode: 501, replyText: "FRAME_ERROR - body frames longer than the header's body size"), into: &out, &actions, abort: false)
        }
        current.received += length
        if !current.discarding {
            if current.body == nil, current.received == size {
                current.body = frame.payload  // the whole body in one frame: no copy
            } else {
                if current.body == nil { current.body = allocator.buffer(capacity: Int(size)) }
                var payload = frame.payload
                current.body!.writeBuffer(&payload)
            }
        }
        assembly = current
        completeIfWhole(into: &out, &actions)
    }

    private mutating func completeIfWhole(into out: inout ByteBuffer, _ actions: inout [AMQPConsumerAction]) {
        guard let current = assembly, let size = current.bodySize, current.received == size else { return }
        assembly = nil
        if current.discarding {
            AMQPMethod.basicAck(deliveryTag: current.deliveryTag, multiple: false).encode(channel: Self.channel, into: &out)
            actions.append(.discardedOversized(bodyBytes: size))
            return
        }
        unacknowledged += 1
        let body = current.body ?? allocator.buffer(capacity: 0)
        actions.append(.deliver(AMQPDelivery(connection: connectionNumber, deliveryTag: current.deliveryTag, redelivered: current.redelivered, body: body)))
    }

    // MARK: Closing

    private mutating func closeIfDrained(into out: inout ByteBuffer, now: NIODeadline) {
        guard case .draining = state, consumerCancelled, unacknowledged <= 0 else { return }
        sendConnectionClose(.success("stopping"), into: &out, now: now)
    }

    private mutating func sendConnectionClose(_ reason: AMQPCloseReason, into out: inout ByteBuffer, now: NIODeadline) {
        AMQPMethod.connectionClose(reason).encode(channel: 0, into: &out)
        state = .closing(deadline: now + settings.closeTimeout)
    }

    /// The broker broke the protocol: close the connection with `reason` (`abort`: the byte stream itself is
    /// broken, so the socket is closed right after the close is written).
    private mutating func protocolError(_ reason: AMQPCloseReason, into out: inout ByteBuffer, _ actions: inout [AMQPConsumerAction], abort: Bool) {
        if case .closing = state { return }
        disconnectReason = .protocolError(reason)
        AMQPMethod.connectionClose(reason).encode(channel: 0, into: &out)
        if abort {
            closeTransport(&actions)
        } else {
            state = .closing(deadline: lastReceived + settings.closeTimeout)
        }
    }

    private mutating func closeTransport(_ actions: inout [AMQPConsumerAction]) {
        state = .closingTransport
        actions.append(.closeTransport)
    }

    // MARK: Helpers

    /// The bytes to send before the other actions (so a close-ok is written before the transport closes).
    private mutating func finish(_ out: ByteBuffer, _ actions: [AMQPConsumerAction], now: NIODeadline) -> [AMQPConsumerAction] {
        guard out.readableBytes > 0 else { return actions }
        lastSent = now
        if case .closing(let deadline) = state, !actions.contains(where: { if case .closeTransport = $0 { true } else { false } }) {
            return [.send(out)] + actions + [.scheduleTick(at: deadline)]
        }
        return [.send(out)] + actions
    }

    /// When `tick` must run next: the nearest deadline or heartbeat check.
    private func nextTick(now: NIODeadline) -> NIODeadline? {
        var next: NIODeadline?
        switch state {
        case .handshaking(_, let deadline), .draining(let deadline), .closing(let deadline): next = deadline
        default: break
        }
        if let heartbeat, isPastTune {
            let check = now + .nanoseconds(heartbeat.nanoseconds / 2)
            next = next.map { min($0, check) } ?? check
        }
        return next
    }

    /// Tune negotiation: 0 means "no limit" on either side, else the smaller value wins.
    static func negotiate<T: FixedWidthInteger>(_ ours: T, _ theirs: T, floor: T) -> T {
        let value = ours == 0 ? theirs : theirs == 0 ? ours : Swift.min(ours, theirs)
        return Swift.max(value, floor)
    }

    private var clientProperties: AMQPFieldTable {
        [
            "product": .string("RocketWS"),
            "platform": .string("Swift"),
            "connection_name": .string(settings.connectionName),
            "capabilities": .table(["consumer_cancel_notify": .bool(true), "connection.blocked": .bool(true), "basic.nack": .bool(true)]),
        ]
    }
}
