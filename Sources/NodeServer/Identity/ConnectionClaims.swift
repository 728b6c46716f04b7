import JWTKit
import RocketWSProtocol

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The claims of a connection token as jwt-kit decodes them. Claim checks (expiry with clock skew, the size
/// of `info`) are made by ``ConnectionTokenVerifier`` after the signature was verified.
struct ConnectionClaims: JWTPayload {
    var sub: SubjectClaim
    var exp: ExpirationClaim
    var info: JSONValue?
    var channels: [String]?

    /// Signature-only here: the verifier checks the claims itself, with its own clock.
    func verify(using algorithm: some JWTAlgorithm) async throws {}
}
