import CNghttp2
import NIOCore
import RocketWSProtocol

// MARK: Inbound HTTP/2 events: handshake, health, mesh frames, PING.
extension PeerConnectionHandler {
    func session(_ session: NghttpSession, didReceiveHeaders headers: [(name: String, value: String)], streamID: Int32, endStream: Bool) {
        var fields: [String: String] = [:]
        for (name, value) in headers { fields[name] = value }
        switch role {
        case .listener: receiveRequest(fields, streamID: streamID, session: session)
        case .dialer: if streamID == meshStreamID { receiveResponse(fields, session: session) }
        }
    }

    private func receiveRequest(_ fields: [String: String], streamID: Int32, session: NghttpSession) {
        let path = fields[":path"] ?? ""
        let method = fields[":method"] ?? ""
        if path == PeerHandshake.healthPath && (method == "GET" || method == "HEAD") {
            var body = ByteBuffer()
            body.writeString(#"{"status":"ok","node":"\#(JSONString.escaped(mesh.identity.name))"}"#)
            respond(streamID: streamID, status: 200, body: method == "HEAD" ? ByteBuffer() : body, session: session)
            return
        }
        guard path == PeerHandshake.path, method == "POST" else {
            if settings.clusterSecret != nil && !handshake.isEstablished {
                refuse("request for \(path) before the peer handshake")
                respond(streamID: streamID, status: 401, body: ByteBuffer(string: #"{"error":"peer handshake required"}"#), session: session)
            } else {
                respond(streamID: streamID, status: 404, body: ByteBuffer(string: #"{"error":"not found"}"#), session: session)
            }
            return
        }
        guard meshStreamID == nil else {
            respond(streamID: streamID, status: 400, body: ByteBuffer(string: #"{"error":"mesh stream already open"}"#), session: session)
            return
        }
        switch handshake.onHello(fields) {
        case .reject(let status, let reason):
            logger.debug("mesh handshake rejected: \(reason)")
            respond(streamID: streamID, status: status, body: ByteBuffer(string: #"{"error":"\#(reason)"}"#), session: session)
        case .respond(let headers):
            meshStreamID = streamID
            do {
                try session.submitResponse(streamID: streamID, headers: headers, hasBody: true)
            } catch {
                context.map { fail(context: $0, "\(error)") }
            }
        }
    }

    private func receiveResponse(_ fields: [String: String], session: NghttpSession) {
        switch handshake.onHelloResponse(fields) {
        case .dialedSelf:
            dialedSelf = true
            context?.close(promise: nil)
        case .refuse(let reason):
            refuse(reason)
            context?.close(promise: nil)
        case .sendProof(let proof):
            sendControl(kind: PeerHandshake.Kind.proof, payload: proof)
        }
    }

    private func respond(streamID: Int32, status: Int, body: ByteBuffer, session: NghttpSession) {
        responseBodies[streamID] = body
        let headers = [
            (":status", String(status)), ("content-type", "application/json"), ("content-length", String(body.readableBytes)),
        ]
        do {
            try session.submitResponse(streamID: streamID, headers: headers, hasBody: body.readableBytes > 0)
        } catch {
            responseBodies[streamID] = nil
        }
        if body.readableBytes == 0 { responseBodies[streamID] = nil }
    }

    private func refuse(_ reason: String) {
        mesh.countRefusal()
        logger.warning("peer refused: \(reason)")
    }

    func session(_ session: NghttpSession, didReceiveData chunk: UnsafeRawBufferPointer, streamID: Int32) {
        guard streamID == meshStreamID, chunk.count > 0 else { return }
        // Work on a local decoder: a stored property would pay an exclusivity check per frame.
        var decoder = self.decoder
        self.decoder = PeerFrameDecoder(maxPayloadBytes: 0)
        defer { self.decoder = decoder }
        // Slice the buffer being fed to nghttp2 when the chunk lies inside it (no copy).
        if let input, let base = inputBase, let start = chunk.baseAddress, start >= base,
            start + chunk.count <= base + input.readableBytes
        {
            decoder.append(input.getSlice(at: input.readerIndex + (start - base), length: chunk.count)!)
        } else {
            decoder.append(ByteBuffer(bytes: chunk))
        }
        do {
            while true {
                if let link, let delegate {
                    // Fast path: deliver application frames with no per-frame state lookups.
                    let peer = link.identity
                    let mesh = self.mesh
                    var delivered: UInt64 = 0
                    defer { receivedSinceReport &+= delivered }
                    while let frame = try decoder.next() {
                        if frame.kind >= PeerFrame.firstApplicationKind {
                            delivered &+= 1
                            delegate.peerMesh(mesh, didReceive: frame.kind, payload: frame.payload, from: peer)
                        } else if !receiveFrame(frame) {
                            return
                        }
                    }
                    return
                }
                guard let frame = try decoder.next() else { return }
                if !receiveFrame(frame) { return }
            }
        } catch {
            mesh.countProtocolError()
            context.map { fail(context: $0, "\(error)") }
        }
    }

    /// Returns false when the connection is being closed.
    private func receiveFrame(_ frame: PeerFrame) -> Bool {
        switch handshake.onFrame(kind: frame.kind, payload: frame.payload) {
        case .deliver:
            guard let link else { return false }
            receivedSinceReport &+= 1
            delegate?.peerMesh(mesh, didReceive: frame.kind, payload: frame.payload, from: link.identity)
            return true
        case .ignore:
            return true
        case .establish(let peer, let dialer):
            return establish(peer: peer, dialer: dialer)
        case .duplicate:
            refusedAsDuplicate = true
            context?.close(promise: nil)
            return false
        case .refuse(let reason):
            refuse(reason)
            context?.close(promise: nil)
            return false
        case .protocolError(let reason):
            mesh.countProtocolError()
            context.map { fail(context: $0, reason) }
            return false
        }
    }

    private func establish(peer: PeerIdentity, dialer: String) -> Bool {
        guard let context else { return false }
        let link = PeerLink(
            identity: peer, dialer: dialer, dialedByUs: role != .listener, maxQueueBytes: settings.maxQueueBytes,
            maxFrameBytes: settings.maxFrameBytes, handler: self, eventLoop: context.eventLoop,
            droppedCounter: mesh.droppedFramesCounter(peer: peer.name))
        logger[metadataKey: "cluster/peer"] = "\(peer)"
        guard case .accepted(let delegate) = mesh.register(link) else {
            if role == .listener { sendControl(kind: PeerHandshake.Kind.duplicate, payload: ByteBuffer()) }
            refusedAsDuplicate = true
            logger.debug("duplicate peer connection closed")
            handshake.onClosed()
            pump()
            context.close(promise: nil)
            return false
        }
        self.delegate = delegate
        self.link = link
        handshake.onEstablished()
        handshakeTimeout?.cancel()
        handshakeTimeout = nil
        if role == .listener { sendControl(kind: PeerHandshake.Kind.welcome, payload: ByteBuffer()) }
        startPinging(context: context)
        mesh.announceConnected(link, delegate: delegate)
        return true
    }

    // MARK: Stream and connection events

    func session(_ session: NghttpSession, didReceiveEndStream streamID: Int32) {
        if streamID == meshStreamID { context?.close(promise: nil) }
    }

    func session(_ session: NghttpSession, streamDidClose streamID: Int32, errorCode: UInt32) {
        responseBodies[streamID] = nil
        if streamID == meshStreamID, !draining {
            logger.debug("mesh stream closed (error \(errorCode))")
            context?.close(promise: nil)
        }
    }

    func session(_ session: NghttpSession, didReceiveGoAway errorCode: UInt32) {
        logger.debug("peer sent GOAWAY (error \(errorCode))")
        // Frames before the GOAWAY were already delivered in order; the peer is leaving.
        context?.close(promise: nil)
    }

    func sessionDidReceiveSettings(_ session: NghttpSession) {}

    func session(_ session: NghttpSession, didReceivePingAck opaque: UInt64) {
        guard let sent = pingSent, sent.opaque == opaque else { return }
        pingSent = nil
        let rtt = NIODeadline.now() - sent.at
        link?.recordRTT(.nanoseconds(rtt.nanoseconds))
    }

    private func startPinging(context: ChannelHandlerContext) {
        let interval = TimeAmount.nanoseconds(settings.pingInterval.nanosecondsClamped)
        let timeout = TimeAmount.nanoseconds(settings.pingTimeout.nanosecondsClamped)
        let me = NIOLoopBound(self, eventLoop: context.eventLoop)
        pingTask = context.eventLoop.scheduleRepeatedTask(initialDelay: .zero, delay: interval) { _ in
            me.value.pingTick(timeout: timeout)
        }
    }

    func pingTick(timeout: TimeAmount) {
        guard let session else { return }
        let now = NIODeadline.now()
        if let sent = pingSent {
            if now - sent.at > timeout {
                logger.warning("peer PING unanswered for \(timeout); closing")
                context?.close(promise: nil)
            }
            return
        }
        pingCounter &+= 1
        pingSent = (pingCounter, now)
        session.submitPing(pingCounter)
        if case .dialer = role, session.nextStreamID > settings.rotateAfterStreamID {
            beginDrain()  // rotate before stream ids run out: the mesh redials
        }
        pump()
    }
}

extension PeerHandshake {
    static func unhex(_ s: String) -> [UInt8] {
        var out: [UInt8] = []
        var iterator = s.utf8.makeIterator()
        while let hi = iterator.next(), let lo = iterator.next() {
            guard let h = hexValue(hi), let l = hexValue(lo) else { return [] }
            out.append(h << 4 | l)
        }
        return out
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
