import ClusterKit
import NIOCore
import ServiceLifecycle

/// What the serving side needs from the cluster. A single node uses `SoloCluster`; a clustered node
/// ClusterKit's `ClusterShell`. Futures complete on the loop they were asked on. As a service of the node it
/// joins at start and leaves at graceful shutdown.
public protocol ClusterLink: Service, AnyObject, Sendable {
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

    /// A connection of `user` subscribed to `channel` with presence (`info`: its token's info as JSON text).
    func presenceJoined(channel: String, user: String, info: String)
    /// A presence connection of `user` left `channel`.
    func presenceLeft(channel: String, user: String)
    /// `presence_stats`: users and connections in `channel`, cluster-wide.
    func presenceStats(channel: String, on loop: any EventLoop) -> EventLoopFuture<(users: Int, connections: Int)>
    /// `presence`: the members of `channel`, cluster-wide.
    func presenceMembers(channel: String, on loop: any EventLoop) -> EventLoopFuture<[PresenceMember]>
    /// A backend's `disconnect` or `unsubscribe` of a user, carried out on every node; the connections affected.
    func presenceOrder(_ request: PresenceRequest, on loop: any EventLoop) -> EventLoopFuture<Int>
    /// Whether channel history is on (`--history-size` > 0).
    var historyEnabled: Bool { get }
    /// Emits to a history channel through its owner; `tag` names the message on this node (unique per process).
    func historyAppend(channel: String, data: ByteBuffer, timestamp: Int, tag: UInt64, on loop: any EventLoop) -> EventLoopFuture<History.AppendOutcome>
    /// The kept messages of a history channel, from its owner (nil: no owner answered in time).
    func historyRead(channel: String, after: UInt64?, limit: Int?, unixTime: Int, on loop: any EventLoop) -> EventLoopFuture<History.ReadOutcome<ByteBuffer>>
    /// Messages and bytes of history this node keeps (owner and backup copies alike).
    var historyKeptCounts: (messages: Int, bytes: Int) { get }

    /// The local stats of every other alive node (bounded wait; nodes that do not answer are left out).
    func remoteStats(on loop: any EventLoop) -> EventLoopFuture<[LocalStats]>
    /// Every known member but this node.
    func remoteMembers() -> [MemberView]
    /// This node's incarnation.
    var localIncarnation: UInt64 { get }

    /// Starts membership and the mesh (once); returns the bound peer port (nil without a peer listener).
    func start() async throws -> Int?
    /// Tells the peers this node leaves and stops the membership protocol; the mesh stays up.
    func leave() async
    /// The peer mesh as a service of the node (it drains the forwards in flight when it stops); nil without one.
    var meshService: (any Service)? { get }
    /// Where forwarded messages and stats requests from peers go (the node's API).
    func setDelegate(_ delegate: any ClusterDeliveryDelegate)
    /// Per-peer link figures (queue depth, drops, frames, round-trip time) for `/metrics`.
    func linkStats() -> [PeerLinkStats]
    /// Reads the peer mesh's TLS files again (SIGHUP): new connections use them; false when they cannot be
    /// used (the old ones stay) or the mesh has no TLS.
    func reloadPeerTLS() -> Bool
}
