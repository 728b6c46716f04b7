import NIOCore
import NIOHTTP1

/// What the WebSocket port answers to browsers besides the upgrade: the client module and demo page
/// (`BrowserAsset`) and server-sent events (`SSEStream`).
extension WebSocketServer {
    /// How a plain HTTP request on this port is answered.
    enum PlainRequest {
        case asset(BrowserAsset)
        case sse(SSERequest)
        /// An SSE request refused: the status and the error's text.
        case refused(HTTPResponseStatus, String)
    }

    /// The browser route of `head`, or nil when it is none (then the port's WebSocket-only answers apply).
    func browserRoute(for head: HTTPRequestHead) -> PlainRequest? {
        guard head.method == .GET || head.method == .HEAD, !head.headers["upgrade"].contains(where: { $0.lowercased() == "websocket" }) else {
            return nil
        }
        let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
        if let asset = BrowserAsset.at(path: path) { return .asset(asset) }
        guard path == SSERequest.path else { return nil }
        if let status = originAndLoadRefusal(for: head) {
            return .refused(status, status == .forbidden ? "origin not allowed" : "connection limit reached")
        }
        do {
            let request = try SSERequest(head)
            guard request.channels.count <= settings.maxChannelsPerConnection else {
                return .refused(.badRequest, "at most \(settings.maxChannelsPerConnection) channels per stream")
            }
            return .sse(request)
        } catch {
            return .refused(.badRequest, error.reason)
        }
    }

    /// Turns the connection of `context` (the refusal handler's) into an event stream (with the identity of its
    /// `?token=`, when --token-secret is set): the stream handler, then
    /// the session that subscribes for it, replace the refusal handler.
    func startStream(_ request: SSERequest, origin: String?, identity: ConnectionIdentity?, context: ChannelHandlerContext) throws {
        let ops = context.pipeline.syncOperations
        let stream = SSEStream(
            request: request,
            responseHeaders: SSEStream.headers(origin: settings.allowedOrigins.isEmpty ? (origin == nil ? nil : "*") : origin),
            commentInterval: settings.liveness.pingInterval
        )
        try ops.addHandler(stream, position: .after(context.handler))
        let writer = RawFrameWriter()
        try ops.addHandler(writer, position: .after(stream))
        let session = makeSession(channel: context.channel, writer: try ops.context(handler: writer), pinged: false, identity: identity)
        try ops.addHandler(session, position: .after(writer))
        ops.removeHandler(context: context, promise: nil)
        stream.subscribeAll(session, api: api)
    }
}
