import NIOCore

/// The connection token of one WebSocket upgrade (`?token=JWT`): verified before the 101 answer; a refused
/// token makes the upgrade a 401, a good one becomes the session's identity.
///
/// One per accepted connection, used only on that connection's event loop (the upgrader's callbacks and the
/// refusal handler all run there), hence `@unchecked Sendable`.
final class UpgradeTokenGate: @unchecked Sendable {
    private(set) var identity: ConnectionIdentity?
    /// The upgrade carried a token that did not verify.
    private(set) var refused = false

    /// The `token` query parameter of a request target (`/?token=...`), nil when there is none.
    static func token(in uri: String) -> String? {
        guard let query = uri.split(separator: "?", maxSplits: 1).dropFirst().first else { return nil }
        for pair in query.split(separator: "&") where pair.hasPrefix("token=") {
            return String(pair.dropFirst("token=".count))
        }
        return nil
    }

    /// Verifies `token`; the future (on `loop`) says whether the upgrade may go on.
    func check(_ token: String, with verifier: ConnectionTokenVerifier, on loop: any EventLoop, metrics: NodeMetrics) -> EventLoopFuture<Bool> {
        loop.makeFutureWithTask { () async -> ConnectionIdentity? in
            try? await verifier.verify(token)
        }.map { [self] identity in
            loop.preconditionInEventLoop()
            self.identity = identity
            self.refused = identity == nil
            if identity == nil { metrics.tokensRefused.increment() }
            return identity != nil
        }
    }
}
