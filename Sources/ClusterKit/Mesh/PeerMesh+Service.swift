import ServiceLifecycle

/// Runs the mesh as a ServiceLifecycle service: binds (unless `start()` was already called),
/// then on graceful shutdown (or cancellation) drains and closes every connection.
extension PeerMesh: Service {
    public func run() async throws {
        if state.withLock({ $0.serverChannel == nil }) { _ = try await start() }
        try? await gracefulShutdown()
        await shutdown()
    }
}
