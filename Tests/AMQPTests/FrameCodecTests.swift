import AMQP
import NIOCore
import Testing

@Suite("AMQP frame codec")
struct FrameCodecTests {
    static let methods: [AMQPMethod] = [
        FakeBroker.start,
        .connectionStartOk(clientProperties: ["product": .string("RocketWS")], mechanism: "PLAIN", response: [0, 117, 0, 112], locale: "en_US"),
        .connectionSecure(challenge: [1, 2, 3]),
        .connectionTune(channelMax: 2047, frameMax: 131_072, heartbeat: 60),
        .connectionTuneOk(channelMax: 1, frameMax: 4096, heartbeat: 30),
        .connectionOpen(virtualHost: "/"),
        .connectionOpenOk,
        .connectionClose(AMQPCloseReason(replyCode: 320, replyText: "CONNECTION_FORCED - broker forced connection closure", classID: 0, methodID: 0)),
        .connectionCloseOk,
        .connectionBlocked(reason: "low on memory"),
        .connectionUnblocked,
        .channelOpen, .channelOpenOk,
        .channelFlow(active: true), .channelFlowOk(active: false),
        .channelClose(AMQPCloseReason(replyCode: 406, replyText: "PRECONDITION_FAILED", classID: 50, methodID: 10)),
        .channelCloseOk,
        .queueDeclare(queue: "rocketws", passive: false, durable: true, exclusive: false, autoDelete: true, noWait: false, arguments: ["x-message-ttl": .int32(3_600_000)]),
        .queueDeclareOk(queue: "rocketws", messageCount: 7, consumerCount: 2),
        .basicQos(prefetchSize: 0, prefetchCount: 256, global: false), .basicQosOk,
        .basicConsume(queue: "rocketws", consumerTag: "", noLocal: false, noAck: false, exclusive: true, noWait: false, arguments: [:]),
        .basicConsumeOk(consumerTag: "amq.ctag-x"),
        .basicCancel(consumerTag: "amq.ctag-x", noWait: true), .basicCancelOk(consumerTag: "amq.ctag-x"),
        .basicPublish(exchange: "", routingKey: "rocketws", mandatory: true, immediate: false),
        .basicDeliver(consumerTag: "amq.ctag-x", deliveryTag: 1 << 40, redelivered: true, exchange: "ex", routingKey: "rk"),
        .basicAck(deliveryTag: 42, multiple: true),
        .basicReject(deliveryTag: 43, requeue: true),
        .basicNack(deliveryTag: 44, multiple: false, requeue: true),
    ]

    @Test("every method survives encode and decode", arguments: methods)
    func methodRoundTrip(_ method: AMQPMethod) throws {
        var bytes = ByteBuffer()
        method.encode(channel: 3, into: &bytes)
        var decoder = AMQPFrameDecoder(maxPayloadBytes: 1 << 16)
        decoder.append(bytes)
        let frame = try #require(try decoder.next())
        #expect(frame.kind == .method && frame.channel == 3)
        #expect(try AMQPMethod.decode(frame.payload) == method)
        #expect(decoder.bufferedBytes == 0)
    }

    @Test("basic.ack is the bytes of the spec")
    func ackBytes() {
        var bytes = ByteBuffer()
        AMQPMethod.basicAck(deliveryTag: 5, multiple: false).encode(channel: 1, into: &bytes)
        #expect(Array(bytes.readableBytesView) == [1, 0, 1, 0, 0, 0, 13, 0, 60, 0, 80, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0xCE])
    }

    @Test("x-message-ttl is a signed 32-bit field, as the original declared it")
    func ttlTableBytes() {
        var bytes = ByteBuffer()
        AMQPMethod.queueDeclare(queue: "q", passive: false, durable: true, exclusive: false, autoDelete: false, noWait: false, arguments: ["x-message-ttl": .int32(3_600_000)])
            .encode(channel: 1, into: &bytes)
        let payload = Array(bytes.readableBytesView.dropFirst(7).dropLast())
        // class 50, method 10, ticket 0, "q", bits (durable), table of 19 bytes
        #expect(payload.prefix(10) == [0, 50, 0, 10, 0, 0, 1, UInt8(ascii: "q"), 0b10, 0])
        #expect(payload.dropFirst(9).prefix(4) == [0, 0, 0, 19])
        #expect(payload.suffix(5) == [UInt8(ascii: "I"), 0x00, 0x36, 0xEE, 0x80])
    }

