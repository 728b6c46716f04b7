import Logging
import NIOCore
import NIOSSL
import NIOTLS

/// Sits behind the TLS handler of every mesh connection until its handshake is judged: refuses (logs with the
/// peer's address, counts, closes) a connection whose handshake fails or does not agree on ALPN `h2`, following
/// `PeerTLSPolicy`, and takes itself out of the pipeline once a handshake is accepted.
final class PeerTLSGate: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let mesh: PeerMesh
    private var logger: Logger
    private var handshakeDone = false
    private var refused = false

    init(mesh: PeerMesh, logger: Logger) {
        self.mesh = mesh
        self.logger = logger
    }

    func channelActive(context: ChannelHandlerContext) {
        if let remote = context.channel.remoteAddress { logger[metadataKey: "cluster/remote"] = "\(remote)" }
        context.fireChannelActive()
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if let remote = context.channel.remoteAddress { logger[metadataKey: "cluster/remote"] = "\(remote)" }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        context.fireUserInboundEventTriggered(event)
        if case TLSUserEvent.handshakeCompleted(let negotiated) = event {
            handshakeDone = true
            apply(PeerTLSPolicy.onHandshakeCompleted(negotiatedProtocol: negotiated), context: context)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard !handshakeDone else {
            context.fireErrorCaught(error)
            return
        }
        apply(PeerTLSPolicy.onHandshakeError(error), context: context)
    }

    private func apply(_ verdict: PeerTLSPolicy.Verdict, context: ChannelHandlerContext) {
        switch verdict {
        case .accept:
            // Nothing left to judge: later reads and errors go straight to the peer handler.
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        case .refuse(let reason):
            guard !refused else { return }
            refused = true
            mesh.countRefusal()
            logger.warning("peer refused: \(reason)")
            context.close(promise: nil)
        }
    }
}

@available(*, unavailable)
extension PeerTLSGate: Sendable {}
