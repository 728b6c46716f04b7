import NIOCore

/// The mesh handshake of one connection, as a pure value type (no I/O, no clock).
///
/// The connection handler feeds it each handshake input and carries out the returned action:
/// - dialer: `helloHeaders()` opens `POST /v1/mesh`; `onHelloResponse` checks the listener's
///   answer and returns the proof frame to send; `onFrame(welcome)` returns `.establish`.
/// - listener: `onHello` checks the request and returns the response headers; `onFrame(proof)`
///   checks the dialer's proof and returns `.establish`.
/// The handler MUST call `onEstablished()` once the mesh accepted the link, and deliver no
/// application frame before (frames of kind >= 16 before that are refused).
struct PeerHandshakeStateMachine: Sendable {
    enum Role: Sendable { case dialer, listener }

    enum State: Sendable {
        /// Dialer: request sent, waiting for the response headers. Listener: waiting for the request.
        case awaitingHello
        /// Dialer: proof sent, waiting for `welcome`. Listener: response sent, waiting for the proof frame.
        case awaitingProof(peer: PeerIdentity)
        case established(peer: PeerIdentity)
        case closed
    }

    enum HelloAction {
        /// Listener: answer the mesh request with these headers and a streaming body.
        case respond(headers: [(String, String)])
        /// Listener: answer with this status and end the stream (malformed or self-dial).
        case reject(status: Int, reason: String)
    }

    enum HelloResponseAction {
        /// Dialer: send this as the first mesh frame (kind `proof`).
        case sendProof(ByteBuffer)
        /// Dialer: the address leads back to this node; close and never redial it.
        case dialedSelf
        /// Dialer: the listener failed the handshake; close and count a refusal.
        case refuse(reason: String)
    }

    enum FrameAction: Equatable {
        /// An application frame on an established link.
        case deliver
        /// The handshake succeeded: register the link (`dialer` is the name of the dialing node).
        case establish(peer: PeerIdentity, dialer: String)
        /// Listener told us it kept another connection to us.
        case duplicate
        /// A mesh-reserved kind we do not know (forward compatibility).
        case ignore
        /// The peer failed authentication or sent frames before it: close and count a refusal.
        case refuse(reason: String)
        /// A frame that makes no sense in this state: close and count a protocol error.
        case protocolError(reason: String)
    }

    let role: Role
    let own: PeerIdentity
    let secret: String?
    let ownNonce: String
    private(set) var state: State = .awaitingHello
    private var dialerNonce = ""
    private var listenerNonce = ""

    init(role: Role, own: PeerIdentity, secret: String?, nonce: String = PeerHandshake.makeNonce()) {
        self.role = role
        self.own = own
        self.secret = secret
        self.ownNonce = nonce
        if role == .dialer { dialerNonce = nonce } else { listenerNonce = nonce }
    }

    /// The peer once known (after the hello exchange), also after close.
    private(set) var peer: PeerIdentity?

    var isEstablished: Bool {
        if case .established = state { return true }
        return false
    }

    // MARK: Dialer

    /// Request headers of the dialer's `POST /v1/mesh`.
    func helloHeaders() -> [(String, String)] {
        [
            (":method", "POST"), (":scheme", "http"), (":path", PeerHandshake.path), (":authority", own.address),
            (PeerHandshake.nodeHeader, own.name), (PeerHandshake.addressHeader, own.address),
            (PeerHandshake.incarnationHeader, String(own.incarnation)), (PeerHandshake.nonceHeader, ownNonce),
        ]
    }

    mutating func onHelloResponse(_ fields: [String: String]) -> HelloResponseAction {
        guard role == .dialer, case .awaitingHello = state else { return .refuse(reason: "unexpected response") }
        if fields[":status"] == "409" { return closing(.dialedSelf) }
        guard fields[":status"] == "200", let peer = Self.identity(from: fields), let nonce = fields[PeerHandshake.nonceHeader] else {
            return closing(.refuse(reason: "bad handshake response (status \(fields[":status"] ?? "none"))"))
        }
        self.peer = peer
        if peer.name == own.name { return closing(.dialedSelf) }
        listenerNonce = nonce
        var proof = ByteBuffer()
        if let secret {
            let expected = PeerHandshake.proof(
                secret: secret, role: "listener", dialerNonce: dialerNonce, listenerNonce: listenerNonce,
                dialerName: own.name, listenerName: peer.name)
            guard PeerHandshake.equal(expected, PeerHandshake.unhex(fields[PeerHandshake.proofHeader] ?? "")) else {
                return closing(.refuse(reason: "listener \(peer) failed to prove the cluster secret"))
            }
            proof.writeBytes(
                PeerHandshake.proof(
                    secret: secret, role: "dialer", dialerNonce: dialerNonce, listenerNonce: listenerNonce,
                    dialerName: own.name, listenerName: peer.name))
        }
        state = .awaitingProof(peer: peer)
        return .sendProof(proof)
    }

