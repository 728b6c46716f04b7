import NIOCore

/// Cuts a byte stream from the broker into frames. Bytes arrive in any chunking; a frame is returned once all
/// of it is there. Payloads are slices of the received bytes (not copied). After an error the stream is
/// broken: the connection must be closed.
public struct AMQPFrameDecoder: Sendable {
    /// Largest payload accepted (the negotiated frame-max less the 8 bytes of framing).
    public var maxPayloadBytes: Int
    private var buffer: ByteBuffer?
    private var atStreamStart = true

    public init(maxPayloadBytes: Int) {
        self.maxPayloadBytes = maxPayloadBytes
    }

    /// Bytes received and not yet returned as frames.
    public var bufferedBytes: Int { buffer?.readableBytes ?? 0 }

    /// Adds received bytes.
    public mutating func append(_ bytes: ByteBuffer) {
        if buffer == nil || buffer!.readableBytes == 0 {
            buffer = bytes
        } else {
            var bytes = bytes
            buffer!.writeBuffer(&bytes)
        }
    }

    /// The next complete frame, or nil when more bytes are needed.
    public mutating func next() throws(AMQPDecodingError) -> AMQPFrame? {
        guard var view = buffer, view.readableBytes >= 7 else {
            try checkProtocolHeaderPrefix()
            return nil
        }
        let type: UInt8 = view.readInteger()!
        let channel: UInt16 = view.readInteger(endianness: .big)!
        let size = Int(view.readInteger(endianness: .big, as: UInt32.self)!)
        guard let kind = AMQPFrame.Kind(rawValue: type) else {
            if atStreamStart, buffer!.readableBytesView.starts(with: AMQPFrame.protocolHeader.prefix(4)) { throw .protocolHeader }
            throw .unknownFrameType(type)
        }
        guard size <= maxPayloadBytes else { throw .frameTooLarge(size, limit: maxPayloadBytes) }
        guard view.readableBytes >= size + 1 else { return nil }
        let payload = view.readSlice(length: size)!
        let end: UInt8 = view.readInteger()!
        guard end == AMQPFrame.frameEnd else { throw .badFrameEnd(end) }
        if kind == .heartbeat, channel != 0 || size != 0 { throw .badHeartbeat }
        atStreamStart = false
        buffer = view.readableBytes == 0 ? nil : view
        if buffer != nil, buffer!.readerIndex > 1 << 16, buffer!.readableBytes < 1 << 12 {
            buffer!.discardReadBytes()  // a long-lived buffer does not keep everything ever read
        }
        return AMQPFrame(kind: kind, channel: channel, payload: payload)
    }

    /// A broker that refuses our version answers with "AMQP" and its own version, which is shorter than a
    /// frame header: recognise it as soon as its first bytes are there.
    private mutating func checkProtocolHeaderPrefix() throws(AMQPDecodingError) {
        guard atStreamStart, let buffer, buffer.readableBytes >= 4 else { return }
        if buffer.readableBytesView.starts(with: AMQPFrame.protocolHeader.prefix(4)) { throw .protocolHeader }
    }
}
