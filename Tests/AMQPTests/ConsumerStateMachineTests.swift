import AMQP
import NIOCore
import Testing

@Suite("AMQP consumer state machine")
struct ConsumerStateMachineTests {
    @Test("handshake: PLAIN, tune, open, channel, durable queue with x-message-ttl, qos, consume with manual acks")
    func handshake() throws {
        var broker = FakeBroker()
        #expect(broker.run { $0.start(now: $1) }.count == 1)
        let opened = broker.run { $0.transportOpened(now: $1) }
        #expect(broker.sentFrames(opened).isEmpty)  // only the protocol header
        #expect(opened.ticks == [broker.now + .seconds(10)])  // the handshake deadline

        var sent = broker.sentMethods(broker.send(FakeBroker.start))
        guard case .connectionStartOk(let properties, "PLAIN", let response, _) = try #require(sent.first?.method) else {
            Issue.record("expected start-ok, got \(sent)")
            return
        }
        #expect(response == [0] + Array("user".utf8) + [0] + Array("pass".utf8))
        #expect(properties["product"] == .string("RocketWS"))

        sent = broker.sentMethods(broker.send(.connectionTune(channelMax: 2047, frameMax: 0, heartbeat: 60)))
        #expect(sent.map(\.method) == [.connectionTuneOk(channelMax: 1, frameMax: 131_072, heartbeat: 30), .connectionOpen(virtualHost: "vh")])
        #expect(broker.machine.heartbeat == .seconds(30))

        sent = broker.sentMethods(broker.send(.connectionOpenOk))
        #expect(sent.map(\.channel) == [1])
        #expect(sent.map(\.method) == [.channelOpen])

