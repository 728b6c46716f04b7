import NIOCore

/// The methods of AMQP 0-9-1 (section 1 of the spec's XML) that a queue consumer sends or receives, with
/// their arguments. Anything else the broker sends decodes as `.unsupported` (answered 540 not-implemented).
public enum AMQPMethod: Equatable, Sendable {
    case connectionStart(versionMajor: UInt8, versionMinor: UInt8, serverProperties: AMQPFieldTable, mechanisms: String, locales: String)
    case connectionStartOk(clientProperties: AMQPFieldTable, mechanism: String, response: [UInt8], locale: String)
    case connectionSecure(challenge: [UInt8])
    case connectionTune(channelMax: UInt16, frameMax: UInt32, heartbeat: UInt16)
    case connectionTuneOk(channelMax: UInt16, frameMax: UInt32, heartbeat: UInt16)
    case connectionOpen(virtualHost: String)
    case connectionOpenOk
    case connectionClose(AMQPCloseReason)
    case connectionCloseOk
    case connectionBlocked(reason: String)
    case connectionUnblocked
    case channelOpen
    case channelOpenOk
    case channelFlow(active: Bool)
    case channelFlowOk(active: Bool)
    case channelClose(AMQPCloseReason)
    case channelCloseOk
    case queueDeclare(queue: String, passive: Bool, durable: Bool, exclusive: Bool, autoDelete: Bool, noWait: Bool, arguments: AMQPFieldTable)
    case queueDeclareOk(queue: String, messageCount: UInt32, consumerCount: UInt32)
    case basicQos(prefetchSize: UInt32, prefetchCount: UInt16, global: Bool)
    case basicQosOk
    case basicConsume(queue: String, consumerTag: String, noLocal: Bool, noAck: Bool, exclusive: Bool, noWait: Bool, arguments: AMQPFieldTable)
    case basicConsumeOk(consumerTag: String)
    case basicCancel(consumerTag: String, noWait: Bool)
    case basicCancelOk(consumerTag: String)
    case basicPublish(exchange: String, routingKey: String, mandatory: Bool, immediate: Bool)
    case basicDeliver(consumerTag: String, deliveryTag: UInt64, redelivered: Bool, exchange: String, routingKey: String)
    case basicAck(deliveryTag: UInt64, multiple: Bool)
    case basicReject(deliveryTag: UInt64, requeue: Bool)
    case basicNack(deliveryTag: UInt64, multiple: Bool, requeue: Bool)
    /// A method this client does not implement.
    case unsupported(classID: UInt16, methodID: UInt16)

    // MARK: Identifiers

    /// (class id, method id) on the wire.
    public var identifier: (classID: UInt16, methodID: UInt16) {
        switch self {
        case .connectionStart: (10, 10)
        case .connectionStartOk: (10, 11)
        case .connectionSecure: (10, 20)
        case .connectionTune: (10, 30)
        case .connectionTuneOk: (10, 31)
        case .connectionOpen: (10, 40)
        case .connectionOpenOk: (10, 41)
        case .connectionClose: (10, 50)
        case .connectionCloseOk: (10, 51)
        case .connectionBlocked: (10, 60)
        case .connectionUnblocked: (10, 61)
        case .channelOpen: (20, 10)
        case .channelOpenOk: (20, 11)
        case .channelFlow: (20, 20)
        case .channelFlowOk: (20, 21)
        case .channelClose: (20, 40)
        case .channelCloseOk: (20, 41)
        case .queueDeclare: (50, 10)
        case .queueDeclareOk: (50, 11)
        case .basicQos: (60, 10)
        case .basicQosOk: (60, 11)
        case .basicConsume: (60, 20)
        case .basicConsumeOk: (60, 21)
        case .basicCancel: (60, 30)
        case .basicCancelOk: (60, 31)
        case .basicPublish: (60, 40)
        case .basicDeliver: (60, 60)
        case .basicAck: (60, 80)
        case .basicReject: (60, 90)
        case .basicNack: (60, 120)
        case .unsupported(let classID, let methodID): (classID, methodID)
        }
    }

    // MARK: Decoding

