import NIOCore

/// Who a peer is: exchanged in the mesh handshake.
public struct PeerIdentity: Sendable, Hashable, CustomStringConvertible {
    /// Unique node name in the cluster (the integrator maps members by name).
    public var name: String
    /// The advertised `host:port` other nodes dial to reach this node's peer port.
    /// It may differ from the address a connection was dialed with (e.g. a DNS seed name).
    public var address: String
    /// Process incarnation: a restarted process must use a higher value, so that its new
    /// connection replaces the old one immediately.
    public var incarnation: UInt64

    public init(name: String, address: String, incarnation: UInt64) {
        self.name = name
        self.address = address
        self.incarnation = incarnation
    }

    public var description: String { "\(name)@\(address)#\(incarnation)" }
}

/// The outcome of `PeerMesh.send`.
public enum PeerSendResult: Sendable, Hashable {
    /// The frame is in the peer's outbound queue; it will be written in order after every frame queued before it.
    case queued
    /// No authenticated connection to that peer exists right now; nothing was queued.
    case notConnected
    /// The peer's outbound queue is full (`PeerMeshSettings.maxQueueBytes`), or the payload exceeds
    /// `PeerMeshSettings.maxFrameBytes`; the frame was dropped and counted.
    case dropped
}

/// A snapshot of one live peer link.
public struct PeerLinkStats: Sendable, Hashable {
    public var peer: PeerIdentity
    /// True when this side dialed the connection.
    public var dialedByUs: Bool
    /// Bytes accepted by `send` and not yet handed to HTTP/2 (bounded by `maxQueueBytes`).
    public var queuedBytes: Int
    /// Frames refused because the queue was full.
    public var droppedFrames: UInt64
    /// Frames accepted by `send` on this link.
    public var sentFrames: UInt64
    /// Application frames received and delivered on this link.
    public var receivedFrames: UInt64
    /// The last HTTP/2 PING round-trip time, if one completed.
    public var rtt: Duration?
}

/// Receives the mesh's events. Every method is called on an event loop and must not block.
public protocol PeerMeshDelegate: AnyObject, Sendable {
    /// A peer finished the handshake (authenticated). Called on an event loop; must not block.
    func peerMesh(_ mesh: PeerMesh, didConnect peer: PeerIdentity)
    /// The link to a peer went away (closed, lost, or replaced by a newer incarnation).
    func peerMesh(_ mesh: PeerMesh, didDisconnect peer: PeerIdentity)
    /// One application frame, in per-sender order. `kind` is opaque to the mesh (the integrator
    /// defines kinds >= 16; 0-15 are reserved for the mesh itself).
    func peerMesh(_ mesh: PeerMesh, didReceive kind: UInt8, payload: ByteBuffer, from peer: PeerIdentity)
}
