import NIOCore

/// Frames published to one audience on one event loop since its last flush, kept back to back in one buffer.
/// At the flush the whole buffer goes to every member as ONE shared write: per message the loop pays one copy,
/// not one write per subscriber, and each subscriber's socket gets a tick's frames in one syscall. A lone
/// frame is kept as it is (no copy): a quiet channel costs nothing extra.
struct FrameBatch {
    private var buffer = ByteBuffer()
    /// `buffer` is the first frame itself, shared with the publisher (copied only when a second one comes).
    private var holdsSharedFrame = false
    /// Bytes in the previous batch: the next one starts with room for as many.
    private var lastSize = 0

    var isEmpty: Bool { buffer.readableBytes == 0 }
    var byteCount: Int { buffer.readableBytes }

    /// Adds `frame` behind the frames already waiting.
    mutating func append(_ frame: ByteBuffer, allocator: ByteBufferAllocator) {
        if buffer.readableBytes == 0 {
            buffer = frame
            holdsSharedFrame = true
            return
        }
        if holdsSharedFrame {
            let first = buffer
            let capacity = max(1024, lastSize + lastSize / 2, first.readableBytes + frame.readableBytes)
            buffer = allocator.buffer(capacity: capacity)
            buffer.writeImmutableBuffer(first)
            holdsSharedFrame = false
        }
        buffer.writeImmutableBuffer(frame)
    }

    /// The waiting frames as one buffer (shared by every write); the batch is empty afterwards.
    mutating func take() -> ByteBuffer {
        let frames = buffer
        lastSize = frames.readableBytes
        buffer = ByteBuffer()
        holdsSharedFrame = false
        return frames
    }
}
