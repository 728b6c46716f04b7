/// What a body taken from a queue held, once it was handled: its answers go nowhere, so the source counts them.
public struct QueuedBodyOutcome: Sendable, Equatable {
    /// `emit` and `notify_all` requests accepted and answered by the cluster.
    public var published = 0
    /// Other methods (`total_subscribers`, `ping`, ...): run as over HTTP, their answers dropped.
    public var otherMethods = 0
    /// Bodies or requests answered with a JSON-RPC error: not JSON, not a request, unknown method, bad params.
    public var invalid = 0

    public init(published: Int = 0, otherMethods: Int = 0, invalid: Int = 0) {
        self.published = published
        self.otherMethods = otherMethods
        self.invalid = invalid
    }

    static func + (a: Self, b: Self) -> Self {
        Self(published: a.published + b.published, otherMethods: a.otherMethods + b.otherMethods, invalid: a.invalid + b.invalid)
    }
}
