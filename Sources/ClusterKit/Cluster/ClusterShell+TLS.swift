extension ClusterShell {
    /// Reads the mesh's TLS files again (SIGHUP); see `PeerMesh.reloadTLS()`.
    @discardableResult
    public func reloadPeerTLS() -> Bool { mesh.reloadTLS() }

    /// Peer connections refused so far (handshake, secret, TLS).
    public var refusedPeerConnections: UInt64 { mesh.refusedConnections }
}
