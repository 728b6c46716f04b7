import NIOCore

/// Server-to-client WebSocket frames written directly as bytes (RFC 6455 section 5.2): FIN set, no mask.
/// Writing pre-encoded frames lets one buffer be shared by every subscriber.
public enum WebSocketFrameBytes {
    /// Writes a FIN frame header with `opcode` and `payloadLength`.
    public static func writeHeader(opcode: UInt8, payloadLength: Int, into buffer: inout ByteBuffer) {
        buffer.writeInteger(0x80 | opcode)
        if payloadLength < 126 {
            buffer.writeInteger(UInt8(payloadLength))
        } else if payloadLength <= Int(UInt16.max) {
            buffer.writeInteger(UInt8(126))
            buffer.writeInteger(UInt16(payloadLength))
        } else {
            buffer.writeInteger(UInt8(127))
            buffer.writeInteger(UInt64(payloadLength))
        }
    }

    /// A complete text frame holding `payload`.
    public static func text(_ payload: [UInt8], allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: payload.count + 10)
        writeHeader(opcode: 0x1, payloadLength: payload.count, into: &buffer)
        buffer.writeBytes(payload)
        return buffer
    }

    /// A close frame with `code` and an optional short reason (at most 123 bytes are kept, whole characters).
    public static func close(code: UInt16, reason: String = "", allocator: ByteBufferAllocator) -> ByteBuffer {
        var reasonBytes = Array(reason.utf8.prefix(123))
        // The reason must stay valid UTF-8 (RFC 6455 5.5.1): never keep part of a multi-byte sequence. When the
        // first byte left out continues a sequence, drop that sequence's continuation bytes and its lead byte.
        if let next = reason.utf8.dropFirst(123).first, next & 0xC0 == 0x80 {
            while let last = reasonBytes.popLast(), last & 0xC0 == 0x80 {}
        }
        var buffer = allocator.buffer(capacity: 4 + reasonBytes.count)
        writeHeader(opcode: 0x8, payloadLength: 2 + reasonBytes.count, into: &buffer)
        buffer.writeInteger(code)
        buffer.writeBytes(reasonBytes)
        return buffer
    }

    /// A pong frame echoing `payload` (at most 125 bytes).
    public static func pong(_ payload: ByteBuffer, allocator: ByteBufferAllocator) -> ByteBuffer {
        control(opcode: 0xA, payload: payload, allocator: allocator)
    }

    /// A ping frame carrying `payload` (at most 125 bytes).
    public static func ping(_ payload: ByteBuffer, allocator: ByteBufferAllocator) -> ByteBuffer {
        control(opcode: 0x9, payload: payload, allocator: allocator)
    }

    private static func control(opcode: UInt8, payload: ByteBuffer, allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 2 + payload.readableBytes)
        writeHeader(opcode: opcode, payloadLength: payload.readableBytes, into: &buffer)
        var copy = payload
        buffer.writeBuffer(&copy)
        return buffer
    }
}
