import CNghttp2
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// An in-process benchmark of one mesh link: two meshes on loopback, `frames` application
/// frames of `size` bytes pushed through `PeerMesh.send`, with cumulative acknowledgements
/// flowing back (one every `ackEvery` frames). The clock stops when the last frame is acknowledged.
public enum MeshBenchmark {
    public struct Result: Sendable {
        public var frames: Int
        public var frameBytes: Int
        public var seconds: Double
        public var framesPerSecond: Double
        public var megabytesPerSecond: Double
        /// Sends refused because the queue was full (the producer then waits and retries).
        public var retriedSends: Int
        /// Process CPU time (user + system, all threads) spent per frame during the run. On a
        /// shared machine this says more than the wall-clock rate: capacity ~ cores / cpuNanosPerFrame.
        public var cpuNanosPerFrame: Double
    }

    static func processCPUNanos() -> Double { CNghttp2_processCPUNanos() }

    static let dataKind: UInt8 = 16
    static let ackKind: UInt8 = 17

    private final class Receiver: PeerMeshDelegate {
        let ackEvery: Int
        let total: Int
        let warmup: Int
        private let count = Atomic<Int>(0)
        let connected = Atomic<Bool>(false)
        init(ackEvery: Int, total: Int, warmup: Int) {
            self.ackEvery = ackEvery
            self.total = total
            self.warmup = warmup
        }
        func peerMesh(_ mesh: PeerMesh, didConnect peer: PeerIdentity) { connected.store(true, ordering: .releasing) }
        func peerMesh(_ mesh: PeerMesh, didDisconnect peer: PeerIdentity) {}
        func peerMesh(_ mesh: PeerMesh, didReceive kind: UInt8, payload: ByteBuffer, from peer: PeerIdentity) {
            // Only this connection's event loop calls in: a relaxed counter is enough.
            let n = count.load(ordering: .relaxed) + 1
            count.store(n, ordering: .relaxed)
            if n % ackEvery == 0 || n == total || n == warmup {
                var ack = ByteBuffer()
                ack.writeInteger(UInt64(n))
                mesh.send(kind: MeshBenchmark.ackKind, payload: ack, to: peer.name)
            }
        }
    }

    private final class Sender: PeerMeshDelegate {
        let acked = Atomic<Int>(0)
        func peerMesh(_ mesh: PeerMesh, didConnect peer: PeerIdentity) {}
        func peerMesh(_ mesh: PeerMesh, didDisconnect peer: PeerIdentity) {}
        func peerMesh(_ mesh: PeerMesh, didReceive kind: UInt8, payload: ByteBuffer, from peer: PeerIdentity) {
            if kind == MeshBenchmark.ackKind, let n = payload.getInteger(at: payload.readerIndex, as: UInt64.self) {
                acked.store(Int(n), ordering: .releasing)
            }
        }
    }

    /// Runs the benchmark (with `tls`, both meshes use those files: the certificate must name 127.0.0.1) (the producer sends through a `PeerSender` handle, as a hot path would). `window` bounds the frames in flight (sent, not yet acknowledged).
    /// `warmupFrames` (default: a tenth of `frames`, at most 500,000) go first, untimed, so the
    /// clock measures the steady state rather than buffer growth and page faults.
    public static func run(
        frames: Int = 5_000_000, size: Int = 100, ackEvery: Int = 4096, window: Int = 1 << 19,
        secret: String? = "bench-secret", threads: Int = 2, warmupFrames: Int? = nil, tls: PeerTLSFiles? = nil
    ) async throws -> Result {
        precondition(frames > 0 && size >= 0)
        let warmup = warmupFrames ?? min(frames / 10, 500_000)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        var logger = Logger(label: "mesh-bench")
        logger.logLevel = .error
        var settings = PeerMeshSettings()
        settings.listenHost = "127.0.0.1"
        settings.listenPort = 0
        settings.clusterSecret = secret
        settings.tls = tls
        let receiver = Receiver(ackEvery: ackEvery, total: warmup + frames, warmup: warmup)
        let acks = Sender()
        let a = PeerMesh(
            identity: PeerIdentity(name: "bench-a", address: "127.0.0.1:0", incarnation: 1), settings: settings,
            group: group.next(), logger: logger, delegate: acks)
        let b = PeerMesh(
            identity: PeerIdentity(name: "bench-b", address: "127.0.0.1:0", incarnation: 1), settings: settings,
            group: group.next(), logger: logger, delegate: receiver)
        _ = try await a.start()
        let portB = try await b.start()
        a.connect(to: "127.0.0.1:\(portB)")
        while !receiver.connected.load(ordering: .acquiring) || a.connectedPeers.isEmpty {
            try await Task.sleep(for: .milliseconds(1))
        }
        var payload = ByteBuffer()
        payload.writeRepeatingByte(0x61, count: size)
        guard let sender = a.sender(to: "bench-b") else { throw BenchmarkError(description: "not connected") }
        var retried = 0
        var sent = 0
        var start = ContinuousClock.now
        var cpuStart = processCPUNanos()
        for (phaseEnd, timed) in [(warmup, false), (warmup + frames, true)] {
            if timed {
                start = ContinuousClock.now
                cpuStart = processCPUNanos()
            }
            while sent < phaseEnd {
                if sent - acks.acked.load(ordering: .acquiring) >= window {
                    // Wait without spinning: the event loops need the cores.
                    try await Task.sleep(for: .microseconds(100))
                    continue
                }
                switch sender.send(kind: dataKind, payload: payload) {
                case .queued: sent += 1
                case .dropped:
                    retried += 1
                    try await Task.sleep(for: .microseconds(100))
                case .notConnected: throw BenchmarkError(description: "link lost during the benchmark")
                }
            }
            while acks.acked.load(ordering: .acquiring) < phaseEnd {
                try await Task.sleep(for: .microseconds(200))
            }
        }
        let elapsed = ContinuousClock.now - start
        let cpu = processCPUNanos() - cpuStart
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        await a.shutdown()
        await b.shutdown()
        try await group.shutdownGracefully()
        return Result(
            frames: frames, frameBytes: size, seconds: seconds, framesPerSecond: Double(frames) / seconds,
            megabytesPerSecond: Double(frames * size) / seconds / 1e6, retriedSends: retried,
            cpuNanosPerFrame: cpu / Double(frames))
    }

    struct BenchmarkError: Error, CustomStringConvertible { var description: String }
}
