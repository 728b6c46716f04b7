import JWTKit

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Connection tokens for tests, signed the way a backend would: HS256 JWTs with `sub`, `exp`, and optionally
/// `info` and `channels` (jwt-kit).
public enum TestTokens {
    /// A secret long enough for `--token-secret`.
    public static let secret = "presence-test-secret-0123456789abcdef"

    private struct Claims: JWTPayload {
        var sub: SubjectClaim
        var exp: ExpirationClaim
        var info: [String: String]?
        var channels: [String]?
        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    /// A token for `user`, expiring `expiresIn` seconds from now (negative: already expired), signed with `secret`.
    public static func mint(
        user: String, info: [String: String]? = nil, channels: [String]? = nil, expiresIn: Double = 3600, secret: String = Self.secret
    ) async throws -> String {
        let keys = await JWTKeyCollection().add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
        let claims = Claims(sub: SubjectClaim(value: user), exp: ExpirationClaim(value: Date().addingTimeInterval(expiresIn)), info: info, channels: channels)
        return try await keys.sign(claims)
    }
}
