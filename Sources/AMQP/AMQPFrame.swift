import NIOCore

/// One AMQP 0-9-1 frame (section 4.2.3): type, channel, payload, then the frame-end octet 0xCE.
public struct AMQPFrame: Equatable, Sendable {
    /// The four frame types of AMQP 0-9-1.
    public enum Kind: UInt8, Sendable {
        case method = 1
        case header = 2
        case body = 3
        case heartbeat = 8
    }

    /// The protocol header a client opens the connection with: "AMQP" 0 0 9 1.
    public static let protocolHeader: [UInt8] = [0x41, 0x4D, 0x51, 0x50, 0, 0, 9, 1]
    /// The octet after every frame's payload.
    public static let frameEnd: UInt8 = 0xCE
    /// Bytes around a payload: type, channel, size, frame end.
    public static let overhead = 8

    public var kind: Kind
    public var channel: UInt16
    public var payload: ByteBuffer

    public init(kind: Kind, channel: UInt16, payload: ByteBuffer) {
        self.kind = kind
        self.channel = channel
        self.payload = payload
    }

    /// Appends the whole frame to `buffer`.
    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeInteger(kind.rawValue)
        buffer.writeBigEndian(channel)
        buffer.writeBigEndian(UInt32(payload.readableBytes))
        var payload = payload
        buffer.writeBuffer(&payload)
        buffer.writeInteger(Self.frameEnd)
    }

    /// Appends a frame whose payload `writePayload` writes in place (no intermediate buffer).
    static func encode(kind: Kind, channel: UInt16, into buffer: inout ByteBuffer, _ writePayload: (inout ByteBuffer) -> Void) {
        buffer.writeInteger(kind.rawValue)
        buffer.writeBigEndian(channel)
        let sizeIndex = buffer.writerIndex
        buffer.writeInteger(UInt32(0))
        writePayload(&buffer)
        buffer.setInteger(UInt32(buffer.writerIndex - sizeIndex - 4), at: sizeIndex, endianness: .big)
        buffer.writeInteger(Self.frameEnd)
    }

    /// Appends a heartbeat frame (channel 0, empty payload).
    public static func encodeHeartbeat(into buffer: inout ByteBuffer) {
        buffer.writeBytes([Kind.heartbeat.rawValue, 0, 0, 0, 0, 0, 0, frameEnd])
    }
}
