import NIOCore

/// One JSON-RPC 2.0 request or notification, still in the bytes it arrived in: `params` is a byte range
/// of `source`, so the message path never builds an object tree for the data it forwards.
public struct JSONRPCRequest: Sendable {
    /// The method name.
    public var method: String
    /// The raw JSON text of the id; `nil` for a notification (no `id` member).
    public var id: [UInt8]?
    /// The buffer the request was read from.
    public var source: ByteBuffer
    /// Byte range of `params` within `source`'s readable bytes, and its kind.
    var params: (kind: JSONKind, range: Range<Int>)?

    /// Whether the caller expects no answer.
    public var isNotification: Bool { id == nil }
}

/// The parameters of `emit` and `send_data`: a channel and the raw bytes of the `data` object.
public struct ChannelData: Sendable {
    /// The channel name (1 to 255 bytes of UTF-8).
    public var channel: String
    /// The `data` object exactly as received: a slice of the request buffer.
    public var data: ByteBuffer
}

extension JSONRPCRequest {
    /// Longest channel name accepted, in bytes of UTF-8.
    public static let maxChannelBytes = 255

    /// The params as a value tree (for the methods that are not on the message path).
    public func paramsValue() -> JSONValue? {
        guard let params else { return nil }
        return source.withUnsafeReadableBytes { raw -> JSONValue? in
            try? JSONValue(parsing: UnsafeRawBufferPointer(rebasing: raw[params.range]))
        }
    }

    /// The required `channel` param, validated.
    public func channelParam() -> Result<String, JSONRPCError> {
        guard let value = paramsValue(), value.isObject else {
            return .failure(.invalidParams("params must be an object with a \"channel\""))
        }
        return Self.validateChannel(value["channel"])
    }

    /// The optional `channel` param: `nil` when params or channel are absent.
    public func optionalChannelParam() -> Result<String?, JSONRPCError> {
        guard let value = paramsValue() else { return .success(nil) }
        guard value.isObject else { return .failure(.invalidParams("params must be an object")) }
        guard let channel = value["channel"], channel != .null else { return .success(nil) }
        return Self.validateChannel(channel).map { Optional($0) }
    }

    static func validateChannel(_ value: JSONValue?) -> Result<String, JSONRPCError> {
        guard let value else { return .failure(.invalidParams("missing \"channel\"")) }
        guard let channel = value.stringValue else { return .failure(.invalidParams("\"channel\" must be a string")) }
        guard !channel.isEmpty else { return .failure(.invalidParams("\"channel\" must not be empty")) }
        guard channel.utf8.count <= maxChannelBytes else {
            return .failure(.invalidParams("\"channel\" is longer than \(maxChannelBytes) bytes"))
        }
        return .success(channel)
    }

    /// The `data` param alone (`notify_all`): an object, kept as raw bytes.
    public func dataParam() -> Result<ByteBuffer, JSONRPCError> {
        switch scanChannelAndData(needChannel: false) {
        case .success(let found): return .success(found.data)
        case .failure(let error): return .failure(error)
        }
    }

    /// `channel` and `data` (`emit`, `send_data`) without decoding `data`.
    public func channelAndData() -> Result<ChannelData, JSONRPCError> {
        scanChannelAndData(needChannel: true)
    }

    private func scanChannelAndData(needChannel: Bool) -> Result<ChannelData, JSONRPCError> {
        guard let params, params.kind == .object else {
            return .failure(.invalidParams(needChannel ? "params must be an object with \"channel\" and \"data\"" : "params must be an object with \"data\""))
        }
        let found = source.withUnsafeReadableBytes { raw -> (channel: JSONValue?, data: (JSONKind, Range<Int>)?) in
            var scanner = JSONScanner(raw, from: params.range.lowerBound)
            var channel: JSONValue?
            var data: (JSONKind, Range<Int>)?
            do {
                try scanner.expect(UInt8(ascii: "{"))
                if !scanner.consume(UInt8(ascii: "}")) {
                    repeat {
                        let key = try scanner.readString()
                        try scanner.expect(UInt8(ascii: ":"))
                        switch key {
                        case "channel": channel = try scanner.stringMember()
                        case "data": data = try scanner.skipValue()
                        default: _ = try scanner.skipValue()
                        }
                    } while scanner.consume(UInt8(ascii: ","))
                }
            } catch {
                return (nil, nil)  // cannot happen: the range was validated when the request was parsed
            }
            return (channel, data)
        }
        var channel = ""
        if needChannel {
            switch Self.validateChannel(found.channel) {
            case .success(let c): channel = c
            case .failure(let e): return .failure(e)
            }
        }
        guard let (kind, range) = found.data else { return .failure(.invalidParams("missing \"data\"")) }
        guard kind == .object else { return .failure(.invalidParams("\"data\" must be an object")) }
        let slice = source.getSlice(at: source.readerIndex + range.lowerBound, length: range.count)!
        return .success(ChannelData(channel: channel, data: slice))
    }
}
