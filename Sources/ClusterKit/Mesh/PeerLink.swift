import Metrics
import NIOCore
import Synchronization

/// One authenticated connection to a peer, as seen from any thread: the bounded outbound
/// queue that `PeerMesh.send` appends to, and the link's counters.
///
/// The queue is one `ByteBuffer` of encoded frames behind a mutex. The connection's handler
/// swaps it out wholesale on its event loop (`takePending`), so producers and the event loop
/// ping-pong two buffers and nothing is allocated per frame.
final class PeerLink: Sendable {
    let identity: PeerIdentity
    /// Name of the node that dialed the connection (simultaneous-dial tie break).
    let dialer: String
    let dialedByUs: Bool
    let eventLoop: any EventLoop
    let handler: NIOLoopBound<PeerConnectionHandler>
    let maxQueueBytes: Int
    /// Frames larger than this are dropped locally (the peer would close the connection on them).
    let maxFrameBytes: Int

    private struct Queue {
        var pending: ByteBuffer
        /// Bytes in `pending` plus bytes swapped out and not yet handed to nghttp2.
        var queuedBytes = 0
        var wakeupScheduled = false
        var closed = false
        var dropped: UInt64 = 0
        var sent: UInt64 = 0
    }

    private let queue: Mutex<Queue>
    private let received = Atomic<UInt64>(0)
    private let rttNanos = Atomic<Int64>(-1)
    private let droppedCounter: Counter

    init(
        identity: PeerIdentity, dialer: String, dialedByUs: Bool, maxQueueBytes: Int, maxFrameBytes: Int,
        handler: PeerConnectionHandler, eventLoop: any EventLoop, droppedCounter: Counter
    ) {
        self.maxFrameBytes = maxFrameBytes
        self.identity = identity
        self.dialer = dialer
        self.dialedByUs = dialedByUs
        self.maxQueueBytes = maxQueueBytes
        self.eventLoop = eventLoop
        self.handler = NIOLoopBound(handler, eventLoop: eventLoop)
        self.queue = Mutex(Queue(pending: ByteBufferAllocator().buffer(capacity: 64 * 1024)))
        self.droppedCounter = droppedCounter
    }

    /// Appends one frame; callable from any thread.
    func send(kind: UInt8, payload: ByteBuffer) -> PeerSendResult {
        let size = PeerFrame.headerSize + payload.readableBytes
        let (result, wake): (PeerSendResult, Bool) = queue.withLock { q in
            if q.closed { return (.notConnected, false) }
            if q.queuedBytes + size > maxQueueBytes || payload.readableBytes > maxFrameBytes {
                q.dropped &+= 1
                return (.dropped, false)
            }
            PeerFrame.encode(kind: kind, payload: payload, into: &q.pending)
            q.queuedBytes += size
            q.sent &+= 1
            if q.wakeupScheduled { return (.queued, false) }
            q.wakeupScheduled = true
            return (.queued, true)
        }
        if result == .dropped { droppedCounter.increment() }
        if wake {
            let handler = self.handler
            eventLoop.execute { handler.value.outboundReady() }
        }
        return result
    }

    /// On the event loop: moves every pending byte into `local` (which must be empty) by swapping buffers.
    /// Returns false when nothing is pending; the next `send` then schedules a wakeup.
    func takePending(into local: inout ByteBuffer) -> Bool {
        queue.withLock { q in
            guard q.pending.readableBytes > 0 else {
                q.wakeupScheduled = false
                return false
            }
            local.clear()
            swap(&local, &q.pending)
            q.wakeupScheduled = false
            return true
        }
    }

    /// On the event loop: `count` bytes were handed to nghttp2.
    func consumed(_ count: Int) {
        guard count > 0 else { return }
        queue.withLock { $0.queuedBytes -= count }
    }

    /// Refuses further sends (link closing or replaced).
    func close() { queue.withLock { $0.closed = true } }

    var queuedBytes: Int { queue.withLock { $0.queuedBytes } }

    func didReceiveFrames(_ count: UInt64) { received.add(count, ordering: .relaxed) }

    func recordRTT(_ rtt: Duration) {
        let (s, a) = rtt.components
        rttNanos.store(s * 1_000_000_000 + a / 1_000_000_000, ordering: .relaxed)
    }

    func stats() -> PeerLinkStats {
        let (queued, dropped, sent) = queue.withLock { ($0.queuedBytes, $0.dropped, $0.sent) }
        let rtt = rttNanos.load(ordering: .relaxed)
        return PeerLinkStats(
            peer: identity, dialedByUs: dialedByUs, queuedBytes: queued, droppedFrames: dropped, sentFrames: sent,
            receivedFrames: received.load(ordering: .relaxed), rtt: rtt < 0 ? nil : .nanoseconds(rtt))
    }
}
