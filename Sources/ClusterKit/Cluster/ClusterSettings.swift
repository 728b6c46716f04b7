/// Settings of one node's cluster shell: its identity, seeds, and the settings of the parts it composes.
public struct ClusterSettings: Sendable {
    /// Unique node name.
    public var nodeName: String
    /// `HOST:PORT` other nodes dial to reach this node's peer listener.
    public var advertisedAddress: String
    /// Fresh per process start (wall-clock milliseconds), so a restarted node with the same name is newer.
    public var incarnation: UInt64
    /// Seed addresses to join through; dialed with backoff until they answer.
    public var seeds: [String] = []
    /// SWIM/Lifeguard membership.
    public var membership = Membership.Settings()
    /// Channel interest table.
    public var interest = InterestTable.Settings()
    /// HTTP/2 peer mesh (listener, secret, queues).
    public var mesh = PeerMeshSettings()
    /// How long an emit waits for the delivered counts of the nodes it was forwarded to.
    public var forwardTimeout: Duration = .seconds(2)
    /// How long a first subscriber waits for every alive peer to acknowledge the channel; peers that do not
    /// answer in time are probed at once (and suspected if they keep quiet).
    public var visibilityTimeout: Duration = .seconds(1)
    /// How long status queries wait for the other nodes' counts.
    public var statsTimeout: Duration = .seconds(1)
    /// Channel history (off unless `history.size` > 0).
    public var history = History.Settings()

    public init(nodeName: String, advertisedAddress: String, incarnation: UInt64) {
        self.nodeName = nodeName
        self.advertisedAddress = advertisedAddress
        self.incarnation = incarnation
    }

    /// The settings of the pure cluster instance.
    public var core: Cluster.Settings {
        var core = Cluster.Settings()
        core.membership = membership
        core.interest = interest
        core.forwardTimeout = forwardTimeout
        core.visibilityTimeout = visibilityTimeout
        core.statsTimeout = statsTimeout
        core.history = history
        return core
    }
}
