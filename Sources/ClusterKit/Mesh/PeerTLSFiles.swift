/// The PEM files of the encrypted mesh (`--peer-tls-cert`, `--peer-tls-key`, `--peer-tls-ca`): this node's
/// certificate chain and key, presented to peers that dial it and to peers it dials, and the CA bundle every
/// peer's certificate must be signed by (mutual TLS).
public struct PeerTLSFiles: Sendable, Equatable {
    /// PEM certificate chain, leaf first.
    public var certificatePath: String
    /// PEM private key of the leaf certificate.
    public var keyPath: String
    /// PEM bundle of the CAs peers' certificates must chain to (several during a rotation).
    public var caPath: String

    public init(certificatePath: String, keyPath: String, caPath: String) {
        self.certificatePath = certificatePath
        self.keyPath = keyPath
        self.caPath = caPath
    }
}
