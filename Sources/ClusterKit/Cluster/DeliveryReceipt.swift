import NIOCore

/// What a node did with a message it was handed: how many clients it goes to, and, when its event loops are
/// congested, a future that completes once it is written (callers answer only then, which slows emitters
/// down to what the node can deliver).
public struct DeliveryReceipt: Sendable {
    public var count: Int
    public var settled: EventLoopFuture<Void>?
    public init(count: Int, settled: EventLoopFuture<Void>? = nil) {
        self.count = count
        self.settled = settled
    }
}
