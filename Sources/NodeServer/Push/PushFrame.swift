import Glibc
import NIOCore

/// Builds the WebSocket frame pushed to subscribers, once per message: `"__type"`, `"__ts"` and (for channel
/// messages) `"__channel"` followed by the `data` object's own members, behind a server-to-client text-frame
/// header (RFC 6455 section 5.2, unmasked). Every subscriber on every event loop is written the same buffer.
///
/// The envelope comes first, so a client can dispatch on `__type` before it reads the data, and a scanner
/// looking for a data member does not have to pass over it. When the data may hold a member of the same name
/// (its bytes contain `"__`), the envelope goes last instead, so that parsers that keep the last of two equal
/// keys (JavaScript, Python) still see the server's values.
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
        position: (epoch: String, offset: UInt64)? = nil,
        allocator: ByteBufferAllocator
    ) -> ByteBuffer {
        let body = data.readableBytesView
        // `data` is a validated object: it ends with "}" and opens with "{".
        let isEmptyObject = body.dropLast().dropFirst().allSatisfy { $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }
        var frame = allocator.buffer(capacity: headerRoom + body.count + 64 + 2 * (channel?.utf8.count ?? 0) + (position.map { 48 + 2 * $0.epoch.utf8.count } ?? 0))
        frame.writeRepeatingByte(0, count: headerRoom)
        let payloadStart = frame.writerIndex
        if !isEmptyObject, mayHoldReservedKey(body) {
            // The data's members, then the envelope before its closing brace.
            frame.writeImmutableBuffer(data.getSlice(at: data.readerIndex, length: body.count - 1)!)
            frame.writeStaticString(",")
            writeEnvelope(kind: kind, timestamp: timestamp, channel: channel, position: position, into: &frame)
            frame.writeStaticString("}")
        } else {
            // The envelope, then the data's members after its opening brace (none for an empty object).
            frame.writeStaticString("{")
            writeEnvelope(kind: kind, timestamp: timestamp, channel: channel, position: position, into: &frame)
            if isEmptyObject {
                frame.writeStaticString("}")
            } else {
                frame.writeStaticString(",")
                frame.writeImmutableBuffer(data.getSlice(at: data.readerIndex + 1, length: body.count - 1)!)
            }
        }

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

    /// `"__type":...,"__ts":...` and, with a channel, `,"__channel":...` (no braces, no trailing comma).
    private static func writeEnvelope(kind: PushKind, timestamp: Int, channel: String?, position: (epoch: String, offset: UInt64)?, into frame: inout ByteBuffer) {
        switch kind {
        case .message: frame.writeStaticString(#""__type":"message","__ts":"#)
        case .broadcast: frame.writeStaticString(#""__type":"broadcast","__ts":"#)
        case .join: frame.writeStaticString(#""__type":"join","__ts":"#)
        case .leave: frame.writeStaticString(#""__type":"leave","__ts":"#)
        }
        frame.writeString(String(timestamp))
        if let channel {
            frame.writeStaticString(#","__channel":"#)
            writeQuoted(channel, into: &frame)
        }
        if let position {
            frame.writeStaticString(#","__offset":"#)
            frame.writeString(String(position.offset))
            frame.writeStaticString(#","__epoch":"#)
            writeQuoted(position.epoch, into: &frame)
        }
    }

    /// `text` as a JSON string; without a copy when it needs no escaping (channel names and epochs nearly never do).
    private static func writeQuoted(_ text: String, into frame: inout ByteBuffer) {
        guard JSONString.needsNoEscaping(text) else {
            var quoted: [UInt8] = []
            JSONString.appendQuoted(text, to: &quoted)
            frame.writeBytes(quoted)
            return
        }
        frame.writeStaticString("\"")
        frame.writeString(text)
        frame.writeStaticString("\"")
    }

    /// Whether `body` contains `"__`, the start of a key that could clash with the envelope's.
    static func mayHoldReservedKey(_ body: ByteBufferView) -> Bool {
        body.withContiguousStorageIfAvailable { bytes in
            guard bytes.count >= 3, let base = bytes.baseAddress else { return false }
            var offset = 0
            while offset < bytes.count - 2 {
                guard let hit = memchr(base + offset, 0x22, bytes.count - 2 - offset) else { return false }
                let at = UnsafeRawPointer(base).distance(to: UnsafeRawPointer(hit))
                if bytes[at + 1] == 0x5F && bytes[at + 2] == 0x5F { return true }
                offset = at + 1
            }
            return false
        } ?? true
    }
}
