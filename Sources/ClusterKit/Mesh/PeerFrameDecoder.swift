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
        let length = payload.readableBytes
        // One buffer access for header and payload (ByteBuffer's per-call checks add up at millions of frames/s).
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: headerSize + length) { out in
            out[0] = kind
            out[1] = UInt8(truncatingIfNeeded: length >> 24)
            out[2] = UInt8(truncatingIfNeeded: length >> 16)
            out[3] = UInt8(truncatingIfNeeded: length >> 8)
            out[4] = UInt8(truncatingIfNeeded: length)
            if length > 0 {
                payload.withUnsafeReadableBytes { src in
                    UnsafeMutableRawBufferPointer(rebasing: out[headerSize..<(headerSize + length)]).copyMemory(from: src)
                }
            }
            return headerSize + length
        }
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
/// `nil`. Payloads are slices of the fed chunks (no copy); only a frame that straddles chunks is
/// copied, into a carry buffer sized for exactly that frame. A frame header announcing more than
/// `maxPayloadBytes` fails before anything is buffered. After `next()` throws, the decoder stays
/// failed: the caller MUST close the connection.
public struct PeerFrameDecoder: Sendable {
    /// Largest payload accepted.
    public let maxPayloadBytes: Int
    /// The chunk being parsed (a slice of what was appended).
    private var current = ByteBuffer()
    /// The bytes of one incomplete frame (header first), copied out of earlier chunks.
    private var carry = ByteBuffer()
    private var failure: PeerFrameDecoderError?

    public init(maxPayloadBytes: Int) {
        precondition(maxPayloadBytes >= 0)
        self.maxPayloadBytes = maxPayloadBytes
    }

    /// Bytes held that do not yet form a whole frame.
    public var bufferedBytes: Int { current.readableBytes + carry.readableBytes }

    /// Adds the next chunk of the stream.
    public mutating func append(_ chunk: ByteBuffer) {
        guard chunk.readableBytes > 0 else { return }
        if current.readableBytes > 0 {
            // `next()` was not drained to nil: keep the unparsed bytes in order.
            if carry.readableBytes == 0 {
                carry = current
                current = ByteBuffer()
            } else {
                var rest = current
                current = ByteBuffer()
                carry.writeBuffer(&rest)
            }
            var chunk = chunk
            carry.writeBuffer(&chunk)
            return
        }
        current = chunk
    }

    /// The next complete frame, or `nil` when more bytes are needed.
    public mutating func next() throws(PeerFrameDecoderError) -> PeerFrame? {
        if let failure { throw failure }
        if carry.readableBytes > 0 { return try nextFromCarry() }
        guard current.readableBytes >= PeerFrame.headerSize else {
            moveCurrentToCarry()
            return nil
        }
        let length = try payloadLength(in: current)
        guard current.readableBytes >= PeerFrame.headerSize + length else {
            carry.reserveCapacity(PeerFrame.headerSize + length)
            moveCurrentToCarry()
            return nil
        }
        let kind = current.readInteger(as: UInt8.self)!
        current.moveReaderIndex(forwardBy: 4)
        let payload = current.readSlice(length: length)!
        return PeerFrame(kind: kind, payload: payload)
    }

    private mutating func nextFromCarry() throws(PeerFrameDecoderError) -> PeerFrame? {
        if carry.readableBytes < PeerFrame.headerSize {
            take(PeerFrame.headerSize - carry.readableBytes)
            if carry.readableBytes < PeerFrame.headerSize { return nil }
        }
        let length = try payloadLength(in: carry)
        let total = PeerFrame.headerSize + length
        if carry.readableBytes < total {
            carry.reserveCapacity(total)
            take(total - carry.readableBytes)
            if carry.readableBytes < total { return nil }
        }
        let kind = carry.readInteger(as: UInt8.self)!
        carry.moveReaderIndex(forwardBy: 4)
        let payload = carry.readSlice(length: length)!
        carry = ByteBuffer()  // the payload keeps the storage; start the next carry fresh
        return PeerFrame(kind: kind, payload: payload)
    }

    private mutating func payloadLength(in buffer: ByteBuffer) throws(PeerFrameDecoderError) -> Int {
        let length = Int(buffer.getInteger(at: buffer.readerIndex + 1, as: UInt32.self)!)
        if length > maxPayloadBytes {
            let error = PeerFrameDecoderError.frameTooLarge(length, limit: maxPayloadBytes)
            failure = error
            current = ByteBuffer()
            carry = ByteBuffer()
            throw error
        }
        return length
    }

    /// Copies up to `count` bytes from `current` into `carry`.
    private mutating func take(_ count: Int) {
        let n = min(count, current.readableBytes)
        guard n > 0 else { return }
        var slice = current.readSlice(length: n)!
        carry.writeBuffer(&slice)
    }

    private mutating func moveCurrentToCarry() {
        guard current.readableBytes > 0 else { return }
        carry.writeBuffer(&current)
        current = ByteBuffer()
    }
}
