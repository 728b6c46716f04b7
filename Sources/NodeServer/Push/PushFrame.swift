import NIOCore

/// Builds the WebSocket frame pushed to subscribers, once per message: the `data` object's own bytes with
/// `"__type"`, `"__ts"` and (for channel messages) `"__channel"` spliced in before its closing brace, behind a
/// server-to-client text-frame header (RFC 6455 section 5.2, unmasked). Every subscriber on every event loop
/// is written the same buffer.
public enum PushFrame {
    /// Room kept in front of the payload for the longest header (2 + 8 bytes), so the frame is written in one
    /// buffer, payload first, and the header (whose size depends on the payload's) is filled in afterwards.
    private static let headerRoom = 10

    /// The complete frame for `data` (a JSON object's bytes).
    public static func make(
        data: ByteBuffer,
        kind: PushKind,
        timestamp: Int,
        channel: String?,
        allocator: ByteBufferAllocator
    ) -> ByteBuffer {
        let body = data.readableBytesView
        // `data` is a validated object: it ends with "}" and opens with "{".
        let isEmptyObject = body.dropLast().dropFirst().allSatisfy { $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }
        var frame = allocator.buffer(capacity: headerRoom + body.count + 64 + 2 * (channel?.utf8.count ?? 0))
        frame.writeRepeatingByte(0, count: headerRoom)
        let payloadStart = frame.writerIndex
        if isEmptyObject {
            frame.writeStaticString("{")
        } else {
            frame.writeImmutableBuffer(data.getSlice(at: data.readerIndex, length: body.count - 1)!)
            frame.writeStaticString(",")
        }
        switch kind {
        case .message: frame.writeStaticString(#""__type":"message","__ts":"#)
        case .broadcast: frame.writeStaticString(#""__type":"broadcast","__ts":"#)
        }
        frame.writeString(String(timestamp))
        if let channel {
            frame.writeStaticString(#","__channel":"#)
            JSONEscaping.writeQuoted(channel, into: &frame)
        }
        frame.writeStaticString("}")

        let payloadLength = frame.writerIndex - payloadStart
        // FIN + text opcode, then the shortest length form (RFC 6455 section 5.2).
        let headerStart: Int
        if payloadLength < 126 {
            headerStart = payloadStart - 2
            frame.setInteger(UInt8(payloadLength), at: headerStart + 1)
        } else if payloadLength <= Int(UInt16.max) {
            headerStart = payloadStart - 4
            frame.setInteger(UInt8(126), at: headerStart + 1)
            frame.setInteger(UInt16(payloadLength), at: headerStart + 2)
        } else {
            headerStart = payloadStart - 10
            frame.setInteger(UInt8(127), at: headerStart + 1)
            frame.setInteger(UInt64(payloadLength), at: headerStart + 2)
        }
        frame.setInteger(UInt8(0x81), at: headerStart)
        frame.moveReaderIndex(to: headerStart)
        return frame
    }
}
