import NIOCore
import ServiceLifecycle

/// What a message source calls into: the node's backend API. A source only moves bytes; the node parses and
/// answers them.
public protocol BackendAPI: Sendable {
    /// Answers a JSON-RPC body; `nil` when there is nothing to send back (notifications only).
    func handleBackendBody(_ body: ByteBuffer, on loop: any EventLoop) -> EventLoopFuture<[UInt8]?>
    /// The `GET /healthz` JSON body.
    func healthBody() -> [UInt8]
    /// The Prometheus text for `GET /metrics`.
    func metricsText() -> [UInt8]
    /// A request was refused for a missing or wrong API key (counted in the metrics).
    func refusedUnauthorized()
    /// A connection was closed because its first request head did not complete in time (counted).
    func handshakeTimedOut()
    /// Handles a body taken from a queue: as `handleBackendBody`, but every emit waits for the cluster's
    /// answer (even a notification's), and the answers go nowhere: the outcome says what the body held.
    func handleQueuedBody(_ body: ByteBuffer, on loop: any EventLoop) -> EventLoopFuture<QueuedBodyOutcome>
}

extension BackendAPI {
    public func handshakeTimedOut() {}
    /// For an API that does not classify queued bodies: handled as a backend body, counted as one other method.
    public func handleQueuedBody(_ body: ByteBuffer, on loop: any EventLoop) -> EventLoopFuture<QueuedBodyOutcome> {
        handleBackendBody(body, on: loop).map { _ in QueuedBodyOutcome(otherMethods: 1) }
    }
}

/// A way for backends to reach the node, as in the original RocketWS ("can support multiple message
/// sources, default is HTTP"). A source is made with the node's `BackendAPI` and runs as one of the node's
/// services; adding one (a queue consumer, a Unix socket) needs no change to the node (`Node`'s `extraSources`).
public protocol MessagesSource: Service {
    /// A short name for logs ("http").
    var name: String { get }
    /// Starts accepting (once: a later call returns the same); returns where (the bound port; 0 for none).
    func start() async throws -> Int
    /// Stops accepting and closes its connections.
    func stop() async
}

extension MessagesSource {
    /// Under the node's ServiceGroup: starts (unless the node already did, to learn the port), serves until
    /// the graceful shutdown reaches this source, then stops it.
    public func run() async throws {
        _ = try await start()
        try? await gracefulShutdown()
        await stop()
    }
}
