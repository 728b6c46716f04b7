import ServiceLifecycle

extension Node {
    /// The node's long-running pieces, each a `Service`, in start order. The node's one `ServiceGroup` shuts
    /// them down one at a time in REVERSE order, and that is the shutdown the contract describes ("tells its
    /// peers it is leaving, closes its WebSocket clients with close code 1001, finishes in-flight forwards"):
    ///
    /// 1. the queue sources (AMQP) stop taking messages and settle the ones in hand (the cluster still answers);
    /// 2. the cluster shell leaves: the peers learn this node is `left`;
    /// 3. the WebSocket server stops accepting, writes out what was accepted and closes its clients with 1001;
    /// 4. the liveness sweeps stop;
    /// 5. the MessagesSources (HTTP) stop;
    /// 6. the peer mesh drains: the forwards in flight finish, then the links close.
    ///
    /// Then the node frees its threads.
    static func services(
        mesh: (any Service)?, sources: [any MessagesSource], sweeps: LivenessSweeps, webSocketServer: WebSocketServer,
        cluster: any ClusterLink, queueSources: [any MessagesSource]
    ) -> [any Service] {
        var services: [any Service] = []
        if let mesh { services.append(mesh) }  // 6
        services.append(contentsOf: sources as [any Service])  // 5
        services.append(sweeps)  // 4
        services.append(webSocketServer)  // 3
        services.append(cluster)  // 2
        services.append(contentsOf: queueSources as [any Service])  // 1
        return services
    }
}
