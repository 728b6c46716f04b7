import ClusterKit
import NIOCore
import Synchronization
import ServiceLifecycle

/// The cluster of one: a node started without peers, or in tests of the serving side alone.
public final class SoloCluster: ClusterLink {
    public let localName: String
    public let localIncarnation: UInt64
    let presence: Mutex<SoloPresence>
    private let delegateBox = Mutex(WeakDelegate())
    /// Where presence events and backend orders go (the node's API).
    var delegate: (any ClusterDeliveryDelegate)? { delegateBox.withLock { $0.value } }

    public init(name: String, incarnation: UInt64 = 1) {
        self.localName = name
        self.localIncarnation = incarnation
        self.presence = Mutex(SoloPresence(table: PresenceTable(nodeName: name, epoch: max(1, incarnation))))
    }

    public func setDelegate(_ delegate: any ClusterDeliveryDelegate) {
        delegateBox.withLock { $0.value = delegate }
    }

    public func localChannelActivated(_ channel: String, on loop: any EventLoop) -> EventLoopFuture<Void> {
        loop.makeSucceededVoidFuture()
    }
    public func whenVisible(_ channel: String, on loop: any EventLoop) -> EventLoopFuture<Void> {
        loop.makeSucceededVoidFuture()
    }
    public func localChannelDeactivated(_ channel: String) {}
    public func forward(channel: String, data: ByteBuffer, timestamp: Int, awaitCounts: Bool, on loop: any EventLoop) -> EventLoopFuture<[NodeCount]> {
        loop.makeSucceededFuture([])
    }
    public func forwardBroadcast(data: ByteBuffer, timestamp: Int, awaitCounts: Bool, on loop: any EventLoop) -> EventLoopFuture<[NodeCount]> {
        loop.makeSucceededFuture([])
    }
    public var historyEnabled: Bool { false }
    public func historyAppend(channel: String, data: ByteBuffer, timestamp: Int, tag: UInt64, on loop: any EventLoop) -> EventLoopFuture<History.AppendOutcome> {
        loop.makeSucceededFuture(.notAccepted)
    }
    public func historyRead(channel: String, after: UInt64?, limit: Int?, unixTime: Int, on loop: any EventLoop) -> EventLoopFuture<History.ReadOutcome<ByteBuffer>> {
        loop.makeSucceededFuture(nil)
    }
    public var historyKeptCounts: (messages: Int, bytes: Int) { (0, 0) }
    public func remoteStats(on loop: any EventLoop) -> EventLoopFuture<[LocalStats]> { loop.makeSucceededFuture([]) }
    public func remoteMembers() -> [MemberView] { [] }
    public func start() async throws -> Int? { nil }
    public func leave() async {}
    public var meshService: (any Service)? { nil }
    public func linkStats() -> [PeerLinkStats] { [] }
    public func reloadPeerTLS() -> Bool { false }

    /// Nothing to join or leave: waits for the node's graceful shutdown.
    public func run() async throws {
        try? await gracefulShutdown()
    }
}

struct WeakDelegate: Sendable {
    weak var value: (any ClusterDeliveryDelegate)?
}
