import NIOCore
import NIOHTTP1

extension MessagesSourceClient {
    /// A request with the promise for its answer; answers come back in request order (HTTP/1.1).
    struct PendingRequest: Sendable {
        var head: HTTPRequestHead
        var body: ByteBuffer?
        var promise: EventLoopPromise<HTTPResponse>
    }

    /// Writes requests and matches complete responses to them first-in first-out.
    final class ConnectionHandler: ChannelDuplexHandler {
        typealias InboundIn = NIOHTTPClientResponseFull
        typealias OutboundIn = PendingRequest
        typealias OutboundOut = HTTPClientRequestPart

        private var waiting: [EventLoopPromise<HTTPResponse>] = []
        private var head = 0
        private var inactive = false

        func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
            let request = Self.unwrapOutboundIn(data)
            guard !self.inactive, context.channel.isActive else {
                // Nothing was sent: the caller may safely retry on a new connection.
                request.promise.fail(NotSent())
                promise?.fail(NotSent())
                return
            }
            self.waiting.append(request.promise)
            context.write(Self.wrapOutboundOut(.head(request.head)), promise: nil)
            if let body = request.body, body.readableBytes > 0 {
                context.write(Self.wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
            }
            // A failed write (the server reset the connection, maybe after answering 413) closes the
            // connection: a response already read still completes its request, the rest fail in channelInactive.
            let written = context.eventLoop.makePromise(of: Void.self)
            written.futureResult.assumeIsolated().whenFailure { error in
                if self.inactive {
                    request.promise.fail(ClientError.connectionClosed(reason: "request not sent: \(error)"))
                } else {
                    context.close(promise: nil)
                }
            }
            promise.map { written.futureResult.cascade(to: $0) }
            context.write(Self.wrapOutboundOut(.end(nil)), promise: written)
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let full = Self.unwrapInboundIn(data)
            guard self.head < self.waiting.count else {
                context.fireErrorCaught(ClientError.invalidResponse("unsolicited HTTP response \(full.head.status)"))
                return
            }
            let promise = self.waiting[self.head]
            self.head += 1
            if self.head == self.waiting.count {
                self.waiting.removeAll(keepingCapacity: true)
                self.head = 0
            }
            let body = full.body ?? context.channel.allocator.buffer(capacity: 0)
            // Close first, so the caller resumed by `succeed` already sees an inactive connection.
            if !full.head.isKeepAlive {
                context.close(promise: nil)
            }
            promise.succeed(HTTPResponse(status: Int(full.head.status.code), headers: full.head.headers, body: body))
        }

        private func failAll(_ error: ClientError) {
            let pending = self.waiting[self.head...]
            self.waiting = []
            self.head = 0
            for promise in pending { promise.fail(error) }
        }

        func channelInactive(context: ChannelHandlerContext) {
            self.inactive = true
            self.failAll(.connectionClosed(reason: "the server closed the connection"))
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            self.failAll(.invalidResponse("\(error)"))
            context.close(promise: nil)
        }
    }
}

/// A request that never reached the socket because the connection was already closed.
struct NotSent: Error {}

@available(*, unavailable)
extension MessagesSourceClient.ConnectionHandler: Sendable {}
