import CNghttp2
import Logging
import NIOCore

/// Drives one HTTP/2 (h2c, prior knowledge) peer connection: feeds socket bytes to an
/// `NghttpSession`, runs the mesh handshake, carries mesh frames on one long-lived stream
/// (`POST /v1/mesh`: request body = dialer -> listener, response body = listener -> dialer),
/// answers `GET /v1/health`, sends PINGs, and drains on shutdown.
///
/// Every nghttp2 call happens on this channel's event loop. Output is produced in large
/// buffers and flushed once per read burst (`channelReadComplete`) or per send batch.
final class PeerConnectionHandler: ChannelInboundHandler, NghttpSessionDelegate {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    enum Role: Equatable {
        /// We dialed `target` (the address given to `PeerMesh.connect`).
        case dialer(target: String)
        case listener
    }

    let role: Role
    let mesh: PeerMesh
    let settings: PeerMeshSettings
    var logger: Logger
    /// The handshake (pure state machine); the link exists once it is established.
    var handshake: PeerHandshakeStateMachine
    var link: PeerLink?
    var isClosed = false
    var session: NghttpSession?
    var context: ChannelHandlerContext?
    var delegate: (any PeerMeshDelegate)?

    /// The peer's name as learned in the handshake (kept after close, for reconnect bookkeeping).
    var learnedPeerName: String? { handshake.peer?.name }
    var dialedSelf = false
    var refusedAsDuplicate = false
    /// Whether any byte came in yet (the first ones tell a TLS peer of a plaintext node).
    private var receivedAnything = false

    // The mesh stream.
    var meshStreamID: Int32?
    var meshStreamDeferred = false
    var decoder: PeerFrameDecoder
    /// Mesh-reserved frames (proof, welcome) sent ahead of application bytes.
    var controlOut = ByteBuffer()
    /// Application bytes swapped out of the link's queue, not yet handed to nghttp2.
    var localOut = ByteBuffer()
    var consumedSinceReport = 0
    var receivedSinceReport: UInt64 = 0

    /// Fixed response bodies of request/response streams (health, errors), freed on stream close.
    var responseBodies: [Int32: ByteBuffer] = [:]

    // The buffer currently being fed to nghttp2, so DATA chunks can be sliced instead of copied.
    var input: ByteBuffer?
    var inputBase: UnsafeRawPointer?

    // Liveness.
    var pingTask: RepeatedTask?
    var handshakeTimeout: Scheduled<Void>?
    var pingSent: (opaque: UInt64, at: NIODeadline)?
    var pingCounter: UInt64 = 0

    // Shutdown.
    var draining = false
    var goAwaySent = false

    let writeChunk = 256 * 1024
    /// DATA payloads below this are copied into the aggregation buffer; larger ones are written as
    /// slices of the queue buffer.
    static let copyThreshold = 4096
    /// Largest DATA frame on the mesh stream (we announce SETTINGS_MAX_FRAME_SIZE = 1 MiB; nghttp2
    /// clamps this to what the peer allows).
    let maxDataFrame = 1 << 20
    /// The aggregation buffer for frames produced by nghttp2.
    var out = ByteBuffer()
    var wroteSinceFlush = false

    init(role: Role, mesh: PeerMesh, settings: PeerMeshSettings, logger: Logger) {
        self.role = role
        self.mesh = mesh
        self.settings = settings
        self.logger = logger
        self.decoder = PeerFrameDecoder(maxPayloadBytes: settings.maxFrameBytes)
        self.handshake = PeerHandshakeStateMachine(
            role: role == .listener ? .listener : .dialer, own: mesh.identity, secret: settings.clusterSecret)
    }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { start(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context: context)
        context.fireChannelActive()
    }

