import NIOCore

/// A handle on the current link to one peer, for hot paths that send many frames to the same
/// peer: `send` skips the mesh's peer lookup (one mutex instead of two per frame).
///
/// The handle is bound to one connection. Once that link closes or is replaced, `send` answers
/// `.notConnected` for good; ask `PeerMesh.sender(to:)` for a fresh handle then.
public struct PeerSender: Sendable {
    let link: PeerLink

    /// The peer this handle sends to.
    public var peer: PeerIdentity { link.identity }

    /// Queues one frame, exactly like `PeerMesh.send(kind:payload:to:)`. Thread-safe.
    @discardableResult
    public func send(kind: UInt8, payload: ByteBuffer) -> PeerSendResult {
        precondition(kind >= PeerFrame.firstApplicationKind, "frame kinds 0-15 are reserved for the mesh")
        return link.send(kind: kind, payload: payload)
    }
}

extension PeerMesh {
    /// A handle on the live link to `peerName`, or nil when not connected.
    public func sender(to peerName: String) -> PeerSender? {
        state.withLock { $0.links[peerName] }.map(PeerSender.init(link:))
    }
}
