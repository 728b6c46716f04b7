extension ClusterShell {
    /// Reads the mesh's TLS files again (SIGHUP); see `PeerMesh.reloadTLS()`.
    @discardableResult
    public func reloadPeerTLS() -> Bool { mesh.reloadTLS() }
}
