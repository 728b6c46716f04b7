import NIOCore
import ServiceLifecycle

/// The ping sweeps of the WebSocket loops (one ``LivenessSweep`` per loop) as one service of the node: they
/// scan from the start, and stop once the clients are closed.
final class LivenessSweeps: Service, Sendable {
    /// One sweep per event loop, keyed by the loop's identity.
    private let sweeps: [ObjectIdentifier: LivenessSweep]

    init(group: any EventLoopGroup, settings: LivenessSettings) {
        var sweeps: [ObjectIdentifier: LivenessSweep] = [:]
        for loop in group.makeIterator() { sweeps[ObjectIdentifier(loop)] = LivenessSweep(loop: loop, settings: settings) }
        self.sweeps = sweeps
    }

    /// The sweep of `loop`.
    func sweep(for loop: any EventLoop) -> LivenessSweep? { sweeps[ObjectIdentifier(loop)] }

    /// Starts every scan (a second call changes nothing).
    func start() { for sweep in sweeps.values { sweep.start() } }

    /// Stops every scan.
    func stop() { for sweep in sweeps.values { sweep.stop() } }

    /// Scans until the node's graceful shutdown reaches this service.
    func run() async throws {
        start()
        try? await gracefulShutdown()
        stop()
    }
}
