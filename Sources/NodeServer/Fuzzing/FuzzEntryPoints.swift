import NIOCore
import NIOWebSocket

/// Entry points for the libFuzzer targets in `Fuzz/` (a separate package that sees only public API) and for
/// the fuzz regression tests. Each runs the real code under test and traps (`precondition`) when an output
/// breaks an invariant, so libFuzzer reports it like a crash. Not for production use.
public enum FuzzEntryPoints {
    /// The JSON-RPC parser on one body, then everything the node does with a parsed request's params:
    /// `channelAndData`, `dataParam`, `paramsValue`, the channel params and `PushFrame.make`; every error
    /// answer and push frame built on the way must itself be valid JSON.
    /// Also: the validating scanner and the tree builder agree on what is JSON, and a tree written back
    /// parses to the same tree.
    public static func _jsonRPC(_ input: UnsafeRawBufferPointer) {
        let tree = try? JSONValue(parsing: input)
        precondition((tree != nil) == isJSON(input), "the scanner and the parser disagree on the input")
        if let tree {
            var text: [UInt8] = []
            tree.write(into: &text)
            precondition((try? JSONValue(parsing: text)) == tree, "a parsed value written back parses differently")
        }
        var buffer = ByteBufferAllocator().buffer(capacity: input.count)
        buffer.writeBytes(input)
        let entries: [JSONRPCEntry]
        switch JSONRPCParser.parse(buffer) {
        case .invalid(let error):
            checkJSON(JSONRPCResponse.error(error, id: nil), "top-level error answer")
            return
        case .single(let entry): entries = [entry]
        case .batch(let batch): entries = batch
        }
        var answers: [[UInt8]] = []
        for entry in entries {
            switch entry {
            case .invalid(let error, let id):
                precondition(error != .parseError, "a validated body failed to parse as requests")
                answers.append(JSONRPCResponse.error(error, id: id))
            case .request(let request):
                answers.append(contentsOf: exercise(request))
            }
        }
        if let batch = JSONRPCResponse.batch(answers) { checkJSON(batch, "batch answer") }
    }

    private static func exercise(_ request: JSONRPCRequest) -> [[UInt8]] {
        var answers: [[UInt8]] = []
        let id = request.id ?? JSONRPCResponse.nullID
        if let value = request.paramsValue() {
            var text: [UInt8] = []
            value.write(into: &text)
            checkJSON(text, "params written back")
            answers.append(JSONRPCResponse.result(value, id: id))
        }
        for result in [request.channelParam(), request.optionalChannelParam().map { $0 ?? "" }] {
            if case .failure(let error) = result { answers.append(JSONRPCResponse.error(error, id: id)) }
        }
        switch request.dataParam() {
        case .success(let data):
            let frame = PushFrame.make(data: data, kind: .broadcast, timestamp: 1_700_000_000, channel: nil, allocator: ByteBufferAllocator())
            checkPush(frame, data: data, meta: ["__type": .string("broadcast"), "__ts": .int(1_700_000_000)])
            precondition(try! JSONValue(parsing: data.readableBytesView) == request.paramsValue()?["data"], "data is not the params' data member")
        case .failure(let error):
            answers.append(JSONRPCResponse.error(error, id: id))
        }
        switch request.channelAndData() {
        case .success(let found):
            let frame = PushFrame.make(data: found.data, kind: .message, timestamp: -1, channel: found.channel, allocator: ByteBufferAllocator())
            checkPush(frame, data: found.data, meta: ["__type": .string("message"), "__ts": .int(-1), "__channel": .string(found.channel)])
            precondition(.string(found.channel) == request.paramsValue()?["channel"], "channel is not the params' channel member")
        case .failure(let error):
            answers.append(JSONRPCResponse.error(error, id: id))
        }
        for answer in answers { checkJSON(answer, "answer") }
        return answers
    }

    /// A push frame must be one unmasked FIN text frame whose payload is the `data` object with the `meta`
    /// members added (replacing members of the same name).
    private static func checkPush(_ frame: ByteBuffer, data: ByteBuffer, meta: [String: JSONValue]) {
        var frame = frame
        guard let payload = readServerFrame(&frame), frame.readableBytes == 0 else { preconditionFailure("push frame is not one frame") }
        precondition(payload.opcode == 0x1, "push frame is not a text frame")
        let bytes = Array(payload.payload.readableBytesView)
        checkJSON(bytes, "push payload")
        guard case .object(var members) = try! JSONValue(parsing: data.readableBytesView) else { preconditionFailure("data is not an object") }
        members.merge(meta) { _, new in new }
        precondition(try! JSONValue(parsing: bytes) == .object(members), "push payload is not data plus the meta members")
    }

    /// Traps unless `bytes` is one complete JSON text.
    static func checkJSON(_ bytes: [UInt8], _ what: StaticString) {
        let valid = bytes.withUnsafeBytes { isJSON($0) }
        precondition(valid, "\(what) is not valid JSON: \(String(decoding: bytes, as: UTF8.self))")
    }

