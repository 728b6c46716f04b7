import Crypto

/// The mesh handshake's values and proofs.
///
/// The dialer opens `POST /v1/mesh` with its identity and a random nonce in headers. The listener
/// answers `200` with its identity, its nonce and, with a cluster secret, its proof. The dialer
/// checks that proof, then sends its own proof as the first body frame (kind `proof`). The listener
/// checks it and answers with a `welcome` frame; only then does either side accept application frames.
/// A proof is `HMAC-SHA256(secret, "rocketws-mesh-v1|" + role + "|" + dialerNonce + "|" + listenerNonce + "|" + dialerName + "|" + listenerName)`.
enum PeerHandshake {
    static let path = "/v1/mesh"
    static let healthPath = "/v1/health"
    static let nodeHeader = "x-mesh-node"
    static let addressHeader = "x-mesh-address"
    static let incarnationHeader = "x-mesh-incarnation"
    static let nonceHeader = "x-mesh-nonce"
    static let proofHeader = "x-mesh-proof"

    /// Mesh-reserved frame kinds.
    enum Kind {
        /// Dialer -> listener: the dialer's proof (empty without a secret). Always the first frame.
        static let proof: UInt8 = 0
        /// Listener -> dialer: the handshake succeeded and the link is registered.
        static let welcome: UInt8 = 1
        /// Listener -> dialer: the link was refused as a duplicate of an existing one.
        static let duplicate: UInt8 = 2
    }

    static func makeNonce() -> String {
        var rng = SystemRandomNumberGenerator()
        return (0..<2).map { _ in String(rng.next() as UInt64, radix: 16) }.joined(separator: "-")
    }

    static func proof(
        secret: String, role: String, dialerNonce: String, listenerNonce: String, dialerName: String, listenerName: String
    ) -> [UInt8] {
        let message = "rocketws-mesh-v1|\(role)|\(dialerNonce)|\(listenerNonce)|\(dialerName)|\(listenerName)"
        let key = SymmetricKey(data: Array(secret.utf8))
        return Array(HMAC<SHA256>.authenticationCode(for: Array(message.utf8), using: key))
    }

    static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
    }

    /// Constant-time comparison.
    static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        for i in a.indices { diff |= a[i] ^ b[i] }
        return diff == 0
    }
}