    /// Reads a method frame's payload; every byte must belong to the method.
    public static func decode(_ payload: ByteBuffer) throws(AMQPDecodingError) -> AMQPMethod {
        var p = payload
        let classID: UInt16 = try p.readAMQPInteger("method class")
        let methodID: UInt16 = try p.readAMQPInteger("method id")
        let what = "method \(classID).\(methodID)"
        let method: AMQPMethod
        switch (classID, methodID) {
        case (10, 10):
            method = .connectionStart(
                versionMajor: try p.readAMQPInteger(what), versionMinor: try p.readAMQPInteger(what),
                serverProperties: try p.readFieldTable(what), mechanisms: try p.readLongString(what), locales: try p.readLongString(what))
        case (10, 11):
            method = .connectionStartOk(
                clientProperties: try p.readFieldTable(what), mechanism: try p.readShortString(what),
                response: try p.readLongBytes(what), locale: try p.readShortString(what))
        case (10, 20):
            method = .connectionSecure(challenge: try p.readLongBytes(what))
        case (10, 30), (10, 31):
            let channelMax: UInt16 = try p.readAMQPInteger(what)
            let frameMax: UInt32 = try p.readAMQPInteger(what)
            let heartbeat: UInt16 = try p.readAMQPInteger(what)
            method = methodID == 30
                ? .connectionTune(channelMax: channelMax, frameMax: frameMax, heartbeat: heartbeat)
                : .connectionTuneOk(channelMax: channelMax, frameMax: frameMax, heartbeat: heartbeat)
        case (10, 40):
            let host = try p.readShortString(what)
            _ = try p.readShortString(what)  // reserved-1 (capabilities)
            _ = try p.readAMQPInteger(what, as: UInt8.self)  // reserved-2 (insist)
            method = .connectionOpen(virtualHost: host)
        case (10, 41):
            _ = try p.readShortString(what)  // reserved-1 (known-hosts)
            method = .connectionOpenOk
        case (10, 50):
            method = .connectionClose(try p.readCloseReason(what))
        case (10, 51):
            method = .connectionCloseOk
        case (10, 60):
            method = .connectionBlocked(reason: try p.readShortString(what))
        case (10, 61):
            method = .connectionUnblocked
        case (20, 10):
            _ = try p.readShortString(what)  // reserved-1 (out-of-band)
            method = .channelOpen
        case (20, 11):
            _ = try p.readLongBytes(what)  // reserved-1 (channel-id)
            method = .channelOpenOk
        case (20, 20):
            method = .channelFlow(active: AMQPBits(octet: try p.readAMQPInteger(what)).bit(0))
        case (20, 21):
            method = .channelFlowOk(active: AMQPBits(octet: try p.readAMQPInteger(what)).bit(0))
        case (20, 40):
            method = .channelClose(try p.readCloseReason(what))
        case (20, 41):
            method = .channelCloseOk
        case (50, 10):
            _ = try p.readAMQPInteger(what, as: UInt16.self)  // reserved-1 (ticket)
            let queue = try p.readShortString(what)
            let bits = AMQPBits(octet: try p.readAMQPInteger(what))
            method = .queueDeclare(
                queue: queue, passive: bits.bit(0), durable: bits.bit(1), exclusive: bits.bit(2), autoDelete: bits.bit(3), noWait: bits.bit(4),
                arguments: try p.readFieldTable(what))
        case (50, 11):
            method = .queueDeclareOk(queue: try p.readShortString(what), messageCount: try p.readAMQPInteger(what), consumerCount: try p.readAMQPInteger(what))
        case (60, 10):
            method = .basicQos(
                prefetchSize: try p.readAMQPInteger(what), prefetchCount: try p.readAMQPInteger(what),
                global: AMQPBits(octet: try p.readAMQPInteger(what)).bit(0))
        case (60, 11):
            method = .basicQosOk
        case (60, 20):
            _ = try p.readAMQPInteger(what, as: UInt16.self)  // reserved-1 (ticket)
            let queue = try p.readShortString(what)
            let tag = try p.readShortString(what)
            let bits = AMQPBits(octet: try p.readAMQPInteger(what))
            method = .basicConsume(
                queue: queue, consumerTag: tag, noLocal: bits.bit(0), noAck: bits.bit(1), exclusive: bits.bit(2), noWait: bits.bit(3),
                arguments: try p.readFieldTable(what))
        case (60, 21):
            method = .basicConsumeOk(consumerTag: try p.readShortString(what))
        case (60, 30):
            method = .basicCancel(consumerTag: try p.readShortString(what), noWait: AMQPBits(octet: try p.readAMQPInteger(what)).bit(0))
        case (60, 31):
            method = .basicCancelOk(consumerTag: try p.readShortString(what))
        case (60, 40):
            _ = try p.readAMQPInteger(what, as: UInt16.self)  // reserved-1 (ticket)
            let exchange = try p.readShortString(what)
            let key = try p.readShortString(what)
            let bits = AMQPBits(octet: try p.readAMQPInteger(what))
            method = .basicPublish(exchange: exchange, routingKey: key, mandatory: bits.bit(0), immediate: bits.bit(1))
        case (60, 60):
            method = .basicDeliver(
                consumerTag: try p.readShortString(what), deliveryTag: try p.readAMQPInteger(what),
                redelivered: AMQPBits(octet: try p.readAMQPInteger(what)).bit(0),
                exchange: try p.readShortString(what), routingKey: try p.readShortString(what))
        case (60, 80):
            method = .basicAck(deliveryTag: try p.readAMQPInteger(what), multiple: AMQPBits(octet: try p.readAMQPInteger(what)).bit(0))
        case (60, 90):
            method = .basicReject(deliveryTag: try p.readAMQPInteger(what), requeue: AMQPBits(octet: try p.readAMQPInteger(what)).bit(0))
        case (60, 120):
            let tag: UInt64 = try p.readAMQPInteger(what)
            let bits = AMQPBits(octet: try p.readAMQPInteger(what))
            method = .basicNack(deliveryTag: tag, multiple: bits.bit(0), requeue: bits.bit(1))
        default:
            return .unsupported(classID: classID, methodID: methodID)
        }
        guard p.readableBytes == 0 else { throw .trailingBytes(what) }
        return method
    }

