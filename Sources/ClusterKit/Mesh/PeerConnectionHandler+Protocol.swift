import CNghttp2
import NIOCore

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
            body.writeString(#"{"status":"ok","node":"\#(jsonEscaped(mesh.identity.name))"}"#)
            respond(streamID: streamID, status: 200, body: method == "HEAD" ? ByteBuffer() : body, session: session)
            return
        }
        guard path == PeerHandshake.path, method == "POST" else {
            let authenticated: Bool
            if case .established = state { authenticated = true } else { authenticated = false }
            if settings.clusterSecret != nil && !authenticated {
                refuse("request for \(path) before the peer handshake")
                respond(streamID: streamID, status: 401, body: ByteBuffer(string: #"{"error":"peer handshake required"}"#), session: session)
            } else {
                respond(streamID: streamID, status: 404, body: ByteBuffer(string: #"{"error":"not found"}"#), session: session)
            }
            return
        }
        guard meshStreamID == nil, case .awaitingHello = state, let peer = identity(from: fields), let nonce = fields[PeerHandshake.nonceHeader] else {
            respond(streamID: streamID, status: 400, body: ByteBuffer(string: #"{"error":"bad mesh handshake"}"#), session: session)
            return
        }
        if peer.name == mesh.identity.name {
            respond(streamID: streamID, status: 409, body: ByteBuffer(string: #"{"error":"dialed itself"}"#), session: session)
            return
        }
        meshStreamID = streamID
        dialerNonce = nonce
        listenerNonce = ownNonce
        learnedPeerName = peer.name
        let me = mesh.identity
        var response = [
            (":status", "200"), (PeerHandshake.nodeHeader, me.name), (PeerHandshake.addressHeader, me.address),
            (PeerHandshake.incarnationHeader, String(me.incarnation)), (PeerHandshake.nonceHeader, listenerNonce),
        ]
        if let secret = settings.clusterSecret {
            let proof = PeerHandshake.proof(
                secret: secret, role: "listener", dialerNonce: dialerNonce, listenerNonce: listenerNonce,
                dialerName: peer.name, listenerName: me.name)
            response.append((PeerHandshake.proofHeader, PeerHandshake.hex(proof)))
        }
        do {
            try session.submitResponse(streamID: streamID, headers: response, hasBody: true)
        } catch {
            context.map { fail(context: $0, "\(error)") }
            return
        }
        state = .awaitingProof(peer: peer)
    }

    private func receiveResponse(_ fields: [String: String], session: NghttpSession) {
        guard case .awaitingHello = state else { return }
        if fields[":status"] == "409" {
            dialedSelf = true
            context?.close(promise: nil)
            return
        }
        guard fields[":status"] == "200", let peer = identity(from: fields), let nonce = fields[PeerHandshake.nonceHeader] else {
            refuse("bad handshake response (status \(fields[":status"] ?? "none"))")
            context?.close(promise: nil)
            return
        }
        learnedPeerName = peer.name
        if peer.name == mesh.identity.name {
            dialedSelf = true
            context?.close(promise: nil)
            return
        }
        listenerNonce = nonce
        var proofPayload = ByteBuffer()
        if let secret = settings.clusterSecret {
            let expected = PeerHandshake.proof(
                secret: secret, role: "listener", dialerNonce: dialerNonce, listenerNonce: listenerNonce,
                dialerName: mesh.identity.name, listenerName: peer.name)
            guard PeerHandshake.equal(expected, PeerHandshake.unhex(fields[PeerHandshake.proofHeader] ?? "")) else {
                refuse("listener \(peer) failed to prove the cluster secret")
                context?.close(promise: nil)
                return
            }
            proofPayload.writeBytes(
                PeerHandshake.proof(
                    secret: secret, role: "dialer", dialerNonce: dialerNonce, listenerNonce: listenerNonce,
                    dialerName: mesh.identity.name, listenerName: peer.name))
        }
        state = .awaitingProof(peer: peer)
        sendControl(kind: PeerHandshake.Kind.proof, payload: proofPayload)
    }

    private func identity(from fields: [String: String]) -> PeerIdentity? {
        guard let name = fields[PeerHandshake.nodeHeader], !name.isEmpty,
            let address = fields[PeerHandshake.addressHeader],
            let incarnation = fields[PeerHandshake.incarnationHeader].flatMap({ UInt64($0) })
        else { return nil }
        return PeerIdentity(name: name, address: address, incarnation: incarnation)
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
                if case .established(let link) = state, let delegate {
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
        switch state {
        case .established(let link):
            if frame.kind >= PeerFrame.firstApplicationKind {
                receivedSinceReport &+= 1
                delegate?.peerMesh(mesh, didReceive: frame.kind, payload: frame.payload, from: link.identity)
                return true
            }
            if frame.kind == PeerHandshake.Kind.proof || frame.kind == PeerHandshake.Kind.welcome {
                return protocolError("unexpected handshake frame \(frame.kind)")
            }
            return true  // other reserved kinds: ignored (forward compatibility)
        case .awaitingProof(let peer):
            switch role {
            case .listener:
                guard frame.kind == PeerHandshake.Kind.proof else {
                    refuse("frame of kind \(frame.kind) from \(peer) before the handshake")
                    context?.close(promise: nil)
                    return false
                }
                if let secret = settings.clusterSecret {
                    let expected = PeerHandshake.proof(
                        secret: secret, role: "dialer", dialerNonce: dialerNonce, listenerNonce: listenerNonce,
                        dialerName: peer.name, listenerName: mesh.identity.name)
                    guard PeerHandshake.equal(expected, Array(frame.payload.readableBytesView)) else {
                        refuse("dialer \(peer) failed to prove the cluster secret")
                        context?.close(promise: nil)
                        return false
                    }
                }
                return establish(peer: peer, dialer: peer.name)
            case .dialer:
                if frame.kind == PeerHandshake.Kind.duplicate {
                    refusedAsDuplicate = true
                    context?.close(promise: nil)
                    return false
                }
                guard frame.kind == PeerHandshake.Kind.welcome else {
                    return protocolError("frame of kind \(frame.kind) before welcome")
                }
                return establish(peer: peer, dialer: mesh.identity.name)
            }
        case .awaitingHello, .closed:
            return protocolError("mesh frame before the handshake")
        }
    }

    private func protocolError(_ reason: String) -> Bool {
        mesh.countProtocolError()
        context.map { fail(context: $0, reason) }
        return false
    }

    private func establish(peer: PeerIdentity, dialer: String) -> Bool {
        guard let context else { return false }
        let link = PeerLink(
            identity: peer, dialer: dialer, dialedByUs: role != .listener, maxQueueBytes: settings.maxQueueBytes,
            handler: self, eventLoop: context.eventLoop)
        logger[metadataKey: "cluster/peer"] = "\(peer)"
        guard case .accepted(let delegate) = mesh.register(link) else {
            if role == .listener { sendControl(kind: PeerHandshake.Kind.duplicate, payload: ByteBuffer()) }
            refusedAsDuplicate = true
            logger.debug("duplicate peer connection closed")
            pump()
            context.close(promise: nil)
            return false
        }
        self.delegate = delegate
        state = .established(link)
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
        if case .established(let link) = state { link.recordRTT(.nanoseconds(rtt.nanoseconds)) }
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

private func jsonEscaped(_ s: String) -> String {
    var out = ""
    for c in s.unicodeScalars {
        switch c {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case _ where c.value < 0x20: out += "\\u" + String(repeating: "0", count: 4 - String(c.value, radix: 16).count) + String(c.value, radix: 16)
        default: out.unicodeScalars.append(c)
        }
    }
    return out
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
