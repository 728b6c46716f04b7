/// A host and a port, and the one parser of the package's `HOST:PORT` forms: `HOST:PORT`, `:PORT` (the
/// default host), `[IPv6]:PORT`, and `HOST` alone where a default port applies. An IPv6 address needs its
/// brackets. Every caller states its defaults: the node's listen flags (`0.0.0.0`, port 0 allowed), peer
/// addresses and client URLs (`127.0.0.1`), the AMQP URL (port 5672).
public struct HostPort: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `text`.
    /// - Parameters:
    ///   - defaultHost: the host of `:PORT`; nil: a host is required.
    ///   - defaultPort: the port when `text` has none; nil: a port is required.
    ///   - ports: the ports accepted.
    /// - Throws: ``HostPortError`` saying what is wrong.
    public init(
        parsing text: some StringProtocol, defaultHost: String?, defaultPort: Int? = nil, ports: ClosedRange<Int> = 1...65535
    ) throws(HostPortError) {
        let text = Substring(text)
        var host: Substring
        var portText: Substring?
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw HostPortError(text: String(text), reason: "missing ']' in IPv6 address") }
            host = text[text.index(after: text.startIndex)..<close]
            let after = text[text.index(after: close)...]
            if after.hasPrefix(":") {
                portText = after.dropFirst()
            } else if !after.isEmpty {
                throw HostPortError(text: String(text), reason: "unexpected text after IPv6 address")
            }
        } else if let colon = text.lastIndex(of: ":") {
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            if host.contains(":") { throw HostPortError(text: String(text), reason: "an IPv6 address needs brackets: [ADDRESS]:PORT") }
        } else {
            host = text
        }
        if host.isEmpty {
            guard let defaultHost else { throw HostPortError(text: String(text), reason: "no host") }
            host = Substring(defaultHost)
        }
        let port: Int
        if let portText {
            guard let value = Int(portText), ports.contains(value) else {
                throw HostPortError(text: String(text), reason: "invalid port '\(portText)'")
            }
            port = value
        } else {
            guard let defaultPort else { throw HostPortError(text: String(text), reason: "missing ':PORT'") }
            port = defaultPort
        }
        self.init(host: String(host), port: port)
    }

    /// The form of the node's listen flags (`--ws-conn`, `--ms-conn`, `--peer-conn`, `--advertise`): a port is
    /// required (0 allowed: the system picks one), `:PORT` means `defaultHost`. Nil when `text` is not one.
    public init?(_ text: String, defaultHost: String = "0.0.0.0") {
        guard let parsed = try? HostPort(parsing: text, defaultHost: defaultHost, ports: 0...65535) else { return nil }
        self = parsed
    }

    /// `HOST:PORT`, an IPv6 host in brackets.
    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// A `HOST:PORT` text that could not be understood.
public struct HostPortError: Error, Equatable, CustomStringConvertible {
    public var text: String
    public var reason: String
    public var description: String { "invalid address '\(text)': \(reason)" }
}
