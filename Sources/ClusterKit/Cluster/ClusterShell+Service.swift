import ServiceLifecycle

/// The cluster layer as a ServiceLifecycle service: joins (unless ``ClusterShell/start()`` already ran), and
/// at graceful shutdown leaves the cluster (``ClusterShell/leave()``). The mesh is a service of its own, shut
/// down after this one.
extension ClusterShell: Service {
    public func run() async throws {
        _ = try await start()
        try? await gracefulShutdown()
        await leave()
    }
}
