import Crypto

/// Tokens for `private-` channels. The browser asks its connection id (`connection_id`), sends it to its own
/// backend, which (after its own authentication) answers with
/// `hex(HMAC-SHA256(key: private channel secret, message: "<connection id>:<channel>"))`; the browser then
/// subscribes with `{"channel": "private-…", "token": "<hex>"}`. A token is valid for that connection only.
public enum PrivateChannelToken {
    /// Channels whose names start with this need a token.
    public static let prefix = "private-"

    /// The token a backend computes for `connectionID` and `channel`.
    public static func sign(connectionID: String, channel: String, secret: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Array("\(connectionID):\(channel)".utf8), using: SymmetricKey(data: Array(secret.utf8)))
        return mac.map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }

    /// Whether `token` is the right one (compared in constant time).
    public static func verify(_ token: String, connectionID: String, channel: String, secret: String) -> Bool {
        let expected = Array(sign(connectionID: connectionID, channel: channel, secret: secret).utf8)
        let given = Array(token.lowercased().utf8)
        guard expected.count == given.count else { return false }
        var difference: UInt8 = 0
        for i in 0..<expected.count { difference |= expected[i] ^ given[i] }
        return difference == 0
    }
}
