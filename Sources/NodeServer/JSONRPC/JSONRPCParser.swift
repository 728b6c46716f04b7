import NIOCore

/// One element of a request body: a request ready to dispatch, or an error to answer with.
public enum JSONRPCEntry: Sendable {
    case request(JSONRPCRequest)
    /// Not a valid request; answered with `error` and the id when one could be read.
    case invalid(JSONRPCError, id: [UInt8]?)
}

/// A whole request body as JSON-RPC 2.0 sees it.
public enum JSONRPCBody: Sendable {
    case single(JSONRPCEntry)
    case batch([JSONRPCEntry])
    /// Not JSON (-32700) or an empty batch (-32600): one error answer with a null id.
    case invalid(JSONRPCError)
}

/// Parses request bodies per JSON-RPC 2.0: validates the whole text first (so broken JSON is always
/// -32700), then checks the envelope of each request (-32600), leaving params as byte ranges.
public enum JSONRPCParser {
    /// Parses one body (an HTTP POST body or a WebSocket text message).
    public static func parse(_ buffer: ByteBuffer) -> JSONRPCBody {
        buffer.withUnsafeReadableBytes { raw -> JSONRPCBody in
            var scanner = JSONScanner(raw)
            let top: (kind: JSONKind, range: Range<Int>)
            do {
                top = try scanner.skipValue()
                try scanner.expectEnd()
            } catch {
                return .invalid(.parseError)
            }
            guard top.kind == .array else {
                return .single(entry(raw, top, buffer))
            }
            var elements: [(JSONKind, Range<Int>)] = []
            var inner = JSONScanner(raw, from: top.range.lowerBound + 1)
            if inner.consume(UInt8(ascii: "]")) {
                return .invalid(.invalidRequest("empty batch"))
            }
            // Already validated: these cannot fail.
            repeat {
                guard let element = try? inner.skipValue() else { break }
                elements.append(element)
            } while inner.consume(UInt8(ascii: ","))
            return .batch(elements.map { entry(raw, $0, buffer) })
        }
    }

    private static func entry(
        _ raw: UnsafeRawBufferPointer,
        _ value: (kind: JSONKind, range: Range<Int>),
        _ buffer: ByteBuffer
    ) -> JSONRPCEntry {
        guard value.kind == .object else {
            return .invalid(.invalidRequest("a request must be a JSON object"), id: nil)
        }
        var scanner = JSONScanner(raw, from: value.range.lowerBound + 1)
        var version: JSONValue?
        var method: JSONValue?
        var id: (JSONKind, Range<Int>)?
        var params: (JSONKind, Range<Int>)?
        do {
            if !scanner.consume(UInt8(ascii: "}")) {
                repeat {
                    let key = try scanner.readString()
                    try scanner.expect(UInt8(ascii: ":"))
                    switch key {
                    case "jsonrpc": version = try scanner.stringMember()
                    case "method": method = try scanner.stringMember()
                    case "id": id = try scanner.skipValue()
                    case "params": params = try scanner.skipValue()
                    default: _ = try scanner.skipValue()
                    }
                } while scanner.consume(UInt8(ascii: ","))
            }
        } catch {
            return .invalid(.parseError, id: nil)  // unreachable: validated above
        }
        var idBytes: [UInt8]?
        if let (kind, range) = id {
            guard kind == .string || kind == .number || kind == .null else {
                return .invalid(.invalidRequest("\"id\" must be a string, a number or null"), id: nil)
            }
            idBytes = Array(raw[range])
        }
        guard version == .string("2.0") else {
            return .invalid(.invalidRequest("\"jsonrpc\" must be \"2.0\""), id: idBytes ?? Array("null".utf8))
        }
        guard let name = method?.stringValue else {
            return .invalid(.invalidRequest("\"method\" must be a string"), id: idBytes ?? Array("null".utf8))
        }
        if let (kind, _) = params, kind != .object, kind != .array {
            return .invalid(.invalidRequest("\"params\" must be an object or an array"), id: idBytes ?? Array("null".utf8))
        }
        return .request(JSONRPCRequest(method: name, id: idBytes, source: buffer, params: params))
    }
}
