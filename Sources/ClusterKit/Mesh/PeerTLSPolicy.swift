/// What the mesh accepts of a finished TLS handshake, decided apart from the channel so that it can be tested
/// without one. The certificate checks themselves are BoringSSL's (through swift-nio-ssl).
enum PeerTLSPolicy {
    /// The only application protocol the peer port speaks over TLS.
    static let alpn = "h2"

    enum Verdict: Equatable {
        case accept
        case refuse(reason: String)
    }

    /// MUST be asked when a handshake completes: a peer that did not agree on `h2` is refused (it would not
    /// speak HTTP/2 on this connection).
    static func onHandshakeCompleted(negotiatedProtocol: String?) -> Verdict {
        guard negotiatedProtocol == alpn else {
            return .refuse(reason: "TLS peer did not negotiate ALPN \(alpn) (got \(negotiatedProtocol ?? "none"))")
        }
        return .accept
    }

    /// MUST be asked for an error that ends a connection before its handshake completed: it is a refusal
    /// (plaintext peer, untrusted or expired certificate, wrong name, no client certificate).
    static func onHandshakeError(_ error: any Error) -> Verdict {
        .refuse(reason: "TLS handshake failed: \(error)")
    }

    /// The first bytes a plaintext connection received look like a TLS record (a ClientHello from a dialler, an
    /// alert from a listener: content type 20-23, version 3.x): the other node uses TLS and this one does not.
    static func looksLikeTLSRecord(_ firstBytes: some Collection<UInt8>) -> Bool {
        guard firstBytes.count >= 3 else { return false }
        var bytes = firstBytes.makeIterator()
        guard let type = bytes.next(), (0x14...0x17).contains(type) else { return false }
        return bytes.next() == 0x03 && (bytes.next().map { $0 <= 0x04 } ?? false)
    }
}
