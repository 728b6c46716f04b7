// What one node tells about itself and the others: the views behind `cluster_status`.

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
    public var state: Membership.MemberState
    public var incarnation: UInt64
    public var connections: Int
    public var subscriptions: Int
    public init(name: String, address: String, state: Membership.MemberState, incarnation: UInt64, connections: Int, subscriptions: Int) {
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
