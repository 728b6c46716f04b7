import RocketWSProtocol

/// Where a client connects: parsed from `ws://HOST:PORT/path`, `http://HOST:PORT/`, `HOST:PORT`,
/// `:PORT` (localhost) or `[::1]:PORT` (the address part by ``HostPort``, host 127.0.0.1 and port 80 by default).
public struct Endpoint: Sendable, Hashable, CustomStringConvertible {
    public var scheme: String
    public var host: String
    public var port: Int
    public var path: String

    public init(scheme: String, host: String, port: Int, path: String = "/") {
        self.scheme = scheme
        self.host = host
        self.port = port
        self.path = path.isEmpty ? "/" : path
    }

    /// Parses `text`; `defaultScheme` applies when it has none, and the port defaults to 80 for
    /// `http`/`ws` when the text has none.
    public init(parsing text: String, defaultScheme: String = "http") throws(EndpointError) {
        var rest = Substring(text.trimmingWhitespace())
        var scheme = defaultScheme
        if let colon = rest.firstIndex(of: ":"), rest[colon...].hasPrefix("://") {
            scheme = rest[..<colon].lowercased()
            rest = rest[rest.index(colon, offsetBy: 3)...]
        }
        guard ["http", "ws"].contains(scheme) else {
            throw EndpointError(text: text, reason: "unsupported scheme '\(scheme)' (use http:// or ws://)")
        }
        var path = "/"
        if let slash = rest.firstIndex(of: "/") {
            path = String(rest[slash...])
            rest = rest[..<slash]
        }
        let address: HostPort
        do {
            address = try HostPort(parsing: rest, defaultHost: "127.0.0.1", defaultPort: 80)
        } catch {
            throw EndpointError(text: text, reason: error.reason)
        }
        self.init(scheme: scheme, host: address.host, port: address.port, path: path)
    }

    /// `HOST:PORT` as used in a `Host` header (IPv6 addresses in brackets).
    public var hostHeader: String { HostPort(host: self.host, port: self.port).description }

    public var description: String { "\(self.scheme)://\(self.hostHeader)\(self.path)" }
}

/// A URL or `HOST:PORT` that could not be understood.
public struct EndpointError: Error, Equatable, CustomStringConvertible {
    public var text: String
    public var reason: String
    public var description: String { "invalid address '\(self.text)': \(self.reason)" }
}

extension String {
    func trimmingWhitespace() -> String {
        var scalars = Substring(self)
        while let first = scalars.first, first.isWhitespace { scalars.removeFirst() }
        while let last = scalars.last, last.isWhitespace { scalars.removeLast() }
        return String(scalars)
    }
}
