import NIOCore

/// A subscriber of a history channel waiting for its replay (`subscribe` with `history` or `recover`): it is
/// counted as a subscriber, but the channel's frames are kept for it, with their offsets, instead of written.
/// Once the owner's range is in, the shard writes the replay, then the kept frames after the replay's last
/// offset, and makes it an ordinary subscriber, all between two messages: the seam has no gap and no repeat.
final class HeldSubscriber {
    let session: WebSocketSession
    private(set) var frames: [(offset: UInt64, frame: ByteBuffer)] = []

    init(session: WebSocketSession) {
        self.session = session
    }

    func keep(_ frame: ByteBuffer, offset: UInt64) {
        frames.append((offset, frame))
    }
}