    @Test("field tables of every value type round-trip, nested")
    func fieldTables() throws {
        let table: AMQPFieldTable = [
            "t": .bool(true), "b": .int8(-3), "B": .uint8(250), "s": .int16(-300), "u": .uint16(60000), "I": .int32(-70000),
            "i": .uint32(4_000_000_000), "l": .int64(-1 << 40), "f": .float(bitPattern: Float(1.5).bitPattern),
            "d": .double(bitPattern: Double.nan.bitPattern), "D": .decimal(scale: 2, value: 314), "S": .string("héllo"),
            "x": .bytes([0, 255]), "T": .timestamp(1_700_000_000), "V": .void,
            "A": .array([.int32(1), .string("two"), .array([.void])]), "F": .table(["inner": .table(["deep": .bool(false)])]),
        ]
        let method = AMQPMethod.connectionStart(versionMajor: 0, versionMinor: 9, serverProperties: table, mechanisms: "PLAIN", locales: "en_US")
        var bytes = ByteBuffer()
        method.encode(channel: 0, into: &bytes)
        var decoder = AMQPFrameDecoder(maxPayloadBytes: 1 << 16)
        decoder.append(bytes)
        let decoded = try AMQPMethod.decode(try #require(try decoder.next()).payload)
        #expect(decoded == method)
        guard case .connectionStart(_, _, let properties, _, _) = decoded else { Issue.record("not a start"); return }
        #expect(properties["S"] == .string("héllo"))
        #expect(properties.entries.map(\.name) == table.entries.map(\.name))
    }

    @Test("frames fed one byte at a time come out whole and in order")
    func byteAtATime() throws {
        var stream = FakeBroker.delivery(tag: 9, body: Array(0..<200).map { UInt8($0) }, frameSize: 64)
        AMQPFrame.encodeHeartbeat(into: &stream)
        var decoder = AMQPFrameDecoder(maxPayloadBytes: 4096)
        var frames: [AMQPFrame] = []
        while let byte = stream.readSlice(length: 1) {
            decoder.append(byte)
            while let frame = try decoder.next() { frames.append(frame) }
        }
        #expect(frames.map(\.kind) == [.method, .header, .body, .body, .body, .body, .heartbeat])
        #expect(frames.filter { $0.kind == .body }.map(\.payload.readableBytes) == [64, 64, 64, 8])
        let header = try AMQPContentHeader.decode(frames[1].payload)
        #expect(header.bodySize == 200 && header.classID == 60)
    }

    @Test("broken streams are refused with the reply code to close with")
    func decodingErrors() throws {
        func firstError(_ bytes: [UInt8], limit: Int = 4096) -> AMQPDecodingError? {
            var decoder = AMQPFrameDecoder(maxPayloadBytes: limit)
            decoder.append(ByteBuffer(bytes: bytes))
            do {
                while try decoder.next() != nil {}
                return nil
            } catch {
                return error
            }
        }
        #expect(firstError([1, 0, 0, 0, 0, 0, 4, 0, 10, 0, 41, 0xCD]) == .badFrameEnd(0xCD))
        #expect(firstError([7, 0, 0, 0, 0, 0, 0, 0xCE]) == .unknownFrameType(7))
        #expect(firstError([3, 0, 1, 0, 0, 0x20, 0, 0], limit: 4096) == .frameTooLarge(8192, limit: 4096))
        #expect(firstError(Array("AMQP".utf8) + [0, 0, 9, 1]) == .protocolHeader)
        #expect(firstError(Array("AMQP".utf8)) == .protocolHeader)
        #expect(firstError([8, 0, 1, 0, 0, 0, 0, 0xCE]) == .badHeartbeat)
        #expect(firstError([1, 0, 0, 0, 0, 0, 4]) == nil)  // incomplete: waits for more
        #expect(AMQPDecodingError.badFrameEnd(0).replyCode == 501)

        func methodError(_ payload: [UInt8]) -> AMQPDecodingError? {
            do {
                _ = try AMQPMethod.decode(ByteBuffer(bytes: payload))
                return nil
            } catch {
                return error
            }
        }
        #expect(methodError([0, 10, 0, 30, 0, 1]) == .truncated("method 10.30"))
        #expect(methodError([0, 60, 0, 80, 0, 0, 0, 0, 0, 0, 0, 1, 0, 99]) == .trailingBytes("method 60.80"))
        #expect(methodError([0, 10, 0, 10, 0, 9, 0, 0, 0, 3, 1, UInt8(ascii: "k"), UInt8(ascii: "?")]) == .unknownFieldType(UInt8(ascii: "?")))
        #expect(methodError([0, 10, 0, 10, 0, 9, 0, 0, 0, 200]) == .truncated("method 10.10"))
        #expect(try AMQPMethod.decode(ByteBuffer(bytes: [0, 60, 0, 111])) == .unsupported(classID: 60, methodID: 111))
        #expect(methodError([0, 10]) == .truncated("method id"))
        #expect(AMQPDecodingError.truncated("x").replyCode == 502)

        // Tables nested past the limit.
        var deep = ByteBuffer()
        var table: AMQPFieldTable = ["end": .void]
        for _ in 0..<AMQPFieldTable.maxDepth { table = ["n": .table(table)] }
        AMQPMethod.connectionStart(versionMajor: 0, versionMinor: 9, serverProperties: table, mechanisms: "", locales: "").encode(channel: 0, into: &deep)
        var decoder = AMQPFrameDecoder(maxPayloadBytes: 1 << 16)
        decoder.append(deep)
        let frame = try #require(try decoder.next())
        #expect(throws: AMQPDecodingError.nestingTooDeep) { try AMQPMethod.decode(frame.payload) }
    }

    @Test("a content header keeps its properties and body size")
    func contentHeader() throws {
        let header = AMQPContentHeader(bodySize: 1 << 33, properties: ByteBuffer(bytes: [0x10, 0, 2]))  // delivery-mode 2
        var bytes = ByteBuffer()
        header.encode(channel: 1, into: &bytes)
        var decoder = AMQPFrameDecoder(maxPayloadBytes: 4096)
        decoder.append(bytes)
        let frame = try #require(try decoder.next())
        #expect(frame.kind == .header)
        #expect(try AMQPContentHeader.decode(frame.payload) == header)
        #expect(throws: AMQPDecodingError.truncated("content header")) { try AMQPContentHeader.decode(ByteBuffer(bytes: [0, 60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])) }
    }
}