    // MARK: Encoding

    /// Appends this method as a whole method frame on `channel`.
    public func encode(channel: UInt16, into buffer: inout ByteBuffer) {
        AMQPFrame.encode(kind: .method, channel: channel, into: &buffer) { self.writeArguments(into: &$0) }
    }

    private func writeArguments(into b: inout ByteBuffer) {
        let (classID, methodID) = identifier
        b.writeBigEndian(classID)
        b.writeBigEndian(methodID)
        switch self {
        case .connectionStart(let major, let minor, let properties, let mechanisms, let locales):
            b.writeInteger(major)
            b.writeInteger(minor)
            b.writeFieldTable(properties)
            b.writeLongString(mechanisms)
            b.writeLongString(locales)
        case .connectionStartOk(let properties, let mechanism, let response, let locale):
            b.writeFieldTable(properties)
            b.writeShortString(mechanism)
            b.writeLongBytes(response)
            b.writeShortString(locale)
        case .connectionSecure(let challenge):
            b.writeLongBytes(challenge)
        case .connectionTune(let channelMax, let frameMax, let heartbeat), .connectionTuneOk(let channelMax, let frameMax, let heartbeat):
            b.writeBigEndian(channelMax)
            b.writeBigEndian(frameMax)
            b.writeBigEndian(heartbeat)
        case .connectionOpen(let host):
            b.writeShortString(host)
            b.writeShortString("")
            b.writeBits(false)
        case .connectionOpenOk:
            b.writeShortString("")
        case .connectionClose(let reason), .channelClose(let reason):
            b.writeBigEndian(reason.replyCode)
            b.writeShortString(reason.replyText)
            b.writeBigEndian(reason.classID)
            b.writeBigEndian(reason.methodID)
        case .connectionCloseOk, .connectionUnblocked, .channelCloseOk, .basicQosOk, .unsupported:
            break
        case .connectionBlocked(let reason):
            b.writeShortString(reason)
        case .channelOpen:
            b.writeShortString("")
        case .channelOpenOk:
            b.writeLongBytes([])
        case .channelFlow(let active), .channelFlowOk(let active):
            b.writeBits(active)
        case .queueDeclare(let queue, let passive, let durable, let exclusive, let autoDelete, let noWait, let arguments):
            b.writeBigEndian(UInt16(0))
            b.writeShortString(queue)
            b.writeBits(passive, durable, exclusive, autoDelete, noWait)
            b.writeFieldTable(arguments)
        case .queueDeclareOk(let queue, let messages, let consumers):
            b.writeShortString(queue)
            b.writeBigEndian(messages)
            b.writeBigEndian(consumers)
        case .basicQos(let size, let count, let global):
            b.writeBigEndian(size)
            b.writeBigEndian(count)
            b.writeBits(global)
        case .basicConsume(let queue, let tag, let noLocal, let noAck, let exclusive, let noWait, let arguments):
            b.writeBigEndian(UInt16(0))
            b.writeShortString(queue)
            b.writeShortString(tag)
            b.writeBits(noLocal, noAck, exclusive, noWait)
            b.writeFieldTable(arguments)
        case .basicConsumeOk(let tag), .basicCancelOk(let tag):
            b.writeShortString(tag)
        case .basicCancel(let tag, let noWait):
            b.writeShortString(tag)
            b.writeBits(noWait)
        case .basicPublish(let exchange, let key, let mandatory, let immediate):
            b.writeBigEndian(UInt16(0))
            b.writeShortString(exchange)
            b.writeShortString(key)
            b.writeBits(mandatory, immediate)
        case .basicDeliver(let tag, let deliveryTag, let redelivered, let exchange, let key):
            b.writeShortString(tag)
            b.writeBigEndian(deliveryTag)
            b.writeBits(redelivered)
            b.writeShortString(exchange)
            b.writeShortString(key)
        case .basicAck(let tag, let multiple):
            b.writeBigEndian(tag)
            b.writeBits(multiple)
        case .basicReject(let tag, let requeue):
            b.writeBigEndian(tag)
            b.writeBits(requeue)
        case .basicNack(let tag, let multiple, let requeue):
            b.writeBigEndian(tag)
            b.writeBits(multiple, requeue)
        }
    }
}

extension ByteBuffer {
    fileprivate mutating func readCloseReason(_ what: String) throws(AMQPDecodingError) -> AMQPCloseReason {
        AMQPCloseReason(
            replyCode: try readAMQPInteger(what), replyText: try readShortString(what),
            classID: try readAMQPInteger(what), methodID: try readAMQPInteger(what))
    }
}