    // MARK: Listener

    mutating func onHello(_ fields: [String: String]) -> HelloAction {
        guard role == .listener, case .awaitingHello = state, let peer = Self.identity(from: fields),
            let nonce = fields[PeerHandshake.nonceHeader]
        else { return .reject(status: 400, reason: "bad mesh handshake") }
        if peer.name == own.name { return .reject(status: 409, reason: "dialed itself") }
        self.peer = peer
        dialerNonce = nonce
        var headers = [
            (":status", "200"), (PeerHandshake.nodeHeader, own.name), (PeerHandshake.addressHeader, own.address),
            (PeerHandshake.incarnationHeader, String(own.incarnation)), (PeerHandshake.nonceHeader, listenerNonce),
        ]
        if let secret {
            let proof = PeerHandshake.proof(
                secret: secret, role: "listener", dialerNonce: dialerNonce, listenerNonce: listenerNonce,
                dialerName: peer.name, listenerName: own.name)
            headers.append((PeerHandshake.proofHeader, PeerHandshake.hex(proof)))
        }
        state = .awaitingProof(peer: peer)
        return .respond(headers: headers)
    }

    // MARK: Frames

    mutating func onFrame(kind: UInt8, payload: ByteBuffer) -> FrameAction {
        switch state {
        case .established:
            if kind >= PeerFrame.firstApplicationKind { return .deliver }
            if kind <= PeerHandshake.Kind.duplicate { return closing(.protocolError(reason: "handshake frame \(kind) after the handshake")) }
            return .ignore
        case .awaitingProof(let peer):
            switch role {
            case .listener:
                guard kind == PeerHandshake.Kind.proof else {
                    return closing(.refuse(reason: "frame of kind \(kind) from \(peer) before the handshake"))
                }
                if let secret {
                    let expected = PeerHandshake.proof(
                        secret: secret, role: "dialer", dialerNonce: dialerNonce, listenerNonce: listenerNonce,
                        dialerName: peer.name, listenerName: own.name)
                    guard PeerHandshake.equal(expected, Array(payload.readableBytesView)) else {
                        return closing(.refuse(reason: "dialer \(peer) failed to prove the cluster secret"))
                    }
                }
                return .establish(peer: peer, dialer: peer.name)
            case .dialer:
                if kind == PeerHandshake.Kind.duplicate { return closing(.duplicate) }
                guard kind == PeerHandshake.Kind.welcome else {
                    return closing(.protocolError(reason: "frame of kind \(kind) before welcome"))
                }
                return .establish(peer: peer, dialer: own.name)
            }
        case .awaitingHello, .closed:
            return closing(.protocolError(reason: "mesh frame before the handshake"))
        }
    }

    /// The mesh registered the link.
    mutating func onEstablished() {
        guard case .awaitingProof(let peer) = state else { return }
        state = .established(peer: peer)
    }

    /// The connection closed. Answers whether that is a refusal seen from the listener: the dialer hung up
    /// after the listener proved its secret and before proving its own (it holds another secret, or none).
    @discardableResult
    mutating func onClosed() -> Bool {
        defer { state = .closed }
        guard role == .listener, case .awaitingProof(let peer) = state else { return false }
        return peer.name != own.name
    }

    private mutating func closing<A>(_ action: A) -> A {
        state = .closed
        return action
    }

    static func identity(from fields: [String: String]) -> PeerIdentity? {
        guard let name = fields[PeerHandshake.nodeHeader], !name.isEmpty,
            let address = fields[PeerHandshake.addressHeader],
            let incarnation = fields[PeerHandshake.incarnationHeader].flatMap({ UInt64($0) })
        else { return nil }
        return PeerIdentity(name: name, address: address, incarnation: incarnation)
    }
}
