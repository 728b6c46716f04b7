import ClusterKit
import NIOCore
import Logging

/// Everything a node is started with; `rocketws-node` fills it from flags and environment variables.
public struct NodeConfiguration: Sendable {
    /// WebSocket listener (`--ws-conn`).
    public var webSocketAddress = HostPort(host: "0.0.0.0", port: 58000)
    /// MessagesSource listener (`--ms-conn`) and its limits and key.
    public var messagesSource = HTTPMessagesSourceSettings()
    /// Peer-mesh listener (`--peer-conn`).
    public var peerAddress = HostPort(host: "0.0.0.0", port: 59998)
    /// Unique node name (`--node-name`); defaults to host name + peer port.
    public var nodeName: String?
    /// `HOST:PORT` other nodes dial to reach this node (`--advertise`); derived when nil.
    public var advertise: String?
    /// Seeds to join through (`--join`).
    public var join: [String] = []
    /// Shared cluster secret (`--cluster-secret`).
    public var clusterSecret: String?
    /// Bytes queued for one peer before frames to it are dropped and counted (`--peer-queue-bytes`).
    public var peerQueueBytes = PeerMeshSettings().maxQueueBytes
    /// TLS files of the peer mesh (`--peer-tls-cert`, `--peer-tls-key`, `--peer-tls-ca`); nil: h2c.
    public var peerTLS: PeerTLSFiles?
    /// Channel history (`--history-size`, `--history-ttl-s`); off when its size is 0.
    public var history = History.Settings()
    /// Per-client WebSocket settings (limits, queue bound, origins).
    public var webSocket = WebSocketSettings()
    /// Event loop threads; defaults to the number of cores.
    public var eventLoopThreads: Int = System.coreCount
    /// Nice level added to the client (fan-out) loop threads so the backend and cluster loops win the CPU
    /// when it is saturated; 0 leaves them alone.
    public var fanOutNice: Int32 = 10
    /// The RabbitMQ message source (`--amqp-url` ...); nil: off.
    public var amqp: AMQPSourceSettings?
    /// Whether to run as a cluster member (peer listener, gossip); off only for the serving side alone.
    public var clustered = true

    public init() {}
}

extension NodeConfiguration {
    /// The cluster layer's settings for this configuration (seeds, the peer listener, secret, queue bound,
    /// TLS), with the node's identity: a peer frame always has room for the largest message a client may send.
    public func clusterSettings(nodeName: String, advertisedAddress: String, incarnation: UInt64) -> ClusterSettings {
        var settings = ClusterSettings(nodeName: nodeName, advertisedAddress: advertisedAddress, incarnation: incarnation)
        settings.seeds = join
        settings.mesh.listenHost = peerAddress.host
        settings.mesh.listenPort = peerAddress.port
        settings.mesh.clusterSecret = clusterSecret
        settings.mesh.maxQueueBytes = peerQueueBytes
        settings.mesh.tls = peerTLS
        settings.mesh.maxFrameBytes = max(settings.mesh.maxFrameBytes, webSocket.maxMessageBytes + 1024)
        settings.history = history
        // A node started alone serves history alone; one started with seeds waits for a backup.
        settings.history.soloAllowed = join.isEmpty
        return settings
    }
}
