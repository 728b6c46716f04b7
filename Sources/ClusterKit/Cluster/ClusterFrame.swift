import NIOCore

/// The application frames nodes exchange over the peer mesh (kinds 16 and up; 0-15 belong to the mesh).
///
/// Layouts (big-endian; a channel is a u8 length and 1-255 bytes of UTF-8):
/// - `forward`:   u64 request id (0 = no acknowledgement wanted), i64 Unix seconds, channel, then the raw
///                bytes of the `data` object to the end of the frame (never decoded or re-encoded on the way)
/// - `broadcast`: u64 request id, i64 Unix seconds, data object bytes
/// - `ack`:       u64 request id, u32 local subscribers reached
/// - `statsRequest`: u64 request id
/// - `statsResponse`: u64 request id, u32 connections, u32 subscriptions, u32 n, n x (channel, u32 count)
/// - `presence`, `presenceRequest`, `presenceReply`: the formats of ClusterCore's `PresenceWire`
public enum ClusterFrame {
    public enum Kind: UInt8, Sendable {
        case membership = 16
        case interest = 17
        case forward = 18
        case ack = 19
        case broadcast = 20
        case statsRequest = 21
        case statsResponse = 22
        /// Presence gossip (`PresenceMessage`'s format); presence kinds use 48...63.
        case presence = 48
        case presenceRequest = 49
        case presenceReply = 50
    }

    /// A decoded `forward` or `broadcast`: `data` is a slice of the received frame.
    public struct Push: Sendable {
        public var requestID: UInt64
        public var timestamp: Int
        public var channel: String?
        public var data: ByteBuffer
    }

    /// Encodes a channel message (channel != nil) or a broadcast, once for every peer it goes to.
    public static func push(requestID: UInt64, timestamp: Int, channel: String?, data: ByteBuffer, allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 17 + 256 + data.readableBytes)
        buffer.writeInteger(requestID)
        buffer.writeInteger(Int64(timestamp))
        if let channel {
            let bytes = channel.utf8
            buffer.writeInteger(UInt8(truncatingIfNeeded: bytes.count))
            buffer.writeBytes(bytes)
        }
        buffer.writeImmutableBuffer(data)
        return buffer
    }

    /// Decodes a `forward` (`hasChannel`) or `broadcast` frame; nil when malformed.
    public static func decodePush(_ frame: ByteBuffer, hasChannel: Bool) -> Push? {
        var frame = frame
        guard let id = frame.readInteger(as: UInt64.self), let ts = frame.readInteger(as: Int64.self) else { return nil }
        var channel: String?
        if hasChannel {
            guard let length = frame.readInteger(as: UInt8.self), length > 0,
                let name = frame.readString(length: Int(length))
            else { return nil }
            channel = name
        }
        // The data must at least look like an object; it was validated by the node that accepted it.
        guard frame.readableBytes >= 2, frame.getInteger(at: frame.readerIndex, as: UInt8.self) == UInt8(ascii: "{"),
            frame.getInteger(at: frame.writerIndex - 1, as: UInt8.self) == UInt8(ascii: "}")
        else { return nil }
        return Push(requestID: id, timestamp: Int(ts), channel: channel, data: frame)
    }

    public static func ack(requestID: UInt64, count: Int, allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 12)
        buffer.writeInteger(requestID)
        buffer.writeInteger(UInt32(clamping: count))
        return buffer
    }

    public static func decodeAck(_ frame: ByteBuffer) -> (requestID: UInt64, count: Int)? {
        var frame = frame
        guard let id = frame.readInteger(as: UInt64.self), let count = frame.readInteger(as: UInt32.self) else { return nil }
        return (id, Int(count))
    }

    public static func statsRequest(requestID: UInt64, allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 8)
        buffer.writeInteger(requestID)
        return buffer
    }

    public static func decodeStatsRequest(_ frame: ByteBuffer) -> UInt64? {
        var frame = frame
        return frame.readInteger(as: UInt64.self)
    }

    public static func statsResponse(requestID: UInt64, stats: LocalStats, allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 20 + stats.channels.count * 16)
        buffer.writeInteger(requestID)
        buffer.writeInteger(UInt32(clamping: stats.connections))
        buffer.writeInteger(UInt32(clamping: stats.subscriptions))
        let channels = stats.channels.filter { !$0.key.isEmpty && $0.key.utf8.count <= 255 }
        buffer.writeInteger(UInt32(channels.count))
        for (channel, count) in channels {
            buffer.writeInteger(UInt8(channel.utf8.count))
            buffer.writeString(channel)
            buffer.writeInteger(UInt32(clamping: count))
        }
        return buffer
    }

    public static func decodeStatsResponse(_ frame: ByteBuffer, node: String) -> (requestID: UInt64, stats: LocalStats)? {
        var frame = frame
        guard let id = frame.readInteger(as: UInt64.self), let connections = frame.readInteger(as: UInt32.self),
            let subscriptions = frame.readInteger(as: UInt32.self), let n = frame.readInteger(as: UInt32.self),
            Int(n) <= frame.readableBytes / 6
        else { return nil }
        var channels: [String: Int] = [:]
        for _ in 0..<n {
            guard let length = frame.readInteger(as: UInt8.self), let name = frame.readString(length: Int(length)),
                let count = frame.readInteger(as: UInt32.self)
            else { return nil }
            channels[name] = Int(count)
        }
        return (id, LocalStats(node: node, connections: Int(connections), subscriptions: Int(subscriptions), channels: channels))
    }
}
