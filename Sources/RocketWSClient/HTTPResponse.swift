import NIOCore
import NIOHTTP1

/// One complete HTTP answer from the MessagesSource port.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: ByteBuffer

    public init(status: Int, headers: HTTPHeaders, body: ByteBuffer) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// The first value of header `name` (case-insensitive).
    public func header(_ name: String) -> String? { self.headers.first(name: name) }

    /// The body as UTF-8 text.
    public var text: String { String(buffer: self.body) }

    /// The body parsed as JSON.
    public func json() throws -> JSONValue {
        do {
            return try JSONValue(parsing: self.body.readableBytesView)
        } catch {
            throw ClientError.invalidResponse("HTTP \(self.status) body is not JSON: \(self.text.prefix(200))")
        }
    }
}
