import NIOCore

/// Builds the WebSocket frame pushed to subscribers, once per message: the `data` object's own bytes with
/// `"__type"`, `"__ts"` and (for channel messages) `"__channel"` spliced in before its closing brace, behind a
/// server-to-client text-frame header (RFC 6455 section 5.2, unmasked). Every subscriber on every event loop
/// is written the same buffer.
public enum PushFrame {
    /// The complete frame for `data` (a JSON object's bytes).
    public static func make(
        data: ByteBuffer,
        kind: PushKind,
        timestamp: Int,
        channel: String?,
        allocator: ByteBufferAllocator
    ) -> ByteBuffer {
        var suffix: [UInt8] = []
        suffix.reserveCapacity(64 + (channel?.utf8.count ?? 0))
        let body = data.readableBytesView
        // `data` is a validated object: it ends with "}" and opens with "{".
        let isEmptyObject = body.dropLast().dropFirst().allSatisfy { $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }
        if !isEmptyObject { suffix.append(UInt8(ascii: ",")) }
        switch kind {
        case .message: suffix.append(contentsOf: #""__type":"message","__ts":"#.utf8)
        case .broadcast: suffix.append(contentsOf: #""__type":"broadcast","__ts":"#.utf8)
        }
        suffix.append(contentsOf: String(timestamp).utf8)
        if let channel {
            suffix.append(contentsOf: #","__channel":"#.utf8)
            JSONEscaping.appendQuoted(channel, to: &suffix)
        }
        suffix.append(UInt8(ascii: "}"))

        let payloadLength = (isEmptyObject ? 1 : body.count - 1) + suffix.count
        var frame = allocator.buffer(capacity: payloadLength + 10)
        WebSocketFrameBytes.writeHeader(opcode: 0x1, payloadLength: payloadLength, into: &frame)
        if isEmptyObject {
            frame.writeInteger(UInt8(ascii: "{"))
        } else {
            var source = data
            frame.writeImmutableBuffer(source.readSlice(length: body.count - 1)!)
        }
        frame.writeBytes(suffix)
        return frame
    }
}
