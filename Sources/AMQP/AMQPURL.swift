import RocketWSProtocol

/// `amqp://USER:PASS@HOST:PORT/VHOST` (the RabbitMQ URI spec): user and password default to guest/guest, the
/// port to 5672 and the virtual host to "/" (an empty path); `%2F` in the path is "/", and user, password and
/// virtual host are percent-decoded. `amqps` (TLS) is refused.
public struct AMQPURL: Equatable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var user: String
    public var password: String
    public var virtualHost: String

    public init(host: String, port: Int = 5672, user: String = "guest", password: String = "guest", virtualHost: String = "/") {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.virtualHost = virtualHost
    }

    /// Why a URL was refused.
    public struct ParseError: Error, Equatable, Sendable, CustomStringConvertible {
        public var description: String
    }

    public init(parsing text: String) throws(ParseError) {
        guard let colon = text.firstIndex(of: ":"), text[colon...].hasPrefix("://") else {
            throw ParseError(description: "'\(text)' is not amqp://USER:PASS@HOST:PORT/VHOST")
        }
        let scheme = text[..<colon].lowercased()
        guard scheme == "amqp" else {
            throw ParseError(description: scheme == "amqps" ? "amqps:// (TLS) is not supported: use amqp:// on a trusted network" : "scheme '\(scheme)' is not amqp")
        }
        var rest = text[text.index(colon, offsetBy: 3)...]
        if let query = rest.firstIndex(of: "?") { rest = rest[..<query] }
        var path: Substring?
        if let slash = rest.firstIndex(of: "/") {
            path = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
        }
        var user = "guest"
        var password = "guest"
        if let at = rest.lastIndex(of: "@") {
            let userInfo = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = userInfo.firstIndex(of: ":") {
                user = try Self.percentDecoded(userInfo[..<colon])
                password = try Self.percentDecoded(userInfo[userInfo.index(after: colon)...])
            } else {
                user = try Self.percentDecoded(userInfo)
                password = ""
            }
        }
        let address: HostPort
        do {
            address = try HostPort(parsing: rest, defaultHost: nil, defaultPort: 5672)
        } catch {
            throw ParseError(description: "\(error.reason) in '\(text)'")
        }
        self.host = address.host
        self.port = address.port
        self.user = user
        self.password = password
        if let path, !path.isEmpty {
            self.virtualHost = try Self.percentDecoded(path)
        } else {
            self.virtualHost = "/"
        }
    }

    private static func percentDecoded(_ text: Substring) throws(ParseError) -> String {
        var bytes: [UInt8] = []
        var utf8 = text.utf8[...]
        while let byte = utf8.popFirst() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard utf8.count >= 2, let value = UInt8(String(decoding: utf8.prefix(2), as: UTF8.self), radix: 16) else {
                throw ParseError(description: "bad percent escape in '\(text)'")
            }
            bytes.append(value)
            utf8 = utf8.dropFirst(2)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The URL without its password (for logs).
    public var description: String {
        let vhost = virtualHost == "/" ? "" : virtualHost.replacingSlashes
        let h = host.contains(":") ? "[\(host)]" : host
        return "amqp://\(user)@\(h):\(port)/\(vhost)"
    }
}

extension String {
    fileprivate var replacingSlashes: String {
        var result = ""
        for character in self { result += character == "/" ? "%2F" : String(character) }
        return result
    }
}
