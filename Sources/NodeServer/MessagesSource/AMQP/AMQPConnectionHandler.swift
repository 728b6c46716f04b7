import NIOCore

/// The TCP connection to the broker: hands its events and bytes to the source's consumer, nothing else.
final class AMQPConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let source: AMQPMessagesSource
    private let attempt: UInt64

    init(source: AMQPMessagesSource, attempt: UInt64) {
        self.source = source
        self.attempt = attempt
    }

    func channelActive(context: ChannelHandlerContext) {
        source.transportOpened(context.channel, attempt: attempt)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        source.bytesReceived(unwrapInboundIn(data), attempt: attempt)
    }

    func channelInactive(context: ChannelHandlerContext) {
        source.transportClosed(error: nil, attempt: attempt)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        source.transportError(error, attempt: attempt)
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension AMQPConnectionHandler: Sendable {}
