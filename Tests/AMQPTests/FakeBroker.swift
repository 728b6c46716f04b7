import AMQP
import NIOCore
import Testing

/// The broker's side of a conversation with `AMQPConsumerStateMachine`, in bytes: builds what a broker sends
/// and reads back what the machine sent.
struct FakeBroker {
    var machine: AMQPConsumerStateMachine
    var now = NIODeadline.uptimeNanoseconds(1_000_000_000)
    /// Every action the machine returned, in order.
    var log: [AMQPConsumerAction] = []
    private var outbound = AMQPFrameDecoder(maxPayloadBytes: 1 << 20)
    private var sawHeader = false

    init(settings: AMQPConsumerSettings = FakeBroker.settings()) {
        machine = AMQPConsumerStateMachine(settings: settings)
    }

    static func settings(queue: String = "rocketws") -> AMQPConsumerSettings {
        var settings = AMQPConsumerSettings(url: AMQPURL(host: "127.0.0.1", user: "user", password: "pass", virtualHost: "vh"), queue: queue)
        settings.prefetch = 256
        settings.messageTTLMilliseconds = 3_600_000
        return settings
    }

    mutating func advance(_ amount: TimeAmount) { now = now + amount }

    @discardableResult
    mutating func run(_ event: (inout AMQPConsumerStateMachine, NIODeadline) -> [AMQPConsumerAction]) -> [AMQPConsumerAction] {
        let actions = event(&machine, now)
        log += actions
        return actions
    }

    /// Sends frames from the broker; returns the machine's actions.
    @discardableResult
    mutating func send(_ methods: [(UInt16, AMQPMethod)]) -> [AMQPConsumerAction] {
        var bytes = ByteBuffer()
        for (channel, method) in methods { method.encode(channel: channel, into: &bytes) }
        return receive(bytes)
    }

    @discardableResult
    mutating func send(_ method: AMQPMethod, channel: UInt16 = 0) -> [AMQPConsumerAction] {
        send([(channel, method)])
    }

    @discardableResult
    mutating func receive(_ bytes: ByteBuffer) -> [AMQPConsumerAction] {
        run { $0.bytesReceived(bytes, now: $1) }
    }

    /// Frames inside the `.send` actions of `actions` (the protocol header is skipped).
    mutating func sentFrames(_ actions: [AMQPConsumerAction]) -> [AMQPFrame] {
        var frames: [AMQPFrame] = []
        for case .send(var bytes) in actions {
            if bytes.readableBytesView.starts(with: AMQPFrame.protocolHeader) {
                bytes.moveReaderIndex(forwardBy: 8)
                sawHeader = true
            }
            outbound.append(bytes)
            while let frame = try! outbound.next() { frames.append(frame) }
        }
        return frames
    }

    /// The methods sent in `actions`, with their channels.
    mutating func sentMethods(_ actions: [AMQPConsumerAction]) -> [(channel: UInt16, method: AMQPMethod)] {
        sentFrames(actions).filter { $0.kind == .method }.map { ($0.channel, try! AMQPMethod.decode($0.payload)) }
    }

    static let start = AMQPMethod.connectionStart(
        versionMajor: 0, versionMinor: 9, serverProperties: ["product": .string("RabbitMQ"), "capabilities": .table(["basic.nack": .bool(true)])],
        mechanisms: "AMQPLAIN PLAIN", locales: "en_US")

    /// Start, transport, and the broker's half of the handshake up to consume-ok.
    mutating func handshake(frameMax: UInt32 = 131_072, heartbeat: UInt16 = 60, messages: UInt32 = 0) {
        run { $0.start(now: $1) }
        _ = sentFrames(run { $0.transportOpened(now: $1) })
        send(Self.start)
        send(.connectionTune(channelMax: 2047, frameMax: frameMax, heartbeat: heartbeat))
        send(.connectionOpenOk)
        send(.channelOpenOk, channel: 1)
        send(.queueDeclareOk(queue: machine.settings.queue, messageCount: messages, consumerCount: 0), channel: 1)
        send(.basicQosOk, channel: 1)
        send(.basicConsumeOk(consumerTag: "amq.ctag-1"), channel: 1)
        _ = sentFrames(log)
        #expect(machine.isConsuming)
    }

    /// A delivery's frames: deliver, header, and the body cut into frames of `frameSize` bytes.
    static func delivery(tag: UInt64, body: [UInt8], frameSize: Int = 131_064, redelivered: Bool = false) -> ByteBuffer {
        var bytes = ByteBuffer()
        AMQPMethod.basicDeliver(consumerTag: "amq.ctag-1", deliveryTag: tag, redelivered: redelivered, exchange: "", routingKey: "rocketws")
            .encode(channel: 1, into: &bytes)
        AMQPContentHeader(bodySize: UInt64(body.count)).encode(channel: 1, into: &bytes)
        var offset = 0
        while offset < body.count {
            let end = min(offset + frameSize, body.count)
            AMQPFrame(kind: .body, channel: 1, payload: ByteBuffer(bytes: body[offset..<end])).encode(into: &bytes)
            offset = end
        }
        return bytes
    }
}

extension Array where Element == AMQPConsumerAction {
    var deliveries: [AMQPDelivery] { compactMap { if case .deliver(let d) = $0 { d } else { nil } } }
    var closesTransport: Bool { contains { if case .closeTransport = $0 { true } else { false } } }
    var disconnectReasons: [AMQPDisconnectReason] { compactMap { if case .disconnected(let r) = $0 { r } else { nil } } }
    var reconnectDelays: [TimeAmount] { compactMap { if case .scheduleReconnect(let d) = $0 { d } else { nil } } }
    var stops: Bool { contains { if case .stopped = $0 { true } else { false } } }
    var ticks: [NIODeadline] { compactMap { if case .scheduleTick(let at) = $0 { at } else { nil } } }
}