        sent = broker.sentMethods(broker.send(.channelOpenOk, channel: 1))
        #expect(sent.map(\.method) == [
            .queueDeclare(queue: "rocketws", passive: false, durable: true, exclusive: false, autoDelete: false, noWait: false, arguments: ["x-message-ttl": .int32(3_600_000)])
        ])
        sent = broker.sentMethods(broker.send(.queueDeclareOk(queue: "rocketws", messageCount: 12, consumerCount: 2), channel: 1))
        #expect(sent.map(\.method) == [.basicQos(prefetchSize: 0, prefetchCount: 256, global: false)])
        sent = broker.sentMethods(broker.send(.basicQosOk, channel: 1))
        #expect(sent.map(\.method) == [.basicConsume(queue: "rocketws", consumerTag: "", noLocal: false, noAck: false, exclusive: false, noWait: false, arguments: [:])])
        let consuming = broker.send(.basicConsumeOk(consumerTag: "amq.ctag-1"), channel: 1)
        #expect(broker.machine.isConsuming)
        guard case .consuming(let queue, 12, 2) = consuming.first else {
            Issue.record("expected .consuming, got \(consuming)")
            return
        }
        #expect(queue == "rocketws")
        #expect(consuming.ticks == [broker.now + .seconds(15)])  // heartbeat check every half interval
    }

    @Test("tune: 0 means no limit on either side, otherwise the smaller value; our 0 turns heartbeats off")
    func tuneNegotiation() {
        func tuneOk(ours: (frameMax: UInt32, heartbeat: UInt16), broker theirs: (frameMax: UInt32, heartbeat: UInt16)) -> AMQPMethod? {
            var settings = FakeBroker.settings()
            settings.frameMax = ours.frameMax
            settings.heartbeatSeconds = ours.heartbeat
            var broker = FakeBroker(settings: settings)
            broker.run { $0.start(now: $1) }
            _ = broker.sentFrames(broker.run { $0.transportOpened(now: $1) })
            _ = broker.sentFrames(broker.send(FakeBroker.start))
            return broker.sentMethods(broker.send(.connectionTune(channelMax: 0, frameMax: theirs.frameMax, heartbeat: theirs.heartbeat))).first?.method
        }
        #expect(tuneOk(ours: (131_072, 30), broker: (4096, 10)) == .connectionTuneOk(channelMax: 1, frameMax: 4096, heartbeat: 10))
        #expect(tuneOk(ours: (0, 30), broker: (0, 0)) == .connectionTuneOk(channelMax: 1, frameMax: 4096, heartbeat: 30))
        #expect(tuneOk(ours: (65536, 0), broker: (131_072, 60)) == .connectionTuneOk(channelMax: 1, frameMax: 65536, heartbeat: 0))
    }

    @Test("no TTL configured: the queue is declared without arguments")
    func noTTL() {
        var settings = FakeBroker.settings()
        settings.messageTTLMilliseconds = nil
        var broker = FakeBroker(settings: settings)
        broker.run { $0.start(now: $1) }
        _ = broker.sentFrames(broker.run { $0.transportOpened(now: $1) })
        broker.send(FakeBroker.start)
        broker.send(.connectionTune(channelMax: 0, frameMax: 0, heartbeat: 0))
        broker.send(.connectionOpenOk)
        _ = broker.sentFrames(broker.log)
        let sent = broker.sentMethods(broker.send(.channelOpenOk, channel: 1))
        #expect(sent.map(\.method) == [.queueDeclare(queue: "rocketws", passive: false, durable: true, exclusive: false, autoDelete: false, noWait: false, arguments: [:])])
    }

    @Test("a broker without PLAIN is refused")
    func noPlain() {
        var broker = FakeBroker()
        broker.run { $0.start(now: $1) }
        broker.run { $0.transportOpened(now: $1) }
        let actions = broker.send(.connectionStart(versionMajor: 0, versionMinor: 9, serverProperties: [:], mechanisms: "EXTERNAL", locales: "en_US"))
        #expect(actions.closesTransport)
        let closed = broker.run { $0.transportClosed(now: $1) }
        #expect(closed.disconnectReasons == [.noSupportedMechanism("EXTERNAL")])
        #expect(closed.reconnectDelays.count == 1)
    }

    @Test("a body split over several frames, arriving in odd chunks, is delivered whole; ack and requeue")
    func splitBody() throws {
        var broker = FakeBroker()
        broker.handshake()
        let body = Array(repeating: UInt8(ascii: "x"), count: 10_000)
        var stream = FakeBroker.delivery(tag: 1, body: body, frameSize: 4000)
        var empty = FakeBroker.delivery(tag: 2, body: [], frameSize: 4000, redelivered: true)
        stream.writeBuffer(&empty)
        var delivered: [AMQPDelivery] = []
        while stream.readableBytes > 0, let chunk = stream.readSlice(length: min(777, stream.readableBytes)) {
            delivered += broker.receive(chunk).deliveries
        }
        #expect(delivered.map(\.deliveryTag) == [1, 2])
        #expect(delivered.map(\.redelivered) == [false, true])
        #expect(Array(delivered[0].body.readableBytesView) == body)
        #expect(delivered[1].body.readableBytes == 0)
        #expect(broker.machine.unacknowledged == 2)

        let ack = broker.sentMethods(broker.run { $0.handled(delivered[0], now: $1) })
        #expect(ack.map(\.method) == [.basicAck(deliveryTag: 1, multiple: false)])
        #expect(ack.map(\.channel) == [1])
        let reject = broker.sentMethods(broker.run { $0.handled(delivered[1], requeue: true, now: $1) })
        #expect(reject.map(\.method) == [.basicReject(deliveryTag: 2, requeue: true)])
        #expect(broker.machine.unacknowledged == 0)
    }

    @Test("a body over the size limit is acknowledged, not handed on")
    func oversized() {
        var settings = FakeBroker.settings()
        settings.maxBodyBytes = 100
        var broker = FakeBroker(settings: settings)
        broker.handshake()
        let actions = broker.receive(FakeBroker.delivery(tag: 5, body: Array(repeating: 1, count: 101), frameSize: 60))
        #expect(actions.deliveries.isEmpty)
        #expect(broker.sentMethods(actions).map(\.method) == [.basicAck(deliveryTag: 5, multiple: false)])
        #expect(actions.contains { if case .discardedOversized(101) = $0 { true } else { false } })
        #expect(broker.receive(FakeBroker.delivery(tag: 6, body: Array(repeating: 1, count: 100))).deliveries.count == 1)
    }

    @Test("an acknowledgement of an earlier connection's delivery is never sent on a later one")
    func staleAck() {
        var broker = FakeBroker()
        broker.handshake()
        let old = broker.receive(FakeBroker.delivery(tag: 1, body: [1])).deliveries[0]
        #expect(old.connection == 1)
        broker.run { $0.transportClosed(error: "reset", now: $1) }
        broker.run { $0.reconnectDue(now: $1) }
        broker.log = []
        broker = FakeBroker.continuing(broker)
        #expect(broker.machine.connectionNumber == 2)
        #expect(broker.run { $0.handled(old, now: $1) }.isEmpty)
    }

    @Test("heartbeats: one is sent when we were idle half an interval; a silent broker is dead after two")
    func heartbeats() {
        var broker = FakeBroker()
        broker.handshake(heartbeat: 10)
        #expect(broker.machine.heartbeat == .seconds(10))
        broker.advance(.seconds(5))
        var actions = broker.run { $0.tick(now: $1) }
        #expect(broker.sentFrames(actions).map(\.kind) == [.heartbeat])
        #expect(actions.ticks == [broker.now + .seconds(5)])

        // The broker's heartbeats keep the connection alive.
        for _ in 0..<6 {
            broker.advance(.seconds(5))
            var beat = ByteBuffer()
            AMQPFrame.encodeHeartbeat(into: &beat)
            #expect(broker.receive(beat).isEmpty)
            actions = broker.run { $0.tick(now: $1) }
            #expect(!actions.closesTransport)
        }
        // An ack counts as traffic: no heartbeat is needed right after one.
        let delivery = broker.receive(FakeBroker.delivery(tag: 1, body: [1])).deliveries[0]
        broker.advance(.seconds(1))
        _ = broker.sentFrames(broker.run { $0.handled(delivery, now: $1) })
        broker.advance(.seconds(4))
        #expect(broker.sentFrames(broker.run { $0.tick(now: $1) }).isEmpty)

        // Silence from the broker: dead once 20 s passed since its last frame.
        broker.advance(.seconds(10))
        #expect(!broker.run { $0.tick(now: $1) }.closesTransport)
        broker.advance(.seconds(5))
        actions = broker.run { $0.tick(now: $1) }
        #expect(actions.closesTransport)
        let closed = broker.run { $0.transportClosed(now: $1) }
        #expect(closed.disconnectReasons == [.missedHeartbeats(.seconds(10))])
        #expect(closed.reconnectDelays.count == 1 && closed.reconnectDelays[0] <= .seconds(5))
    }

    @Test("connection.close from the broker: close-ok, then reconnect after a backoff; the next consume resets it")
    func brokerClosesConnection() {
        var broker = FakeBroker()
        broker.handshake()
        let reason = AMQPCloseReason(replyCode: 320, replyText: "CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'")
        let actions = broker.send(.connectionClose(reason))
        #expect(broker.sentMethods(actions).map(\.method) == [.connectionCloseOk])
        #expect(actions.closesTransport)
        let closed = broker.run { $0.transportClosed(now: $1) }
        #expect(closed.disconnectReasons == [.closedByBroker(reason)])
        #expect(closed.reconnectDelays.first.map { $0 <= .milliseconds(250) } == true)

        // A failed attempt backs off further.
        #expect(broker.run { $0.reconnectDue(now: $1) }.count == 1)
        let refused = broker.run { $0.transportClosed(error: "connection refused", now: $1) }
        #expect(refused.disconnectReasons == [.transport("connection refused")])
        #expect(refused.reconnectDelays.first.map { $0 > .milliseconds(250) && $0 <= .milliseconds(500) } == true)
    }

    @Test("channel.close from the broker (406 on an inequivalent queue): close-ok, connection close, reconnect")
    func brokerClosesChannel() {
        var broker = FakeBroker()
        broker.run { $0.start(now: $1) }
        _ = broker.sentFrames(broker.run { $0.transportOpened(now: $1) })
        broker.send(FakeBroker.start)
        broker.send(.connectionTune(channelMax: 0, frameMax: 0, heartbeat: 60))
        broker.send(.connectionOpenOk)
        broker.send(.channelOpenOk, channel: 1)
        _ = broker.sentFrames(broker.log)
        let reason = AMQPCloseReason(replyCode: 406, replyText: "PRECONDITION_FAILED - inequivalent arg 'x-message-ttl'", classID: 50, methodID: 10)
        let actions = broker.send(.channelClose(reason), channel: 1)
        let sent = broker.sentMethods(actions)
        #expect(sent.map(\.method) == [.channelCloseOk, .connectionClose(.success("channel closed by the broker"))])
        #expect(sent.map(\.channel) == [1, 0])
        #expect(!actions.closesTransport)
        #expect(broker.send(.connectionCloseOk).closesTransport)
        #expect(broker.run { $0.transportClosed(now: $1) }.disconnectReasons == [.channelClosedByBroker(reason)])
    }

    @Test("basic.cancel from the broker (queue deleted): cancel-ok, close, reconnect to declare it again")
    func brokerCancels() {
        var broker = FakeBroker()
        broker.handshake()
        let sent = broker.sentMethods(broker.send(.basicCancel(consumerTag: "amq.ctag-1", noWait: false), channel: 1))
        #expect(sent.map(\.method) == [.basicCancelOk(consumerTag: "amq.ctag-1"), .connectionClose(.success("consumer cancelled by the broker"))])
        #expect(broker.send(.connectionCloseOk).closesTransport)
        #expect(broker.run { $0.transportClosed(now: $1) }.disconnectReasons == [.consumerCancelled])
    }

    @Test("stop: cancel the consumer, wait for deliveries in hand, close, stopped")
    func gracefulStop() {
        var broker = FakeBroker()
        broker.handshake()
        let first = broker.receive(FakeBroker.delivery(tag: 1, body: [1])).deliveries[0]
        var actions = broker.run { $0.stop(now: $1) }
        #expect(broker.sentMethods(actions).map(\.method) == [.basicCancel(consumerTag: "amq.ctag-1", noWait: false)])
        // A delivery in flight before the cancel arrives is still handed on.
        let second = broker.receive(FakeBroker.delivery(tag: 2, body: [2])).deliveries[0]
        #expect(broker.sentMethods(broker.send(.basicCancelOk(consumerTag: "amq.ctag-1"), channel: 1)).isEmpty)
        #expect(broker.sentMethods(broker.run { $0.handled(first, now: $1) }).map(\.method) == [.basicAck(deliveryTag: 1, multiple: false)])
        actions = broker.run { $0.handled(second, now: $1) }
        #expect(broker.sentMethods(actions).map(\.method) == [.basicAck(deliveryTag: 2, multiple: false), .connectionClose(.success("stopping"))])
        #expect(broker.send(.connectionCloseOk).closesTransport)
        let closed = broker.run { $0.transportClosed(now: $1) }
        #expect(closed.stops && closed.reconnectDelays.isEmpty)
        #expect(broker.machine.isStopped)
    }

    @Test("stop: a delivery never handled does not hold the close past the drain timeout; a silent close-ok neither")
    func stopTimeouts() {
        var broker = FakeBroker()
        broker.handshake()
        _ = broker.receive(FakeBroker.delivery(tag: 1, body: [1]))
        broker.run { $0.stop(now: $1) }
        broker.send(.basicCancelOk(consumerTag: "amq.ctag-1"), channel: 1)
        _ = broker.sentFrames(broker.log)
        broker.advance(.seconds(5))
        let actions = broker.run { $0.tick(now: $1) }
        #expect(broker.sentMethods(actions).map(\.method) == [.connectionClose(.success("stopping"))])
        broker.advance(.seconds(2))
        #expect(broker.run { $0.tick(now: $1) }.closesTransport)
        #expect(broker.run { $0.transportClosed(now: $1) }.stops)
    }

    @Test("stop while waiting to reconnect or connecting ends at once")
    func stopWhileDisconnected() {
        var broker = FakeBroker()
        broker.run { $0.start(now: $1) }
        #expect(broker.run { $0.stop(now: $1) }.closesTransport)
        #expect(broker.run { $0.transportClosed(error: "cancelled", now: $1) }.stops)

        var other = FakeBroker()
        other.handshake()
        other.run { $0.transportClosed(error: "reset", now: $1) }
        #expect(other.run { $0.stop(now: $1) }.stops)
        #expect(other.run { $0.reconnectDue(now: $1) }.isEmpty)
    }

    @Test("a handshake that stalls is abandoned at its deadline")
    func handshakeTimeout() {
        var broker = FakeBroker()
        broker.run { $0.start(now: $1) }
        broker.run { $0.transportOpened(now: $1) }
        broker.advance(.seconds(9))
        #expect(!broker.run { $0.tick(now: $1) }.closesTransport)
        broker.advance(.seconds(1))
        #expect(broker.run { $0.tick(now: $1) }.closesTransport)
        #expect(broker.run { $0.transportClosed(now: $1) }.disconnectReasons == [.handshakeTimedOut])
    }

    @Test("protocol violations close the connection with the spec's reply codes")
    func violations() {
        var broker = FakeBroker()
        broker.handshake()
        // A content header with no deliver before it.
        var bytes = ByteBuffer()
        AMQPContentHeader(bodySize: 1).encode(channel: 1, into: &bytes)
        var sent = broker.sentMethods(broker.receive(bytes))
        guard case .connectionClose(let reason) = sent.first?.method else { Issue.record("expected a close, got \(sent)"); return }
        #expect(reason.replyCode == 505)

        // Garbage: a frame error, and the socket is closed right away.
        var garbage = FakeBroker()
        garbage.handshake()
        let actions = garbage.receive(ByteBuffer(bytes: [9, 9, 9, 9, 9, 9, 9, 9]))
        sent = garbage.sentMethods(actions)
        guard case .connectionClose(let frameError) = sent.first?.method else { Issue.record("expected a close, got \(sent)"); return }
        #expect(frameError.replyCode == 501)
        #expect(actions.closesTransport)
        #expect(garbage.run { $0.transportClosed(now: $1) }.disconnectReasons.first.map { if case .protocolError = $0 { true } else { false } } == true)

        // A method of a class we do not implement.
        var unknown = FakeBroker()
        unknown.handshake()
        sent = unknown.sentMethods(unknown.receive(ByteBuffer(bytes: [1, 0, 1, 0, 0, 0, 4, 0, 85, 0, 10, 0xCE])))
        guard case .connectionClose(let notImplemented) = sent.first?.method else { Issue.record("expected a close, got \(sent)"); return }
        #expect(notImplemented.replyCode == 540)
    }
}

extension FakeBroker {
    /// Resets the byte reader for a new connection of the same machine.
    static func continuing(_ broker: FakeBroker) -> FakeBroker {
        var next = FakeBroker(settings: broker.machine.settings)
        next.machine = broker.machine
        next.now = broker.now
        _ = next.sentFrames(next.run { $0.transportOpened(now: $1) })
        return next
    }
}
