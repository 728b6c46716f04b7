import NIOCore

/// How many clients one node reached with a message.
public struct NodeCount: Sendable, Equatable {
    public var node: String
    public var count: Int
    public init(node: String, count: Int) {
        self.node = node
        self.count = count
    }
}

/// One member as `cluster_status` shows it.
public struct MemberView: Sendable, Equatable {
    public var name: String
    public var address: String
    public var state: String
    public var incarnation: UInt64
    public var connections: Int
    public var subscriptions: Int
    public init(name: String, address: String, state: String, incarnation: UInt64, connections: Int, subscriptions: Int) {
        self.name = name
        self.address = address
        self.state = state
        self.incarnation = incarnation
        self.connections = connections
        self.subscriptions = subscriptions
    }
}

/// A node's own counts, as it reports them to the others.
public struct LocalStats: Sendable, Equatable {
    public var node: String
    public var connections: Int
    public var subscriptions: Int
    /// channel -> local subscribers
    public var channels: [String: Int]
    public init(node: String, connections: Int, subscriptions: Int, channels: [String: Int]) {
        self.node = node
        self.connections = connections
        self.subscriptions = subscriptions
        self.channels = channels
    }
}

/// What the serving side needs from the cluster. A single node uses `SoloCluster`; a clustered node the
/// ClusterKit-backed `MeshCluster`. Futures complete on the loop they were asked on.
public protocol ClusterLink: AnyObject, Sendable {
    /// This node's name.
    var localName: String { get }

    /// The first local subscriber of `channel` arrived: tell every alive peer. Completes when all of them
    /// acknowledged, or when the bounded wait ran out (laggards are suspected).
    func localChannelActivated(_ channel: String, on loop: any EventLoop) -> EventLoopFuture<Void>
    /// Completes once an activation of `channel` still in flight is acknowledged (at once when none is).
    func whenVisible(_ channel: String, on loop: any EventLoop) -> EventLoopFuture<Void>
    /// The last local subscriber of `channel` left.
    func localChannelDeactivated(_ channel: String)

    /// Forwards a channel message (`data` is the raw JSON object) to every other node with subscribers for
    /// it. With `awaitCounts`, the future carries each remote node's delivered count.
    func forward(
        channel: String,
        data: ByteBuffer,
        timestamp: Int,
        awaitCounts: Bool,
        on loop: any EventLoop
    ) -> EventLoopFuture<[NodeCount]>
    /// Forwards a `notify_all` message to every other alive node.
    func forwardBroadcast(data: ByteBuffer, timestamp: Int, awaitCounts: Bool, on loop: any EventLoop) -> EventLoopFuture<[NodeCount]>

    /// The local stats of every other alive node (bounded wait; nodes that do not answer are left out).
    func remoteStats(on loop: any EventLoop) -> EventLoopFuture<[LocalStats]>
    /// Every known member but this node.
    func remoteMembers() -> [MemberView]
    /// This node's incarnation.
    var localIncarnation: UInt64 { get }

    /// Starts membership and the mesh.
    func start() async throws
    /// Leaves the cluster gracefully and stops.
    func shutdown() async
}
