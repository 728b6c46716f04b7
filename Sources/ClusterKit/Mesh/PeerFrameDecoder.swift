import NIOCore

/// One mesh frame on the wire: `[kind: UInt8][length: UInt32 big-endian][payload]`.
public struct PeerFrame: Sendable, Hashable {
    /// Size of the frame header (kind + length).
    public static let headerSize = 5
    /// Frame kinds 0-15 are reserved for the mesh itself.
    public static let firstApplicationKind: UInt8 = 16

    public var kind: UInt8
    public var payload: ByteBuffer

    public init(kind: UInt8, payload: ByteBuffer) {
        self.kind = kind
        self.payload = payload
    }

    /// Appends the encoded frame to `buffer`.
    public static func encode(kind: UInt8, payload: ByteBuffer, into buffer: inout ByteBuffer) {
        buffer.writeInteger(kind)
        buffer.writeInteger(UInt32(truncatingIfNeeded: payload.readableBytes))
        buffer.writeImmutableBuffer(payload)
    }
}

/// Errors of `PeerFrameDecoder`.
public struct PeerFrameDecoderError: Error, Hashable, CustomStringConvertible {
    private enum Base: Hashable { case frameTooLarge(Int, limit: Int) }
    private let base: Base

    /// A frame header announced a payload larger than the decoder's limit.
    public static func frameTooLarge(_ length: Int, limit: Int) -> Self { Self(base: .frameTooLarge(length, limit: limit)) }

    public var description: String {
        switch base {
        case .frameTooLarge(let length, let limit): "peer frame of \(length) bytes exceeds the limit of \(limit)"
        }
    }
}

/// Splits a byte stream (delivered in arbitrary chunks, e.g. HTTP/2 DATA frames) into mesh frames.
///
/// A pure value type with no I/O: feed chunks with `append`, then call `next()` until it returns
/// `nil`. Payloads are slices of the fed buffers (no copy) unless a frame straddles chunks.
/// After `next()` throws, the stream is unusable: the caller MUST close the connection.
public struct PeerFrameDecoder: Sendable {
    /// Largest payload accepted.
    public let maxPayloadBytes: Int
    private var buffer: ByteBuffer?
    private var failed = false

    public init(maxPayloadBytes: Int) {
        precondition(maxPayloadBytes >= 0)
        self.maxPayloadBytes = maxPayloadBytes
    }

    /// Bytes held that do not yet form a whole frame.
    public var bufferedBytes: Int { buffer?.readableBytes ?? 0 }

    /// Adds the next chunk of the stream.
    public mutating func append(_ chunk: ByteBuffer) {
        guard chunk.readableBytes > 0 else { return }
        if var existing = buffer, existing.readableBytes > 0 {
            buffer = nil  // keep the storage uniquely referenced while we write
            existing.writeImmutableBuffer(chunk)
            buffer = existing
        } else {
            buffer = chunk
        }
    }

    /// The next complete frame, or `nil` when more bytes are needed.
    public mutating func next() throws(PeerFrameDecoderError) -> PeerFrame? {
        guard !failed, var buf = buffer else {
            if failed { throw .frameTooLarge(0, limit: maxPayloadBytes) }
            return nil
        }
        guard buf.readableBytes >= PeerFrame.headerSize,
            let kind = buf.getInteger(at: buf.readerIndex, as: UInt8.self),
            let rawLength = buf.getInteger(at: buf.readerIndex + 1, as: UInt32.self)
        else { return nil }
        let length = Int(rawLength)
        if length > maxPayloadBytes {
            failed = true
            buffer = nil
            throw .frameTooLarge(length, limit: maxPayloadBytes)
        }
        guard buf.readableBytes >= PeerFrame.headerSize + length else { return nil }
        buf.moveReaderIndex(forwardBy: PeerFrame.headerSize)
        let payload = buf.readSlice(length: length)!
        buffer = buf.readableBytes == 0 ? nil : buf
        return PeerFrame(kind: kind, payload: payload)
    }
}
