import NIOCore

/// What a `RequestHeadGuard` enforces: the time and the size the first request head may take.
struct RequestHeadLimits: Sendable {
    /// A connection whose first head is not complete this long after it opened is closed.
    var timeout: TimeAmount
    /// The most bytes the head may take; a longer one is answered 431 and the connection closed.
    var maxBytes = RequestHeadLimits.defaultMaxBytes
    /// Counts a connection closed for its timeout.
    var timedOut: @Sendable () -> Void

    /// 16 KiB, on either HTTP port.
    static let defaultMaxBytes = 16 * 1024
}

/// Sits next to the socket of an HTTP connection until its first request head is complete, then removes
/// itself. A head that does not complete within the timeout (slowloris) closes the connection; one over the
/// size limit gets 431. One scheduled task per connection, only while it is in this state.
final class RequestHeadGuard: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let limits: RequestHeadLimits
    private var scanner: RequestHeadScanner
    private var deadline: Scheduled<Void>?
    private var done = false

    init(limits: RequestHeadLimits) {
        self.limits = limits
        self.scanner = RequestHeadScanner(limit: limits.maxBytes)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        deadline = context.eventLoop.scheduleTask(in: limits.timeout) {
            let (handler, context) = bound.value
            guard !handler.done else { return }
            handler.done = true
            handler.limits.timedOut()
            context.close(promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !done else { return }
        let buffer = unwrapInboundIn(data)
        let verdict = buffer.withUnsafeReadableBytes { scanner.scan($0) }
        switch verdict {
        case .incomplete:
            context.fireChannelRead(data)
        case .complete:
            done = true
            deadline?.cancel()
            deadline = nil
            context.fireChannelRead(data)
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        case .tooLarge:
            done = true
            deadline?.cancel()
            deadline = nil
            Self.answerTooLarge(context: context, limit: limits.maxBytes)
        }
    }

    /// 431 straight onto the socket (the HTTP decoder never saw the head) and close.
    static func answerTooLarge(context: ChannelHandlerContext, limit: Int) {
        let body = #"{"error":"request head over \#(limit) bytes"}"#
        let response = "HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: application/json\r\ncontent-length: \(body.utf8.count)\r\nconnection: close\r\n\r\n\(body)"
        var buffer = context.channel.allocator.buffer(capacity: response.utf8.count)
        buffer.writeString(response)
        let channel = context.channel
        context.writeAndFlush(NIOAny(buffer)).whenComplete { _ in channel.close(promise: nil) }
    }
}

@available(*, unavailable)
extension RequestHeadGuard: Sendable {}