    func start(context: ChannelHandlerContext) {
        guard session == nil, !isClosed else { return }
        if let remote = context.channel.remoteAddress { logger[metadataKey: "cluster/remote"] = "\(remote)" }
        let session = NghttpSession(role: role == .listener ? .server : .client, delegate: self)
        self.session = session
        mesh.connectionOpened(self, channel: context.channel)
        do {
            try session.submitSettings(initialWindow: settings.streamWindowBytes)
            try session.setConnectionWindow(settings.connectionWindowBytes)
            if case .dialer = role {
                meshStreamID = try session.submitRequest(headers: handshake.helloHeaders(), hasBody: true)
            }
        } catch {
            fail(context: context, "session setup: \(error)")
            return
        }
        let me = NIOLoopBound(self, eventLoop: context.eventLoop)
        handshakeTimeout = context.eventLoop.scheduleTask(in: .nanoseconds(settings.connectTimeout.nanosecondsClamped)) {
            me.value.handshakeTimedOut()
        }
        pump()
    }

    func handshakeTimedOut() {
        guard link == nil, !isClosed else { return }
        logger.warning("peer handshake timed out")
        context?.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let session else { return }
        let buffer = unwrapInboundIn(data)
        if !receivedAnything {
            receivedAnything = true
            if PeerTLSPolicy.looksLikeTLSRecord(buffer.readableBytesView.prefix(3)) {
                mesh.countRefusal()
                logger.warning("peer refused: it speaks TLS and this node does not (every node needs --peer-tls-* or none)")
                context.close(promise: nil)
                return
            }
        }
        input = buffer
        defer {
            input = nil
            inputBase = nil
        }
        do {
            try buffer.withUnsafeReadableBytes { bytes in
                inputBase = bytes.baseAddress.map { UnsafeRawPointer($0) }
                try session.receive(bytes)
            }
        } catch {
            fail(context: context, "\(error)")
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        reportCounters()
        pump()
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { pump() }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        tearDown()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        tearDown()
        self.context = nil
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.debug("peer connection error: \(error)")
        context.close(promise: nil)
    }

    func tearDown() {
        if isClosed { return }
        reportCounters()
        isClosed = true
        if handshake.onClosed() {
            mesh.countRefusal()
            logger.warning("peer refused: the dialer hung up before proving the cluster secret (it holds another one)")
        }
        let link = self.link
        self.link = nil
        link?.close()
        pingTask?.cancel()
        pingTask = nil
        handshakeTimeout?.cancel()
        handshakeTimeout = nil
        responseBodies.removeAll()
        localOut = ByteBuffer()
        controlOut = ByteBuffer()
        session = nil  // nghttp2_session_del: no stream-close callbacks; Swift state freed above.
        mesh.connectionClosed(self, link: link)
    }

    func fail(context: ChannelHandlerContext, _ reason: String) {
        logger.warning("closing peer connection: \(reason)")
        context.close(promise: nil)
    }

    // MARK: Output

    /// Serializes whatever nghttp2 has to send into large buffers and writes them, while the
    /// channel is writable. Called after every read burst, send batch and submission.
    func pump() {
        guard let context, let session else { return }
        wroteSinceFlush = false
        do {
            while context.channel.isWritable {
                let produced = try session.produceOutput(limit: writeChunk)
                flushOut(context: context)
                reportCounters()
                if produced < writeChunk { break }
            }
        } catch {
            fail(context: context, "\(error)")
            return
        }
        if wroteSinceFlush { context.flush() }
        if draining { checkDrained() }
    }

    /// Writes the aggregation buffer (not flushed).
    private func flushOut(context: ChannelHandlerContext) {
        guard out.readableBytes > 0 else { return }
        context.write(wrapOutboundOut(out), promise: nil)
        wroteSinceFlush = true
        out = context.channel.allocator.buffer(capacity: writeChunk)
    }

    func session(_ session: NghttpSession, output bytes: UnsafeRawBufferPointer) {
        out.writeBytes(bytes)
    }

    func session(_ session: NghttpSession, maxDataLengthFor streamID: Int32) -> Int {
        streamID == meshStreamID ? maxDataFrame : 16_384
    }

    /// Emits one DATA frame of the mesh stream: header, control bytes (copied), then application
    /// bytes as slices of the swapped-out queue buffer (not copied).
    func session(_ session: NghttpSession, sendDataFrame header: UnsafeRawBufferPointer, length: Int, streamID: Int32) {
        guard let context else { return }
        out.writeBytes(header)
        var remaining = length
        if controlOut.readableBytes > 0 {
            let n = min(remaining, controlOut.readableBytes)
            var slice = controlOut.readSlice(length: n)!
            out.writeBuffer(&slice)
            remaining -= n
        }
        if remaining > 0 {
            precondition(localOut.readableBytes >= remaining, "mesh stream promised more bytes than it holds")
            consumedSinceReport += remaining
            if remaining < Self.copyThreshold {
                var slice = localOut.readSlice(length: remaining)!
                out.writeBuffer(&slice)
            } else {
                flushOut(context: context)
                context.write(wrapOutboundOut(localOut.readSlice(length: remaining)!), promise: nil)
                wroteSinceFlush = true
            }
        }
    }

    func reportCounters() {
        guard let link else { return }
        if consumedSinceReport > 0 {
            link.consumed(consumedSinceReport)
            consumedSinceReport = 0
        }
        if receivedSinceReport > 0 {
            link.didReceiveFrames(receivedSinceReport)
            receivedSinceReport = 0
        }
    }

    /// The link's queue got bytes (scheduled by `PeerLink.send`).
    func outboundReady() {
        resumeMeshStream()
        pump()
    }

    func resumeMeshStream() {
        guard meshStreamDeferred, let id = meshStreamID, let session else { return }
        meshStreamDeferred = false
        session.resumeBody(streamID: id)
    }

    func sendControl(kind: UInt8, payload: ByteBuffer) {
        PeerFrame.encode(kind: kind, payload: payload, into: &controlOut)
        resumeMeshStream()
    }

    func session(_ session: NghttpSession, readBodyFor streamID: Int32, into buffer: UnsafeMutableRawBufferPointer) -> NghttpSession.BodyRead {
        guard streamID == meshStreamID else {
            guard var body = responseBodies[streamID] else { return .bytes(0, endStream: true) }
            let n = min(body.readableBytes, buffer.count)
            body.readWithUnsafeReadableBytes { src in
                buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: src.prefix(n)))
                return n
            }
            responseBodies[streamID] = body
            return .bytes(n, endStream: body.readableBytes == 0)
        }
        // Mesh stream: promise bytes now, emit them in `sendDataFrame` (no copy through nghttp2).
        var available = controlOut.readableBytes
        if let link {
            if localOut.readableBytes == 0 { _ = link.takePending(into: &localOut) }
            available += localOut.readableBytes
        }
        if available == 0 {
            meshStreamDeferred = true
            return .deferred
        }
        return .noCopy(min(available, buffer.count))
    }

    // MARK: Shutdown

    /// Stops accepting sends, drains what is queued, then sends GOAWAY and closes.
    func beginDrain() {
        guard !draining else { return }
        draining = true
        if let link { link.close() }
        resumeMeshStream()
        pump()
        checkDrained()
    }

    func checkDrained() {
        guard let context, let session, !goAwaySent else { return }
        if let link {
            if link.queuedBytes > 0 || controlOut.readableBytes > 0 || session.wantsWrite { return }
        }
        goAwaySent = true
        session.submitGoAway()
        _ = try? session.produceOutput(limit: writeChunk)
        // Half-close and keep reading until the peer closes (it does on GOAWAY): closing with unread
        // input would make the kernel send RST, and the peer could lose the tail of our data.
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(out)).whenComplete { _ in
            channel.close(mode: .output).whenFailure { _ in channel.close(promise: nil) }
        }
        out = ByteBuffer()
    }

    /// Closes without draining (replaced by a newer connection, or refused).
    func closeNow() {
        guard let context, let session else { return }
        session.submitGoAway()
        pump()
        context.close(promise: nil)
    }

    func pauseReading() { context?.channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in } }
    func resumeReading() { context?.channel.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in } }
}

@available(*, unavailable) extension PeerConnectionHandler: Sendable {}

extension Duration {
    var nanosecondsClamped: Int64 {
        let (s, a) = components
        return s > Int64.max / 1_000_000_000 ? Int64.max : s * 1_000_000_000 + a / 1_000_000_000
    }
}
