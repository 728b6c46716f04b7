import JWTKit
import RocketWSProtocol

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Verifies connection tokens: JWTs signed with HS256 under `--token-secret` (jwt-kit checks the signature),
/// then the contract's claims: `sub` (a non-empty string), `exp` (at most ``clockSkew`` in the past),
/// optional `info` (an object of at most ``maxInfoBytes`` as compact JSON) and `channels` (strings).
///
/// One verifier serves every WebSocket and SSE connection of a node; `verify` is safe from any thread.
public struct ConnectionTokenVerifier: Sendable {
    /// How far a token's `exp` may lie in the past (clocks of backend and node differ).
    public static let clockSkew: Duration = .seconds(30)
    /// Largest `info` claim, as compact JSON text.
    public static let maxInfoBytes = 1024
    /// HS256 wants a key at least as long as its output.
    public static let minimumSecretBytes = 32

    /// jwt-kit's key collection (an actor) holding the one HS256 key, set up once.
    private let keys: Task<JWTKeyCollection, Never>
    /// Unix time in seconds (tests set their own clock).
    private let clock: @Sendable () -> Double

    /// A verifier for tokens signed with `secret` (at least ``minimumSecretBytes`` bytes: the node refuses to
    /// start with a shorter one).
    public init(secret: String, clock: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }) {
        precondition(secret.utf8.count >= Self.minimumSecretBytes, "--token-secret must be at least 32 bytes")
        let key = HMACKey(from: secret)
        self.keys = Task { await JWTKeyCollection().add(hmac: key, digestAlgorithm: .sha256) }
        self.clock = clock
    }

    /// The identity `token` proves, or why it is refused.
    public func verify(_ token: String?) async throws(TokenRefusal) -> ConnectionIdentity {
        guard let token, !token.isEmpty else { throw .missing }
        let claims: ConnectionClaims
        do {
            claims = try await keys.value.verify(token, as: ConnectionClaims.self)
        } catch let error as JWTError where error.errorType == .signatureVerificationFailed {
            throw .wronglySigned
        } catch {
            throw .malformed(Self.reason(error))
        }
        let skew = Double(Self.clockSkew.components.seconds)
        guard claims.exp.value.timeIntervalSince1970 + skew > clock() else { throw .expired }
        guard !claims.sub.value.isEmpty, claims.sub.value.utf8.count <= 1024 else {
            throw .malformed("\"sub\" must be a user id of 1 to 1024 bytes")
        }
        var info = "{}"
        if let value = claims.info {
            guard value.isObject else { throw .malformed("\"info\" must be an object") }
            info = value.serialized()
            guard info.utf8.count <= Self.maxInfoBytes else { throw .malformed("\"info\" is larger than 1 KiB") }
        }
        return ConnectionIdentity(user: claims.sub.value, info: info, channels: Set(claims.channels ?? []))
    }

    private static func reason(_ error: any Error) -> String {
        if error is DecodingError { return "its claims need \"sub\" (string) and \"exp\" (number)" }
        if let error = error as? JWTError, error.errorType == .malformedToken { return "not a JWT" }
        return "not a valid HS256 JWT"
    }
}
