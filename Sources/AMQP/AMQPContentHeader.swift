import NIOCore

/// A content header frame's payload (section 4.2.6.1): the body's class and size, then properties. A
/// consumer needs the size only; the properties are kept as raw bytes.
public struct AMQPContentHeader: Equatable, Sendable {
    public var classID: UInt16
    public var bodySize: UInt64
    /// The property flags words and property list, undecoded.
    public var properties: ByteBuffer

    public init(classID: UInt16 = 60, bodySize: UInt64, properties: ByteBuffer = ByteBuffer(bytes: [0, 0])) {
        self.classID = classID
        self.bodySize = bodySize
        self.properties = properties
    }

    public static func decode(_ payload: ByteBuffer) throws(AMQPDecodingError) -> AMQPContentHeader {
        var p = payload
        let classID: UInt16 = try p.readAMQPInteger("content header")
        _ = try p.readAMQPInteger("content header", as: UInt16.self)  // weight, always 0
        let size: UInt64 = try p.readAMQPInteger("content header")
        guard p.readableBytes >= 2 else { throw .truncated("content header") }
        return AMQPContentHeader(classID: classID, bodySize: size, properties: p)
    }

    /// Appends the whole header frame on `channel`.
    public func encode(channel: UInt16, into buffer: inout ByteBuffer) {
        AMQPFrame.encode(kind: .header, channel: channel, into: &buffer) { b in
            b.writeBigEndian(classID)
            b.writeBigEndian(UInt16(0))
            b.writeBigEndian(bodySize)
            var properties = properties
            b.writeBuffer(&properties)
        }
    }
}
