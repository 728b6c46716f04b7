/// Why a connection token was refused (HTTP 401 on the upgrade, or `-32005` and close 1008).
public enum TokenRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    /// No token came with the connection.
    case missing
    /// Not a JWT, or its claims do not have the contract's shape (`sub` string, `exp` number, `info` object of
    /// at most 1 KiB, `channels` array of strings).
    case malformed(String)
    /// The signature is not this node's `--token-secret`'s (HS256).
    case wronglySigned
    /// `exp` is in the past by more than the allowed clock skew.
    case expired

    public var description: String {
        switch self {
        case .missing: "a connection token is required (?token=JWT or a first \"connect\" request)"
        case .malformed(let why): "malformed connection token: \(why)"
        case .wronglySigned: "connection token signature is not valid"
        case .expired: "connection token has expired"
        }
    }
}