    /// Whether `bytes` is one complete JSON text, per the validating scanner.
    static func isJSON(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var scanner = JSONScanner(bytes)
        do {
            _ = try scanner.skipValue()
            try scanner.expectEnd()
            return true
        } catch {
            return false
        }
    }

    /// Reads one server-to-client frame (FIN, unmasked) from `buffer`.
    static func readServerFrame(_ buffer: inout ByteBuffer) -> (opcode: UInt8, payload: ByteBuffer)? {
        guard let first = buffer.readInteger(as: UInt8.self), let second = buffer.readInteger(as: UInt8.self) else { return nil }
        precondition(first & 0xF0 == 0x80, "server frame without FIN or with RSV bits")
        precondition(second & 0x80 == 0, "server frame is masked")
        var length = Int(second & 0x7F)
        if length == 126 {
            guard let l = buffer.readInteger(as: UInt16.self) else { return nil }
            precondition(l >= 126, "frame length not minimally encoded")
            length = Int(l)
        } else if length == 127 {
            guard let l = buffer.readInteger(as: UInt64.self), l <= UInt64(Int.max) else { return nil }
            precondition(l > UInt64(UInt16.max), "frame length not minimally encoded")
            length = Int(l)
        }
        guard let payload = buffer.readSlice(length: length) else { return nil }
        return (first & 0x0F, payload)
    }

    // MARK: The WebSocket request path

    /// Shared by every run: only counters, and a registry is costly to build per input.
    private static let metrics = NodeMetrics()

    /// Installs on `channel` (an `EmbeddedChannel` in the fuzz target and tests) the pipeline a connection
    /// has after the upgrade — NIO's frame decoder and encoder, `RawFrameWriter`, a `WebSocketSession` on a
    /// solo node — behind a checker that traps on any malformed frame the session writes, then feeds
    /// `input` as the bytes the client sent. The caller then runs the loop's pending tasks.
    /// The node has a private-channel secret (`fuzz-secret`) and a 64 KiB message limit.
    public static func _webSocketRequestPath(_ input: UnsafeRawBufferPointer, on channel: any Channel) throws {
        var settings = WebSocketSettings()
        settings.privateChannelSecret = "fuzz-secret"
        settings.maxMessageBytes = 1 << 16
        let ops = channel.pipeline.syncOperations
        let hub = LocalHub(group: channel.eventLoop)
        let api = NodeAPI(hub: hub, cluster: SoloCluster(name: "fuzz"), metrics: metrics, settings: settings, advertisedAddress: "127.0.0.1:58000")
        try ops.addHandler(OutboundFrameChecker())
        let encoder = WebSocketFrameEncoder()
        try ops.addHandler(encoder)
        try ops.addHandler(ByteToMessageHandler(WebSocketFrameDecoder(maxFrameSize: settings.maxMessageBytes)))
        let writer = RawFrameWriter()
        try ops.addHandler(writer, position: .before(encoder))
        let session = WebSocketSession(
            id: 1,
            shard: hub.shard(for: channel.eventLoop),
            hub: hub,
            api: api,
            settings: settings,
            writer: try ops.context(handler: writer)
        )
        try ops.addHandler(session)
        var buffer = channel.allocator.buffer(capacity: input.count)
        buffer.writeBytes(input)
        channel.pipeline.fireChannelRead(buffer)
        channel.pipeline.fireChannelReadComplete()
    }
}

/// Sits next to the socket and checks every frame the session writes: well-formed, and for text frames,
/// one valid JSON text; a close frame carries a valid code.
final class OutboundFrameChecker: ChannelOutboundHandler {
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        var buffer = unwrapOutboundIn(data)
        while buffer.readableBytes > 0 {
            guard let frame = FuzzEntryPoints.readServerFrame(&buffer) else { preconditionFailure("truncated server frame") }
            switch frame.opcode {
            case 0x1:
                let bytes = Array(frame.payload.readableBytesView)
                precondition(UTF8Validation.isValid(bytes), "text frame is not UTF-8")
                FuzzEntryPoints.checkJSON(bytes, "text frame")
            case 0x8:
                precondition(frame.payload.readableBytes >= 2 && frame.payload.readableBytes <= 125, "bad close frame length")
                let code = frame.payload.getInteger(at: frame.payload.readerIndex, as: UInt16.self)!
                precondition(WebSocketSession.isValidCloseCode(code), "invalid close code \(code)")
            case 0x9, 0xA:
                precondition(frame.payload.readableBytes <= 125, "control frame longer than 125 bytes")
            default:
                preconditionFailure("unexpected opcode \(frame.opcode)")
            }
        }
        context.write(data, promise: promise)
    }
}

@available(*, unavailable)
extension OutboundFrameChecker: Sendable {}
